"""Experiment 9: batch normalization in deep sigmoid and badly initialized networks."""

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
    experiment,
    new_figure,
    timer,
)
from mlplab.train.api import DivergenceError, fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _z_stats(net: Network, X: np.ndarray) -> list[list[float]]:
    """[mean, std] of the input of g (z̃ with batch norm, else z) of every hidden layer,
    over the training set and all units, as training sees it (batch norm with the
    statistics of the batch: here all the points)."""
    from mlplab.core import backprop, layer_options

    norms = layer_options.inference_norms(net)
    _, caches = backprop.forward(net._params, X, net.hidden, norms, training=True)
    return [[float(c.Z.mean()), float(c.Z.std())] for c in caches[:-1]]


def _drift(stats: list[list[list[float]]]) -> list[float]:
    """Per layer: how far its z distribution moved from where it was after epoch 1 —
    max over epochs of |Δmean|/std₁ + |log(std/std₁)|."""
    S = np.asarray(stats)  # (epochs, layers, 2)
    mean, sd = S[:, :, 0], np.maximum(S[:, :, 1], 1e-12)
    moved = np.abs(mean - mean[0]) / sd[0] + np.abs(np.log(sd / sd[0]))
    per_layer: list[float] = moved.max(axis=0).tolist()
    return per_layer


def _train(
    cfg: dict[str, Any], bn: bool, X: np.ndarray, y: np.ndarray, epochs: int, seed: int
) -> dict[str, Any]:
    from mlplab.core import optimizers as opt

    net = Network(
        cfg["sizes"], hidden=cfg["act"], init=cfg["init"], batch_norm=bn, seed=seed, dtype="float64"
    )
    J0 = float(net.loss(X, y))
    rec = EpochRecorder(X, y, extra=lambda n: _z_stats(n, X))
    diverged = False
    try:
        fit(
            net,
            X,
            y,
            optimizer=opt.momentum(cfg["lr"], 0.9),
            epochs=epochs,
            batch_size=32,
            seed=seed,
            callbacks=[rec],
        )
    except DivergenceError:
        diverged = True
    cost = [J0, *rec.cost]
    return {
        "cost": cost,
        "final_cost": cost[-1] if not diverged else None,
        "accuracy": float(net.score(X, y)) if not diverged else None,
        "diverged": diverged,
        "z_stats": rec.extras,
        "drift": _drift(rec.extras) if len(rec.extras) > 1 else None,
    }


@experiment
def batchnorm(
    *,
    quick: bool = False,
    seed: int = 0,
    depth: int = 10,
    width: int | None = None,
    epochs: int | None = None,
) -> ExperimentResult:
    """Plain vs batch-normalized deep networks: sigmoid (Xavier) and ReLU with N(0, 1).

    ``depth`` hidden layers of ``width`` units on the circles data (500 points, noise
    0.1, standardized), binary head; momentum (the lecture's form, β = 0.9) with
    mini-batches of 32 and the same α for the plain and the normalized network. After
    every epoch: J on all points, and the mean and standard deviation of each hidden
    layer's activation input (z̃ with batch norm, z without) over all points and units,
    with the batch statistics of all points (as training sees them). A third pair,
    ReLU with He weights, trains with and without batch norm: there the drift of the z
    distributions can be compared.

    Parameters
    ----------
    quick : bool, default=False
        Width 16 and 40 epochs (instead of 32 and 100).
    seed : int, default=0
    depth : int, default=10
    width, epochs : int, optional

    Returns
    -------
    ExperimentResult
        ``numbers["runs"][config][plain|batch norm]``: the cost curve, final cost,
        accuracy, whether it diverged, the per-layer z statistics and their drift.
    """
    from mlplab.core.data import Standardizer, load_dataset

    elapsed = timer()
    width = (16 if quick else 32) if width is None else int(width)
    epochs = (40 if quick else 100) if epochs is None else int(epochs)
    X, y = load_dataset("circles", n_samples=500, noise=0.1, seed=seed)
    X = Standardizer().fit_transform(X)
    sizes = [2, *([width] * depth), 1]
    choices = {
        f"sigmoid, Xavier, {depth} layers": ("sigmoid", "xavier", 0.5),
        f"ReLU, N(0, 1), {depth} layers": ("relu", "normal", 0.05),
        f"ReLU, He, {depth} layers": ("relu", "he", 0.05),
    }
    configs = {
        k: {"sizes": sizes, "act": a, "init": i, "lr": lr} for k, (a, i, lr) in choices.items()
    }
    runs = {
        name: {
            label: _train(cfg, bn, X, y, epochs, seed)
            for label, bn in (("plain", False), ("batch norm", True))
        }
        for name, cfg in configs.items()
    }
    J0 = float(np.log(2))
    sig, relu, he = runs.values()

    def trained(r: dict[str, Any]) -> bool:
        return r["final_cost"] is not None and r["final_cost"] < 0.5 * J0

    def stalled(r: dict[str, Any]) -> bool:
        return r["final_cost"] is None or r["final_cost"] > 0.9 * J0

    def show(r: dict[str, Any]) -> str:
        return "diverged" if r["diverged"] else f"J = {r['final_cost']:.3f}"

    bn_drift = max(max(r["batch norm"]["drift"]) for r in runs.values())
    he_plain, he_bn = max(he["plain"]["drift"]), max(he["batch norm"]["drift"])
    sig_bn = max(sig["batch norm"]["drift"])
    claims = [
        Claim(
            f"A {depth}-layer sigmoid network stalls without batch norm (J stays near "
            "ln 2) and trains with it, at the same α.",
            stalled(sig["plain"]) and trained(sig["batch norm"]),
            f"after {epochs} epochs: plain {show(sig['plain'])}, batch norm "
            f"{show(sig['batch norm'])} (ln 2 = {J0:.3f}).",
        ),
        Claim(
            f"A badly initialized (N(0, 1)) {depth}-layer ReLU network fails without batch "
            "norm and trains with it, at the same α.",
            stalled(relu["plain"]) and trained(relu["batch norm"]),
            f"plain {show(relu['plain'])}, batch norm {show(relu['batch norm'])}.",
        ),
        Claim(
            "Batch norm keeps each layer's z distribution steady across training: in every "
            "network, every layer's mean of z̃ moves by less than half its first standard "
            "deviation and its standard deviation by less than a factor e^0.5 "
            "(drift |Δmean|/σ₁ + |log σ/σ₁| < 1).",
            bn_drift < 1.0,
            f"largest drift with batch norm {bn_drift:.2f} (sigmoid {sig_bn:.2f}, ReLU "
            f"N(0, 1) {max(relu['batch norm']['drift']):.2f}, ReLU He {he_bn:.2f}): the "
            "batch statistics fix each unit's ẑ at mean 0 and std 1, so z̃ = γ ⊙ ẑ + β "
            "moves only as fast as γ and β are learned.",
        ),
        Claim(
            f"Where both train (ReLU, He, {depth} layers), the layers' z distributions move "
            "less with batch norm than without.",
            he_bn < he_plain,
            f"largest drift {he_bn:.2f} with batch norm, {he_plain:.2f} without "
            f"(final J {show(he['batch norm'])} and {show(he['plain'])}).",
        ),
    ]
    rows = []
    for name, pair in runs.items():
        for label, r in pair.items():
            drift = max(r["drift"]) if r["drift"] else None
            rows.append([name, label, r["final_cost"], r["accuracy"], drift])
    table = Table(
        ["network", "", "final J", "accuracy", "largest z drift"],
        rows,
        caption=f"{depth} hidden layers × {width} units on circles, {epochs} epochs, "
        "momentum β = 0.9 (α 0.5 sigmoid, 0.05 ReLU), mini-batches of 32.",
    )
    numbers = {
        "runs": runs,
        "depth": depth,
        "width": width,
        "epochs": epochs,
        "ln2": J0,
        "bn_max_drift": bn_drift,
    }
    return ExperimentResult(
        name="batchnorm",
        title="9. Batch normalization trains deep networks the plain ones cannot",
        claim=(
            "Normalizing each hidden layer's z over the mini-batch (z̃ = γ ⊙ (z − μ_B)/σ_B "
            "+ β) lets deep networks train that otherwise stall — many sigmoid layers, or "
            "weights initialized far too large — and keeps the distribution of every "
            "layer's z steady while the layers below it change."
        ),
        setup=(
            f"Circles (500 points), {depth} hidden layers of {width} units: sigmoid with "
            "Xavier weights, and ReLU with N(0, 1) weights (no scaling rule); plain vs "
            "batch norm on every hidden layer, the same initial weights, momentum β = 0.9 "
            f"with mini-batches of 32, {epochs} epochs. The z statistics are measured after "
            "each epoch on all points with the batch statistics, as training sees them "
            "(measured with the running averages instead, the first epochs look unsteady: "
            "the averages still lag behind the batch statistics)."
        ),
        result=(
            f"Sigmoid: plain {show(sig['plain'])}, batch norm {show(sig['batch norm'])}. "
            f"ReLU N(0, 1): plain {show(relu['plain'])}, batch norm "
            f"{show(relu['batch norm'])}. The z distributions: largest drift "
            f"{bn_drift:.2f} with batch norm (ReLU, He: {he_bn:.2f}, against {he_plain:.2f} "
            "without). Batch norm is no free win where the plain network already trains: "
            f"with He weights the plain network ends at {show(he['plain'])}, the normalized "
            f"one at {show(he['batch norm'])}."
        ),
        claims=claims,
        numbers=numbers,
        tables=[table],
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult) -> Figure:
    runs = r.numbers["runs"]
    fig = new_figure(12.0, 4.2)
    ax, zs = fig.subplots(1, 2)
    for i, (name, pair) in enumerate(runs.items()):
        for label, style in (("plain", "--"), ("batch norm", "-")):
            cost = np.asarray(pair[label]["cost"], dtype=float)
            ax.plot(
                np.arange(len(cost)), cost, style, color=COLORS[i], lw=1.6, label=f"{name}: {label}"
            )
    ax.axhline(r.numbers["ln2"], color="0.6", lw=0.8, ls=":")
    ax.set_ylim(0, 1.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost J")
    ax.set_title("Training cost (dotted: ln 2, a constant prediction)")
    ax.legend(fontsize=8)
    name = list(runs)[-1]  # ReLU, He: both train, so both drifts mean something
    for label, style in (("plain", "--"), ("batch norm", "-")):
        S = np.asarray(runs[name][label]["z_stats"])
        if S.size == 0:
            continue
        for l in range(S.shape[1]):
            zs.plot(
                np.arange(1, S.shape[0] + 1),
                S[:, l, 1],
                style,
                color=COLORS[l % len(COLORS)],
                lw=1.1,
            )
    zs.set_yscale("log")
    zs.set_xlabel("epoch")
    zs.set_ylabel("std of z[l] (log scale)")
    zs.set_title(f"{name}: std of each layer's z — dashed plain, solid batch norm")
    return fig
