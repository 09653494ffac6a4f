"""Experiment 3: sigmoid vs tanh vs ReLU hidden units on the same data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlplab.core import optimizers
from mlplab.core.network import Network
from mlplab.experiments._common import (
    COLORS,
    Claim,
    EpochRecorder,
    ExperimentResult,
    Table,
    experiment,
    new_figure,
    plain_log_ticks,
    timer,
)
from mlplab.train.api import fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ACTIVATIONS = ("sigmoid", "tanh", "relu")
SATURATED = 0.01
"""A unit is saturated on a sample when g'(z) < 0.01 (σ' ≤ 1/4 everywhere)."""


def unit_stats(net: Any, X: np.ndarray) -> dict[str, float]:
    """Saturation and dead-unit fractions over all hidden layers of ``net`` on X.

    ``saturated``: fraction of (sample, unit) pairs with g'(z) < 0.01 (sigmoid/tanh).
    ``dead``: fraction of hidden units whose output is 0 for every sample (ReLU).
    ``off``: fraction of (sample, unit) pairs with z ≤ 0, where ReLU' = 0.
    """
    caches = net.forward_cache(X)[:-1]  # hidden layers only
    n_entries = sum(c.Z.size for c in caches)
    n_units = sum(c.Z.shape[1] for c in caches)
    sat = sum(
        int((g.derivative(c.Z, c.A) < SATURATED).sum())
        for g, c in zip(net.hidden, caches, strict=True)
    )
    dead = sum(int((c.A <= 0).all(axis=0).sum()) for c in caches)
    off = sum(int((c.Z <= 0).sum()) for c in caches)
    return {"saturated": sat / n_entries, "dead": dead / n_units, "off": off / n_entries}


@experiment
def activations(
    *,
    quick: bool = False,
    seed: int = 0,
    lr: float = 0.1,
    epochs: int | None = None,
    hidden_sizes: tuple[int, ...] = (16, 16, 16),
    batch_size: int = 32,
    n_samples: int = 500,
) -> ExperimentResult:
    """The same network with sigmoid, tanh or ReLU hidden units, trained the same way.

    Moons data (``n_samples`` points, noise 0.2, standardized), network
    ``[2, *hidden_sizes, 1]`` with the binary head, the lecture's default initializer
    for each activation (Xavier 1/n for sigmoid and tanh, He 2/n for ReLU), mini-batch
    gradient descent with the same α and the same shuffles. After every epoch: the cost
    J on all samples, the fraction of saturated units (g'(z) < 0.01), ReLU's dead units
    (0 on every sample); per-layer gradient norms ‖dW[l]‖ averaged over each epoch.

    Parameters
    ----------
    quick : bool, default=False
        100 epochs instead of 300.
    seed : int, default=0
        Seed of the data, the weights and the shuffles.
    lr, epochs, hidden_sizes, batch_size, n_samples
        The training set-up.

    Returns
    -------
    ExperimentResult
        ``numbers["runs"][activation]`` with ``cost``, ``saturated``, ``dead``, ``off``
        (per epoch), ``grad_ratio`` ‖dW[1]‖/‖dW[L]‖ and ``final_cost``.
    """
    from mlplab.core.data import Standardizer, load_dataset
    from mlplab.core.diagnostics import gradient_norms
    from mlplab.train.callbacks import GradientNormLogger

    elapsed = timer()
    epochs = (100 if quick else 300) if epochs is None else int(epochs)
    X, y = load_dataset("moons", n_samples=n_samples, noise=0.2, seed=seed)
    X = Standardizer().fit_transform(X)
    layers = [2, *hidden_sizes, 1]
    L = len(layers) - 1
    runs: dict[str, dict[str, Any]] = {}
    nets = {}
    for act in ACTIVATIONS:
        net = Network(layers, hidden=act, seed=seed, dtype="float64")
        start = unit_stats(net, X)
        J0 = float(net.loss(X, y))
        g0 = gradient_norms(net, X, y)
        rec = EpochRecorder(X, y, extra=lambda n: unit_stats(n, X))
        logger = GradientNormLogger()
        hist = fit(
            net,
            X,
            y,
            optimizer=optimizers.sgd(lr),
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            callbacks=[rec, logger],
        )
        per_epoch = {k: [start[k]] + [e[k] for e in rec.extras] for k in start}
        grad_hist = np.array([hist.history[f"grad_norm/W{l}"] for l in range(1, L + 1)])
        runs[act] = {
            "cost": [J0, *rec.cost],  # J before training, then after each epoch
            "init": net.init[0],
            **per_epoch,
            "grad_norms_init": g0,
            "grad_ratio_init": g0[0] / g0[-1],
            "grad_ratio_mean": float(np.mean(grad_hist[0] / grad_hist[-1])),
            "final_cost": rec.cost[-1],
            "accuracy": float(net.score(X, y)),
        }
        nets[act] = net

    J = {a: runs[a]["final_cost"] for a in ACTIVATIONS}
    ratio = {a: runs[a]["grad_ratio_init"] for a in ACTIVATIONS}
    sig, relu = runs["sigmoid"], runs["relu"]
    claims = [
        Claim(
            "With the same data, α and number of epochs, tanh and ReLU hidden units reach a "
            "lower cost than sigmoid units (σ'(z) ≤ 1/4 shrinks every backpropagated "
            "gradient).",
            J["tanh"] < J["sigmoid"] and J["relu"] < J["sigmoid"],
            f"final J after {epochs} epochs: sigmoid {J['sigmoid']:.3f}, tanh "
            f"{J['tanh']:.3f}, ReLU {J['relu']:.3f}.",
        ),
        Claim(
            "In the sigmoid network the gradient reaching the first layer is much smaller "
            "than at the last layer, compared with tanh and ReLU.",
            ratio["sigmoid"] < ratio["tanh"] and ratio["sigmoid"] < ratio["relu"],
            f"‖dW[1]‖/‖dW[{L}]‖ at initialization: sigmoid {ratio['sigmoid']:.3f}, tanh "
            f"{ratio['tanh']:.3f}, ReLU {ratio['relu']:.3f}.",
        ),
        Claim(
            "ReLU units are off (ReLU'(z) = 0) for a large share of the inputs, yet few are "
            "dead for every input, so gradients still reach every layer.",
            0.2 < relu["off"][-1] < 0.8 and relu["dead"][-1] < 0.1,
            f"after training: {100 * relu['off'][-1]:.0f}% of (sample, unit) pairs off, "
            f"{100 * relu['dead'][-1]:.1f}% of units dead "
            f"({round(relu['dead'][-1] * sum(hidden_sizes))} of {sum(hidden_sizes)}).",
        ),
    ]
    table = Table(
        [
            "hidden g",
            "init",
            "J start",
            f"J after {epochs} epochs",
            "accuracy",
            f"‖dW[1]‖/‖dW[{L}]‖ at start",
            "saturated (g' < 0.01) start → end",
            "dead units start → end",
        ],
        [
            [
                a,
                runs[a]["init"],
                runs[a]["cost"][0],
                runs[a]["final_cost"],
                runs[a]["accuracy"],
                runs[a]["grad_ratio_init"],
                f"{100 * runs[a]['saturated'][0]:.1f}% → {100 * runs[a]['saturated'][-1]:.1f}%",
                f"{100 * runs[a]['dead'][0]:.1f}% → {100 * runs[a]['dead'][-1]:.1f}%",
            ]
            for a in ACTIVATIONS
        ],
    )
    numbers = {
        "layer_sizes": layers,
        "lr": lr,
        "epochs": epochs,
        "batch_size": batch_size,
        "n_samples": n_samples,
        "runs": runs,
    }
    return ExperimentResult(
        name="activations",
        title="3. Activation functions: sigmoid, tanh, ReLU",
        claim=(
            "σ'(z) = σ(z)(1 − σ(z)) is at most 1/4 and vanishes for large |z|; backprop "
            "multiplies by it once per layer, so sigmoid networks pass small gradients "
            "back and learn slowly. tanh (tanh' ≤ 1, centred at 0) and ReLU (ReLU' = 1 for "
            "z > 0) replace the factor a(1 − a) and learn faster. ReLU's risk is the "
            "opposite one: a unit with z ≤ 0 on every input is dead."
        ),
        setup=(
            f"Moons ({n_samples} points, noise 0.2, standardized), network "
            f"{layers} with the binary head, float64; sigmoid and tanh start from Xavier "
            "(1/n), ReLU from He (2/n). Mini-batch gradient descent, batch size "
            f"{batch_size}, α = {lr:g}, {epochs} epochs, identical shuffles. After every "
            "epoch: J on all samples, the fraction of (sample, unit) pairs with "
            "g'(z) < 0.01 (saturation), and the fraction of ReLU units that output 0 on "
            "every sample (dead)."
        ),
        result=(
            f"After {epochs} epochs J is {J['sigmoid']:.3f} with sigmoid units, "
            f"{J['tanh']:.3f} with tanh and {J['relu']:.3f} with ReLU. At the start the "
            f"sigmoid network's first layer gets {ratio['sigmoid']:.2f}× the gradient norm "
            f"of its last (tanh {ratio['tanh']:.2f}×, ReLU {ratio['relu']:.2f}×). "
            f"Saturated sigmoid units stay rare here ({100 * max(sig['saturated']):.1f}% at "
            "most): with normalized inputs and Xavier weights the slowness comes from "
            "σ' ≤ 1/4, not from saturation. ReLU: "
            f"{100 * relu['off'][-1]:.0f}% of unit activations are off at any time, but "
            f"only {100 * relu['dead'][-1]:.1f}% of units are dead."
        ),
        claims=claims,
        numbers=numbers,
        tables=[table],
        arrays={"nets": nets, "X": X, "y": y},
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult) -> Figure:
    runs = r.numbers["runs"]
    fig = new_figure(13.0, 3.9)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    names = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU"}
    for i, a in enumerate(ACTIVATIONS):
        c = runs[a]["cost"]
        ax1.semilogy(np.arange(len(c)), c, color=COLORS[i], lw=2, label=names[a])
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cost J on all samples (log scale)")
    plain_log_ticks(ax1)
    ax1.set_title(f"Learning curves, same α = {r.numbers['lr']:g}")
    ax1.legend()

    for i, a in enumerate(("sigmoid", "tanh")):
        s = 100 * np.asarray(runs[a]["saturated"])
        ax2.plot(np.arange(len(s)), s, color=COLORS[i], lw=2, label=f"{names[a]}: g'(z) < 0.01")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("% of (sample, unit) pairs")
    ax2.set_title("Saturated hidden units")
    top = max(1.0, max(100 * max(runs[a]["saturated"]) for a in ("sigmoid", "tanh")))
    ax2.set_ylim(-0.03 * top, 1.1 * top)  # keeps a curve at 0 % visible
    ax2.legend()

    off = 100 * np.asarray(runs["relu"]["off"])
    dead = 100 * np.asarray(runs["relu"]["dead"])
    ax3.plot(
        np.arange(len(off)), off, color=COLORS[2], lw=2, ls="--", label="off: z ≤ 0 (per sample)"
    )
    ax3.plot(np.arange(len(dead)), dead, color=COLORS[2], lw=2, label="dead: 0 on every sample")
    ax3.set_xlabel("epoch")
    ax3.set_ylabel("%")
    ax3.set_ylim(0, 100)
    ax3.set_title("ReLU units that are off, and dead")
    ax3.legend()
    return fig
