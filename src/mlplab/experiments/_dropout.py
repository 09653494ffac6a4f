"""Experiment 8: dropout on an over-parameterized network and a small noisy dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlplab.core.network import Network
from mlplab.experiments._common import (
    COLORS,
    Claim,
    EpochRecorder,
    ExperimentResult,
    Table,
    decision_grid,
    draw_boundary,
    experiment,
    new_figure,
    timer,
)
from mlplab.train.api import fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _accuracy(net: Network, X: np.ndarray, y: np.ndarray) -> float:
    return float(net.score(X, y))


@experiment
def dropout(
    *,
    quick: bool = False,
    seed: int = 0,
    keeps: tuple[float, ...] = (1.0, 0.8, 0.5),
    n_train: int = 100,
    n_test: int = 1000,
    noise: float = 0.35,
    width: int | None = None,
    epochs: int | None = None,
    n_seeds: int | None = None,
) -> ExperimentResult:
    """Inverted dropout vs none on a [2, W, W, 1] ReLU network and 100 noisy moons.

    ``n_train`` training points of ``make_moons`` with noise ``noise`` (standardized),
    ``n_test`` test points from the same distribution. The network has far more
    parameters than points (W = 192: 37 800 parameters for 100 points). Adam (α = 0.003),
    mini-batches of 20, the same initial weights and shuffles for every keep probability
    p; hidden layers dropped with p in training, nothing dropped at test time. Averages
    over ``n_seeds`` data draws and initializations.

    Parameters
    ----------
    quick : bool, default=False
        W = 96, 120 epochs, 2 seeds (instead of 192, 300, 3).
    seed : int, default=0
    keeps : tuple of float
        The keep probabilities p (1.0: no dropout).
    n_train, n_test : int
    noise : float
    width, epochs, n_seeds : int, optional

    Returns
    -------
    ExperimentResult
        ``numbers["runs"][p]``: train and test cost and accuracy, the gaps, the cost
        curves (mean over seeds).
    """
    from mlplab.core import optimizers as opt
    from mlplab.core.data import Standardizer, load_dataset

    elapsed = timer()
    width = (96 if quick else 192) if width is None else int(width)
    epochs = (120 if quick else 300) if epochs is None else int(epochs)
    n_seeds = (2 if quick else 3) if n_seeds is None else int(n_seeds)
    runs: dict[str, dict[str, Any]] = {}
    grids: dict[str, Any] = {}
    first_data: Any = None
    for keep in keeps:
        acc: dict[str, list[Any]] = {
            k: [] for k in ("J_tr", "J_te", "a_tr", "a_te", "c_tr", "c_te")
        }
        for s in range(n_seeds):
            X, y = load_dataset("moons", n_samples=n_train + n_test, noise=noise, seed=seed + s)
            std = Standardizer().fit(X[:n_train])
            X = std.transform(X)
            X_tr, y_tr, X_te, y_te = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
            net = Network(
                [2, width, width, 1], hidden="relu", keep_prob=keep, seed=seed + s, dtype="float64"
            )
            test = EpochRecorder(X_te, y_te)
            train = EpochRecorder(X_tr, y_tr)
            fit(
                net,
                X_tr,
                y_tr,
                optimizer=opt.adam(0.003),
                epochs=epochs,
                batch_size=20,
                seed=seed + s,
                callbacks=[train, test],
            )
            acc["J_tr"].append(train.cost[-1])
            acc["J_te"].append(test.cost[-1])
            acc["a_tr"].append(_accuracy(net, X_tr, y_tr))
            acc["a_te"].append(_accuracy(net, X_te, y_te))
            acc["c_tr"].append(train.cost)
            acc["c_te"].append(test.cost)
            if s == 0:
                grids[f"{keep:g}"] = decision_grid(net, X_tr)
                first_data = (X_tr, y_tr)
        m = {k: float(np.mean(v)) for k, v in acc.items() if not k.startswith("c_")}
        runs[f"{keep:g}"] = {
            "keep_prob": keep,
            "train_cost": m["J_tr"],
            "test_cost": m["J_te"],
            "train_accuracy": m["a_tr"],
            "test_accuracy": m["a_te"],
            "cost_gap": m["J_te"] - m["J_tr"],
            "accuracy_gap": m["a_tr"] - m["a_te"],
            "cost_gap_per_seed": [a - b for a, b in zip(acc["J_te"], acc["J_tr"], strict=True)],
            "train_curve": np.mean(acc["c_tr"], axis=0).tolist(),
            "test_curve": np.mean(acc["c_te"], axis=0).tolist(),
        }
    none, strong = runs["1"], runs[f"{min(keeps):g}"]
    p = min(keeps)
    claims = [
        Claim(
            f"Dropout (p = {p:g}) narrows the train–test gap of the cost J of an "
            "over-parameterized network on a small noisy dataset.",
            strong["cost_gap"] < none["cost_gap"],
            f"J_test − J_train = {none['cost_gap']:.3f} without dropout, "
            f"{strong['cost_gap']:.3f} with p = {p:g} (mean of {n_seeds} seeds; per seed "
            f"{', '.join(f'{g:.2f}' for g in none['cost_gap_per_seed'])} vs "
            f"{', '.join(f'{g:.2f}' for g in strong['cost_gap_per_seed'])}).",
        ),
        Claim(
            f"Dropout (p = {p:g}) narrows the train–test gap of the accuracy.",
            strong["accuracy_gap"] < none["accuracy_gap"],
            f"train − test accuracy = {100 * none['accuracy_gap']:.1f} points without "
            f"dropout, {100 * strong['accuracy_gap']:.1f} with p = {p:g}.",
        ),
        Claim(
            f"Dropout (p = {p:g}) raises the test accuracy (by at least one point).",
            strong["test_accuracy"] >= none["test_accuracy"] + 0.01,
            f"test accuracy {100 * none['test_accuracy']:.1f} % without dropout, "
            f"{100 * strong['test_accuracy']:.1f} % with p = {p:g}.",
        ),
    ]
    table = Table(
        ["keep p", "train J", "test J", "gap J", "train acc", "test acc", "gap acc (points)"],
        [
            [
                r["keep_prob"],
                r["train_cost"],
                r["test_cost"],
                r["cost_gap"],
                r["train_accuracy"],
                r["test_accuracy"],
                100 * r["accuracy_gap"],
            ]
            for r in runs.values()
        ],
        caption=f"[2, {width}, {width}, 1] ReLU on {n_train} noisy moons, {epochs} epochs, "
        f"mean of {n_seeds} seeds; test on {n_test} points.",
    )
    numbers = {
        "runs": runs,
        "width": width,
        "epochs": epochs,
        "n_seeds": n_seeds,
        "n_train": n_train,
        "n_params": (2 + 1) * width + (width + 1) * width + width + 1,
    }
    return ExperimentResult(
        name="dropout",
        title="8. Dropout narrows the gap between training and test",
        claim=(
            "Inverted dropout (keep each hidden unit with probability p, a[l] ← a[l] ⊙ d/p, "
            "nothing dropped at test time) regularizes: a network with far more parameters "
            "than training points fits the noise of its training set, and dropout narrows "
            "the gap between its training and test cost."
        ),
        setup=(
            f"{n_train} points of noisy moons (noise {noise}), {n_test} test points; "
            f"[2, {width}, {width}, 1] ReLU network ({numbers['n_params']:,} parameters), "
            f"Adam α = 0.003, mini-batches of 20, {epochs} epochs, p ∈ {list(keeps)}; the "
            f"masks come from the trainer's random stream; mean of {n_seeds} seeds."
        ),
        result=(
            f"Without dropout the training cost falls to {none['train_cost']:.3f} while the "
            f"test cost ends at {none['test_cost']:.3f} (gap {none['cost_gap']:.2f}); with "
            f"p = {p:g} the gap is {strong['cost_gap']:.2f} (train {strong['train_cost']:.3f}, "
            f"test {strong['test_cost']:.3f}). Test accuracy: "
            f"{100 * none['test_accuracy']:.1f} % vs {100 * strong['test_accuracy']:.1f} %."
        ),
        claims=claims,
        numbers=numbers,
        tables=[table],
        arrays={"grids": grids, "data": first_data},
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult) -> Figure:
    runs = r.numbers["runs"]
    fig = new_figure(12.0, 4.0)
    ax, b1, b2 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.6, 1, 1]})
    for i, (key, run) in enumerate(runs.items()):
        e = np.arange(1, len(run["train_curve"]) + 1)
        ax.semilogy(e, run["train_curve"], "-", color=COLORS[i], lw=1.4, label=f"p = {key}, train")
        ax.semilogy(e, run["test_curve"], "--", color=COLORS[i], lw=1.6, label=f"p = {key}, test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost J (log scale)")
    ax.set_title("Train (solid) and test (dashed) cost")
    ax.legend(ncol=2, fontsize=8)
    X, y = r.arrays["data"]
    keys = list(runs)
    for axis, key in ((b1, keys[0]), (b2, keys[-1])):
        draw_boundary(axis, r.arrays["grids"][key], X, y)
        axis.set_title(f"p = {key}: test acc {100 * runs[key]['test_accuracy']:.1f} %")
    return fig
