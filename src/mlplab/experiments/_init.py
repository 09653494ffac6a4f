"""Experiment 5: weight initialization on the circles data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from mlplab.core import optimizers
from mlplab.core.network import Network
from mlplab.experiments._common import (
    COLORS,
    Claim,
    ExperimentResult,
    Table,
    decision_grid,
    draw_boundary,
    experiment,
    new_figure,
    subsample,
    timer,
)
from mlplab.train.api import fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INITS = {
    "zeros": "zeros",
    "large: N(0,1)·10": "large",
    "xavier: 1/n": "xavier",
    "he: 2/n": "he",
    "glorot: 2/(n+n')": "glorot",
}
"""Label → initializer name (``initializers``)."""


@experiment
def init(
    *,
    quick: bool = False,
    seed: int = 0,
    lr: float = 0.05,
    epochs: int | None = None,
    n_seeds: int = 5,
) -> ExperimentResult:
    """Zeros vs large random vs Xavier vs He vs Glorot on ``make_circles``.

    300 training / 100 test points (noise 0.05), network [2, 10, 5, 1] with ReLU
    hidden units and the binary head, batch gradient descent with α = ``lr``, float64.
    Each random initializer is run with ``n_seeds`` seeds (the large one in particular
    varies from draw to draw); medians and ranges are reported. A constant start
    W = 0.5 is added to show that symmetry, not zero values, is the problem.

    Parameters
    ----------
    quick : bool, default=False
        1000 epochs instead of 3000.
    seed : int, default=0
        First seed: the data and seeds ``seed, seed + 1, ...``.
    lr : float, default=0.05
    epochs : int, optional
    n_seeds : int, default=5

    Returns
    -------
    ExperimentResult
        ``numbers["runs"][label]``: per-seed ``cost`` curves, ``final_cost``,
        ``train_accuracy``, ``test_accuracy``, ``rows_identical``.
    """
    from mlplab.core.data import load_dataset, train_test_split
    from mlplab.core.initializers import constant

    elapsed = timer()
    epochs = (1000 if quick else 3000) if epochs is None else int(epochs)
    X, y = load_dataset("circles", n_samples=400, noise=0.05, seed=seed)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=100, seed=seed)
    layers = [2, 10, 5, 1]
    chance = float(max(np.mean(y_tr), 1 - np.mean(y_tr)))

    def run(init_name: Any, s: int) -> tuple[dict[str, Any], Any]:
        net = Network(layers, hidden="relu", init=init_name, seed=s, dtype="float64")
        W1_start = net.weights[0].copy()
        hist = fit(net, X_tr, y_tr, optimizer=optimizers.sgd(lr), epochs=epochs, batch_size=None)
        W1 = net.weights[0]
        out = {
            # batch GD: History's loss is J(θ) before each epoch's step; add the last J
            "cost": [*hist.history["loss"], net.loss(X_tr, y_tr)],
            "accuracy": hist.history["accuracy"],
            "final_cost": float(net.loss(X_tr, y_tr)),
            "train_accuracy": float(net.score(X_tr, y_tr)),
            "test_accuracy": float(net.score(X_te, y_te)),
            "rows_identical": bool(np.all(W1[0] == W1)),
            "all_W_zero": bool(all(np.all(W == 0) for W in net.weights)),
            "W1_changed": bool(np.any(W1_start != W1)),
            "n_predicted_classes": int(np.unique(net.predict(X_tr)).size),
        }
        return out, net

    runs: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[str, np.ndarray]] = {}
    nets = {}
    seeds = list(range(seed, seed + n_seeds))
    for label, name in INITS.items():
        per_seed, seed_nets = [], []
        for s in seeds if name != "zeros" else seeds[:1]:
            out, net = run(name, s)
            per_seed.append(out)
            seed_nets.append(net)
        # Draw the typical run: the seed with the median final cost.
        order = np.argsort([r["final_cost"] for r in per_seed])
        typical = int(order[(len(order) - 1) // 2])
        nets[label] = seed_nets[typical]
        curves[label] = {
            "cost": np.array([r.pop("cost") for r in per_seed]),
            "accuracy": np.array([r.pop("accuracy") for r in per_seed]),
        }
        runs[label] = {
            "seeds": seeds if name != "zeros" else seeds[:1],
            "per_seed": per_seed,
            "median_cost_curve": subsample(np.median(curves[label]["cost"], axis=0)),
            "typical_seed": (seeds if name != "zeros" else seeds[:1])[typical],
            **{
                k: [r[k] for r in per_seed]
                for k in ("final_cost", "train_accuracy", "test_accuracy", "rows_identical")
            },
            "start_cost": [float(c[0]) for c in curves[label]["cost"]],
            "median_final_cost": float(np.median([r["final_cost"] for r in per_seed])),
            "mean_final_cost": float(np.mean([r["final_cost"] for r in per_seed])),
            "mean_train_accuracy": float(np.mean([r["train_accuracy"] for r in per_seed])),
            "mean_test_accuracy": float(np.mean([r["test_accuracy"] for r in per_seed])),
        }
    const, _ = run(constant(0.5), seed)
    const_cost = const.pop("cost")
    const.pop("accuracy")
    z = runs["zeros"]["per_seed"][0]
    large, he = runs["large: N(0,1)·10"], runs["he: 2/n"]
    n_stuck = sum(a < 0.95 for a in large["train_accuracy"])
    xav, glo = runs["xavier: 1/n"], runs["glorot: 2/(n+n')"]
    zeros_why = (
        ": every W[l] is still exactly 0 (ReLU'(0) = 0 passes no gradient), only b[L] moved"
        if z["all_W_zero"]
        else ""
    )
    claims = [
        Claim(
            "Zero initialization never breaks the symmetry: the rows of W[1] stay identical "
            "and the accuracy stays at chance.",
            z["rows_identical"]
            and z["n_predicted_classes"] == 1
            and abs(z["train_accuracy"] - chance) < 1e-12,
            f"after {epochs} epochs all 10 rows of W[1] are equal (here: all 0, since "
            f"ReLU'(0) = 0 passes no gradient back), every point gets the same class, "
            f"training accuracy {z['train_accuracy']:.2f} = the majority share {chance:.2f}. "
            f"A constant start W = 0.5 moves W[1] (changed: {const['W1_changed']}) but "
            f"its rows stay identical too (identical: {const['rows_identical']}); "
            f"accuracy {const['train_accuracy']:.2f}.",
        ),
        Claim(
            "Large random weights (N(0, 1)·10) start with a huge cost.",
            min(large["start_cost"]) > 10 * max(he["start_cost"]),
            f"J at epoch 0: {np.median(large['start_cost']):.0f} (median over "
            f"{n_seeds} seeds) vs {np.median(he['start_cost']):.2f} with He.",
        ),
        Claim(
            "… and end clearly worse than He initialization after the same training.",
            large["mean_final_cost"] > 3 * he["mean_final_cost"]
            and large["mean_train_accuracy"] < he["mean_train_accuracy"] - 0.03,
            f"mean final J {large['mean_final_cost']:.3f} vs {he['mean_final_cost']:.4f}; "
            f"mean training accuracy {large['mean_train_accuracy']:.3f} vs "
            f"{he['mean_train_accuracy']:.3f}; {n_stuck} of {n_seeds} large draws stay "
            "below 95 %.",
        ),
        Claim(
            "He initialization reaches at least 95 % training accuracy.",
            min(he["train_accuracy"]) >= 0.95,
            f"training accuracy {', '.join(f'{a:.3f}' for a in he['train_accuracy'])} "
            f"(seeds {seeds[0]}–{seeds[-1]}).",
        ),
    ]
    rows = []
    for label, r in runs.items():
        rows.append(
            [
                label,
                float(np.median(r["start_cost"])),
                r["median_final_cost"],
                r["mean_final_cost"],
                r["mean_train_accuracy"],
                float(min(r["train_accuracy"])),
                r["mean_test_accuracy"],
                all(r["rows_identical"]),
            ]
        )
    rows.append(
        [
            "constant 0.5 (extra)",
            const_cost[0],
            const["final_cost"],
            const["final_cost"],
            const["train_accuracy"],
            const["train_accuracy"],
            const["test_accuracy"],
            const["rows_identical"],
        ]
    )
    table = Table(
        [
            "init",
            "J at start (median)",
            "final J (median)",
            "final J (mean)",
            "train acc. (mean)",
            "train acc. (worst)",
            "test acc. (mean)",
            "W[1] rows identical",
        ],
        rows,
        caption=f"{n_seeds} seeds per random initializer (zeros: one run, it has no randomness).",
    )
    grids = {label: decision_grid(net, X_tr) for label, net in nets.items()}
    numbers = {
        "layer_sizes": layers,
        "lr": lr,
        "epochs": epochs,
        "seeds": seeds,
        "chance": chance,
        "n_train": len(y_tr),
        "n_test": len(y_te),
        "noise": 0.05,
        "runs": runs,
        "constant_0.5": const,
    }
    return ExperimentResult(
        name="init",
        title="5. Initialization: zeros, large, Xavier, He, Glorot",
        claim=(
            "Initializing all weights to zero makes every unit of a layer compute the same "
            "thing forever (symmetry is never broken). Large random weights start far out "
            "on the cost surface (huge J, saturated or exploding signals) and train badly. "
            "Scaling the random weights with the fan-in — Var(W[l]) = 1/n[l−1] (Xavier), "
            "2/n[l−1] (He, for ReLU), 2/(n[l] + n[l−1]) (Glorot, which the notes call He) — "
            "lets a ReLU network train quickly."
        ),
        setup=(
            "scikit-learn's `make_circles` (noise 0.05, factor 0.5): 300 training and 100 "
            f"test points. Network {layers}, ReLU hidden units, binary head, float64; batch "
            f"gradient descent with α = {lr:g} for {epochs} epochs. Each random initializer "
            f"with {n_seeds} seeds ({seeds[0]}–{seeds[-1]}); biases start at 0."
        ),
        result=(
            f"Zeros stays at J = {z['final_cost']:.3f} and {100 * z['train_accuracy']:.0f} % "
            f"accuracy{zeros_why}. Large weights start at J ≈ "
            f"{np.median(large['start_cost']):.0f} and end at a mean J of "
            f"{large['mean_final_cost']:.3f} ({n_stuck} of {n_seeds} draws stuck below 95 % "
            f"training accuracy), against {he['mean_final_cost']:.4f} and "
            f"{100 * he['mean_train_accuracy']:.1f} % with He; Xavier: "
            f"{xav['mean_final_cost']:.4f} and {100 * xav['mean_train_accuracy']:.1f} %, Glorot: "
            f"{glo['mean_final_cost']:.4f} and {100 * glo['mean_train_accuracy']:.1f} %."
        ),
        claims=claims,
        numbers=numbers,
        tables=[table],
        arrays={"grids": grids, "X": X_tr, "y": y_tr, "curves": curves},
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult) -> Figure:
    runs = r.numbers["runs"]
    fig = new_figure(13.0, 7.0)
    # two rows: an array of SubFigures (typed SubFigure | ndarray: one row gives the first)
    top, bottom = cast("np.ndarray", fig.subfigures(2, 1, height_ratios=[1.25, 1]))
    ax1, ax2 = top.subplots(1, 2)
    for i, label in enumerate(runs):
        C = r.arrays["curves"][label]["cost"]
        A = 100 * r.arrays["curves"][label]["accuracy"]
        ep = np.arange(1, C.shape[1] + 1)  # epoch + 1, for the log axis
        ax1.plot(ep, np.median(C, axis=0), color=COLORS[i], lw=2, label=label)
        ax2.plot(ep[: A.shape[1]], np.median(A, axis=0), color=COLORS[i], lw=2, label=label)
        if C.shape[0] > 1:
            ax1.fill_between(ep, C.min(axis=0), C.max(axis=0), color=COLORS[i], alpha=0.12)
            ax2.fill_between(
                ep[: A.shape[1]], A.min(axis=0), A.max(axis=0), color=COLORS[i], alpha=0.08
            )
    ax1.set_yscale("log")
    ax1.set_xscale("log")
    ax1.set_xlabel("epoch + 1 (log scale)")
    ax1.set_ylabel("training cost J (log scale)")
    ax1.set_title("Cost: median over seeds, band = min…max")
    ax1.legend(loc="lower left")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training accuracy (%)")
    ax2.set_ylim(40, 101)
    ax2.axhline(95, color="k", ls=":", lw=1)
    ax2.set_title("Training accuracy (dotted: 95 %)")
    ax2.legend(loc="lower right")
    axes = bottom.subplots(1, len(r.arrays["grids"]))
    for ax, (label, grid) in zip(axes, r.arrays["grids"].items(), strict=True):
        draw_boundary(ax, grid, r.arrays["X"], r.arrays["y"])
        run = runs[label]
        acc = run["train_accuracy"][run["seeds"].index(run["typical_seed"])]
        ax.set_title(
            f"{label}\ntrain acc. {100 * acc:.0f} % (seed {run['typical_seed']})", fontsize=10
        )
    bottom.suptitle("Decision boundaries after training: the median-cost run of each initializer")
    return fig
