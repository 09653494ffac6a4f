"""Experiment 6: input normalization when the features' scales differ by ~1000×."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlplab.core import optimizers
from mlplab.core.network import Network
from mlplab.experiments._common import (
    COLORS,
    Claim,
    ExperimentResult,
    Table,
    experiment,
    first_epoch_at_or_below,
    is_monotone,
    new_figure,
    plain_log_ticks,
    subsample,
    timer,
)
from mlplab.train.api import DivergenceError, fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SCALE = 1000.0
"""The second moons feature is multiplied by this."""

NETWORKS = {
    "one neuron [2, 1]": ([2, 1], "tanh", "zeros", (-7.0, 2.0)),
    "tanh [2, 10, 5, 1]": ([2, 10, 5, 1], "tanh", "xavier", (-6.0, 1.0)),
}
"""Label → (layer sizes, hidden activation, init, log10 range of the α grid)."""

MAIN = "one neuron [2, 1]"
"""The network whose cost surface is the notes' picture of elongated contours."""


def _run_arm(
    layers: list[int],
    hidden: str,
    init: str,
    lrs: list[float],
    X: np.ndarray,
    y: np.ndarray,
    std: Any,
    epochs: int,
    target: float,
    seed: int,
) -> tuple[dict[str, Any], dict[float, list[float]]]:
    """Batch GD at every α of the grid; the largest stable α and its epochs to target."""

    def make() -> Network:
        return Network(
            layers, hidden=hidden, init=init, seed=seed, dtype="float64", standardizer=std
        )

    grid: list[dict[str, Any]] = []
    curves: dict[float, list[float]] = {}
    for lr in lrs:
        net = make()
        try:
            hist = fit(net, X, y, optimizer=optimizers.sgd(lr), epochs=epochs, batch_size=None)
            costs = [*hist.history["loss"], net.loss(X, y)]
        except DivergenceError:
            costs = [float(net.loss(X, y)), float("inf")]
        curves[lr] = costs
        grid.append(
            {
                "lr": lr,
                "stable": is_monotone(costs),
                "final_cost": costs[-1],
                "epochs_to_target": first_epoch_at_or_below(costs, target),
            }
        )
    saturated = None
    if len(layers) > 2:  # tanh'(z) < 0.01 (|z| > 3) in layer 1 at the start
        c1 = make().forward_cache(X)[0]
        saturated = float(((1 - c1.A**2) < 0.01).mean())
    stable = [g for g in grid if g["stable"]]
    best = max(stable, key=lambda g: g["lr"]) if stable else None
    result = {
        "grid": grid,
        "largest_stable_lr": best["lr"] if best else None,
        "epochs_to_target": best["epochs_to_target"] if best else None,
        "final_cost": best["final_cost"] if best else None,
        "start_cost": curves[lrs[0]][0],
        "layer1_saturated_at_start": saturated,
        "best_final_cost_any_lr": float(min(g["final_cost"] for g in grid)),
        "curve_at_largest_stable": subsample(curves[best["lr"]]) if best else None,
    }
    return result, curves


@experiment
def normalize(
    *,
    quick: bool = False,
    seed: int = 0,
    epochs: int | None = None,
    target: float = 0.35,
) -> ExperimentResult:
    """The same network trained on raw and on standardized inputs.

    Moons (500 points, noise 0.2) with the second feature multiplied by 1000, so the
    two features' scales differ by ~1000×. Two networks, each with the same initial
    weights in both arms: one sigmoid neuron [2, 1] (logistic regression, whose cost
    surface J(w₁, w₂) is the notes' picture) and [2, 10, 5, 1] with tanh hidden units.
    Batch gradient descent for every α of a half-decade grid. An α is *stable* when J
    never rises from one epoch to the next (batch GD should descend). For each network
    and arm: the largest stable α, and the epochs it needs to reach J ≤ ``target``.

    Parameters
    ----------
    quick : bool, default=False
        300 epochs per run instead of 1000.
    seed : int, default=0
    epochs : int, optional
    target : float, default=0.35
        The target cost (a linear classifier gets to about 0.28 on these moons).

    Returns
    -------
    ExperimentResult
        ``numbers["networks"][label]["raw" | "normalized"]`` with ``largest_stable_lr``,
        ``epochs_to_target`` (None: not reached), ``grid`` (final J per α).
    """
    from mlplab.core.data import Standardizer, load_dataset

    elapsed = timer()
    epochs = (300 if quick else 1000) if epochs is None else int(epochs)
    X, y = load_dataset("moons", n_samples=500, noise=0.2, seed=seed)
    X = X * np.array([1.0, SCALE])
    std = Standardizer().fit(X)
    networks: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[str, dict[float, list[float]]]] = {}
    for label, (layers, hidden, init, (lo, hi)) in NETWORKS.items():
        lrs = [float(10.0**k) for k in np.arange(lo, hi + 0.01, 0.5)]
        networks[label] = {"layer_sizes": layers, "hidden": hidden, "init": init, "lrs": lrs}
        curves[label] = {}
        for arm, s in (("raw", None), ("normalized", std)):
            res, c = _run_arm(layers, hidden, init, lrs, X, y, s, epochs, target, seed)
            networks[label][arm] = res
            curves[label][arm] = c

    def ratio(label: str) -> float | None:
        raw, nrm = networks[label]["raw"], networks[label]["normalized"]
        if raw["largest_stable_lr"] and nrm["largest_stable_lr"]:
            r: float = nrm["largest_stable_lr"] / raw["largest_stable_lr"]
            return r
        return None

    def fewer(label: str) -> bool:
        raw = networks[label]["raw"]["epochs_to_target"]
        nrm = networks[label]["normalized"]["epochs_to_target"]
        return nrm is not None and (raw is None or nrm < raw)

    def epochs_text(e: int | None) -> str:
        return f"{e} epochs" if e is not None else f"not within {epochs} epochs"

    def reach_text(label: str) -> str:
        n = networks[label]
        return (
            f"{label}: normalized {epochs_text(n['normalized']['epochs_to_target'])}, raw "
            f"{epochs_text(n['raw']['epochs_to_target'])}"
        )

    other = next(k for k in NETWORKS if k != MAIN)
    main_ratio, other_ratio = ratio(MAIN), ratio(other)
    sat = networks[other]["raw"]["layer1_saturated_at_start"]
    sat_n = networks[other]["normalized"]["layer1_saturated_at_start"]
    claims = [
        Claim(
            "With normalized inputs the same network reaches the target cost in fewer epochs.",
            all(fewer(k) for k in NETWORKS),
            f"J ≤ {target:g} at each arm's largest stable α — "
            + "; ".join(reach_text(k) for k in NETWORKS)
            + ".",
        ),
        Claim(
            "Normalized inputs allow a much larger learning rate (≥ 100×) before "
            "gradient descent stops descending.",
            main_ratio is not None and main_ratio >= 99.9,
            f"largest stable α for the one-neuron network: normalized "
            f"{networks[MAIN]['normalized']['largest_stable_lr']:.3g}, raw "
            f"{networks[MAIN]['raw']['largest_stable_lr']:.3g} (ratio {main_ratio:.0f}). "
            f"The tanh network: ratio {other_ratio:.0f}, smaller, most likely because the raw "
            f"inputs saturate {100 * sat:.0f} % of its first-layer units, which then pass "
            "little gradient back to the weights of the large feature."
            if main_ratio is not None and other_ratio is not None
            else "a network has no stable α on the grid.",
        ),
    ]
    rows = []
    for label, n in networks.items():
        for arm in ("raw", "normalized"):
            a = n[arm]
            rows.append(
                [
                    label,
                    arm,
                    a["start_cost"],
                    a["largest_stable_lr"],
                    a["epochs_to_target"] if a["epochs_to_target"] is not None else f"> {epochs}",
                    a["final_cost"],
                    a["best_final_cost_any_lr"],
                ]
            )
    table = Table(
        [
            "network",
            "inputs",
            "J at start",
            "largest stable α",
            f"epochs to J ≤ {target:g}",
            f"J after {epochs} epochs",
            "best J at any α",
        ],
        rows,
        caption=f"Half-decade grids of α, {epochs} epochs of batch GD each; epochs and "
        "J after training at the largest stable α.",
    )
    numbers = {
        "scale": SCALE,
        "feature_std": X.std(axis=0).tolist(),
        "epochs": epochs,
        "target": target,
        "networks": networks,
        "lr_ratio": main_ratio,
        "lr_ratio_tanh_network": other_ratio,
    }
    m = networks[MAIN]
    return ExperimentResult(
        name="normalize",
        title="6. Normalizing the inputs",
        claim=(
            "When the input features have very different scales the cost surface is a long, "
            "narrow valley: a learning rate small enough for the steep direction crawls "
            "along the flat one. Normalizing each feature, x ← (x − μ)/σ with μ and σ from "
            "the training set, makes the surface round, so gradient descent can take larger "
            "steps and needs fewer of them."
        ),
        setup=(
            f"Moons (500 points, noise 0.2) with feature 2 multiplied by {SCALE:g} (std "
            f"{X[:, 0].std():.2f} vs {X[:, 1].std():.0f}). Two networks: one sigmoid neuron "
            "[2, 1] from W = 0 (logistic regression: its J(w₁, w₂) is the notes' picture), "
            "and [2, 10, 5, 1] with tanh hidden units (Xavier); binary head, float64; in "
            "each pair of runs the same initial weights, the normalized arm attaching a "
            f"`Standardizer` to the network. Batch gradient descent for {epochs} epochs at "
            "every α of a half-decade grid (1e-7 … 100 for the neuron, 1e-6 … 10 for the "
            "tanh network). An α counts as stable when J never rises between epochs."
        ),
        result=(
            f"One neuron: the largest stable α is {m['normalized']['largest_stable_lr']:.3g} "
            f"with normalized inputs and {m['raw']['largest_stable_lr']:.3g} without "
            f"({main_ratio:.0f}× smaller; the largest curvature of J grows with the feature's "
            f"variance, σ₂² ≈ {X[:, 1].var():.1e}); at "
            f"those rates the normalized neuron reaches J ≤ {target:g} in "
            f"{epochs_text(m['normalized']['epochs_to_target'])}, the raw one "
            f"{epochs_text(m['raw']['epochs_to_target'])}. The tanh network shows the same "
            f"direction (α ratio {other_ratio:.0f}; target: "
            f"{reach_text(other).split(': ', 1)[1]}), with a second cause: the large feature "
            f"drives {100 * sat:.0f} % of its first-layer units into saturation from the "
            f"start (normalized: {100 * sat_n:.0f} %)."
        ),
        claims=claims,
        numbers=numbers,
        tables=[table],
        arrays={"X": X, "y": y, "curves": curves},
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult) -> Figure:
    n = r.numbers
    nets = n["networks"]
    fig = new_figure(13.5, 4.0)
    ax0, ax1, ax2 = fig.subplots(1, 3, width_ratios=[0.75, 1, 1])
    X, y = r.arrays["X"], r.arrays["y"]
    ax0.scatter(X[y == 0, 0], X[y == 0, 1], s=6, c="#1f4e9c", label="y = 0")
    ax0.scatter(X[y == 1, 0], X[y == 1, 1], s=6, c="#b2182b", label="y = 1")
    ax0.set_xlabel("x₁ (scale ~1)")
    ax0.set_ylabel(f"x₂ (scaled ×{n['scale']:g})")
    ax0.set_title("The raw inputs")
    ax0.legend(loc="upper right")

    colors = {"raw": COLORS[1], "normalized": COLORS[0]}
    styles = {MAIN: "-"}
    for label, net in nets.items():
        ls = styles.get(label, "--")
        short = "neuron" if label == MAIN else "tanh net"
        for arm in ("raw", "normalized"):
            a = net[arm]
            lr = a["largest_stable_lr"]
            if lr is None:
                continue
            c = r.arrays["curves"][label][arm][lr]
            ax1.semilogy(
                np.arange(len(c)),
                c,
                ls,
                color=colors[arm],
                lw=2,
                label=f"{short}, {arm}, α={lr:.2g}",
            )
            lrs = np.array([g["lr"] for g in a["grid"]])
            J = np.array([g["final_cost"] for g in a["grid"]], dtype=float)
            J = np.where(np.isfinite(J) & (J < 1e3), J, np.nan)
            ok = np.array([g["stable"] for g in a["grid"]])
            ax2.plot(lrs, J, ls, color=colors[arm], lw=1, alpha=0.7)
            ax2.plot(lrs[ok], J[ok], "o", color=colors[arm], ms=5)
            ax2.plot(lrs[~ok], J[~ok], "x", color=colors[arm], ms=7, mew=2)
            ax2.axvline(lr, color=colors[arm], ls=ls, lw=0.8)
    ax1.axhline(n["target"], color="k", ls=":", lw=1, label=f"target J = {n['target']:g}")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cost J (log scale)")
    ax1.set_title("At each one's largest stable α")
    ax1.legend(fontsize=8)
    plain_log_ticks(ax1)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("learning rate α (log scale)")
    ax2.set_ylabel(f"J after {n['epochs']} epochs (log scale)")
    ax2.set_title("Final J vs α (o: J never rises, x: it rises)")
    ax2.plot([], [], "k-", label="neuron")
    ax2.plot([], [], "k--", label="tanh net")
    ax2.plot([], [], "s", color=colors["raw"], label="raw")
    ax2.plot([], [], "s", color=colors["normalized"], label="normalized")
    ax2.legend(fontsize=8, loc="lower left")
    plain_log_ticks(ax2)
    return fig
