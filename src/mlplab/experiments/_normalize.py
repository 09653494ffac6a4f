"""Experiment 6: input normalization when the features' scales differ by ~1000×."""

from __future__ import annotations

from typing import Any

import numpy as np

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

SCALE = 1000.0
"""The second moons feature is multiplied by this."""


@experiment
def normalize(
    *,
    quick: bool = False,
    seed: int = 0,
    epochs: int | None = None,
    target: float = 0.3,
    hidden_sizes: tuple[int, ...] = (10, 5),
) -> ExperimentResult:
    """The same network trained on raw and on standardized inputs.

    Moons (500 points, noise 0.2) with the second feature multiplied by 1000, so the
    two features' scales differ by ~1000×. Network ``[2, *hidden_sizes, 1]``, tanh
    hidden units (Xavier), binary head, float64, the same initial weights in both arms;
    batch gradient descent for every α on a half-decade grid 1e-6 … 10. An α is
    *stable* when J never rises from one epoch to the next (batch GD should descend).
    For each arm: the largest stable α, and the epochs it needs to reach J ≤ ``target``.

    Parameters
    ----------
    quick : bool, default=False
        300 epochs per run instead of 1000.
    seed : int, default=0
    epochs : int, optional
    target : float, default=0.3
        The target cost (about what a linear classifier reaches on moons).
    hidden_sizes : tuple of int, default=(10, 5)

    Returns
    -------
    ExperimentResult
        ``numbers["arms"]["raw" | "normalized"]`` with ``largest_stable_lr``,
        ``epochs_to_target`` (None: not reached), ``grid`` (final J per α).
    """
    import mlplab
    from mlplab.data import Standardizer, load_dataset

    elapsed = timer()
    epochs = (300 if quick else 1000) if epochs is None else int(epochs)
    X, y = load_dataset("moons", n_samples=500, noise=0.2, seed=seed)
    X = X * np.array([1.0, SCALE])
    layers = [2, *hidden_sizes, 1]
    lrs = [float(10.0**k) for k in np.arange(-6.0, 1.01, 0.5)]
    arms: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[float, list[float]]] = {}
    for arm, std in (("raw", None), ("normalized", Standardizer().fit(X))):
        grid = []
        curves[arm] = {}
        for lr in lrs:
            net = mlplab.Network(
                layers, hidden="tanh", seed=seed, dtype="float64", standardizer=std
            )
            try:
                hist = mlplab.fit(
                    net, X, y, optimizer=mlplab.optimizers.sgd(lr), epochs=epochs, batch_size=None
                )
                costs = [*hist.history["loss"], net.loss(X, y)]
            except mlplab.DivergenceError:
                costs = [float(net.loss(X, y)), float("inf")]
            curves[arm][lr] = costs
            grid.append(
                {
                    "lr": lr,
                    "stable": is_monotone(costs),
                    "final_cost": costs[-1],
                    "min_cost": float(np.min(costs)),
                    "epochs_to_target": first_epoch_at_or_below(costs, target),
                }
            )
        # Saturation of layer 1 at the start: tanh'(z) < 0.01 means |z| > 3.
        c1 = mlplab.Network(
            layers, hidden="tanh", seed=seed, dtype="float64", standardizer=std
        ).forward_cache(X)[0]
        saturated = float(((1 - c1.A**2) < 0.01).mean())
        stable = [g for g in grid if g["stable"]]
        best = max(stable, key=lambda g: g["lr"]) if stable else None
        reach_any = [g["epochs_to_target"] for g in grid if g["epochs_to_target"] is not None]
        arms[arm] = {
            "grid": grid,
            "largest_stable_lr": best["lr"] if best else None,
            "epochs_to_target": best["epochs_to_target"] if best else None,
            "final_cost": best["final_cost"] if best else None,
            "start_cost": curves[arm][lrs[0]][0],
            "layer1_saturated_at_start": saturated,
            "best_final_cost_any_lr": float(min(g["final_cost"] for g in grid)),
            "fewest_epochs_any_lr": min(reach_any) if reach_any else None,
            "curve_at_largest_stable": subsample(curves[arm][best["lr"]]) if best else None,
        }
    raw, nrm = arms["raw"], arms["normalized"]
    lr_ratio = (
        nrm["largest_stable_lr"] / raw["largest_stable_lr"]
        if raw["largest_stable_lr"] and nrm["largest_stable_lr"]
        else None
    )
    raw_epochs = raw["epochs_to_target"]
    nrm_epochs = nrm["epochs_to_target"]
    fewer = nrm_epochs is not None and (raw_epochs is None or nrm_epochs < raw_epochs)

    def epochs_text(e: int | None) -> str:
        return f"{e} epochs" if e is not None else f"not within {epochs} epochs"

    claims = [
        Claim(
            "With normalized inputs the network reaches the target cost in fewer epochs.",
            fewer,
            f"J ≤ {target:g} at each arm's largest stable α: normalized "
            f"{epochs_text(nrm_epochs)}, raw {epochs_text(raw_epochs)} (raw never gets there "
            f"at any α of the grid: best final J {raw['best_final_cost_any_lr']:.3f}).",
        ),
        Claim(
            "Normalized inputs allow a much larger learning rate (≥ 100×) before "
            "gradient descent stops descending.",
            lr_ratio is not None and lr_ratio >= 99.9,
            f"largest stable α: normalized {nrm['largest_stable_lr']:.3g}, raw "
            f"{raw['largest_stable_lr']:.3g} (ratio {lr_ratio:.0f})."
            if lr_ratio is not None
            else "one arm has no stable α on the grid.",
        ),
    ]
    table = Table(
        [
            "inputs",
            "J at start",
            "largest stable α",
            f"epochs to J ≤ {target:g}",
            f"J after {epochs} epochs",
            "best J at any α",
        ],
        [
            [
                arm,
                a["start_cost"],
                a["largest_stable_lr"],
                a["epochs_to_target"] if a["epochs_to_target"] is not None else f"> {epochs}",
                a["final_cost"],
                a["best_final_cost_any_lr"],
            ]
            for arm, a in arms.items()
        ],
        caption=f"Half-decade grid of α from 1e-6 to 10, {epochs} epochs of batch GD each.",
    )
    numbers = {
        "layer_sizes": layers,
        "scale": SCALE,
        "feature_std": X.std(axis=0).tolist(),
        "epochs": epochs,
        "target": target,
        "lrs": lrs,
        "arms": arms,
        "lr_ratio": lr_ratio,
    }
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
            f"{X[:, 0].std():.2f} vs {X[:, 1].std():.0f}). Network {layers}, tanh hidden "
            "units (Xavier), binary head, float64, the same initial weights for both arms; "
            "the normalized arm attaches a `Standardizer` to the network. Batch gradient "
            f"descent for {epochs} epochs at every α of a half-decade grid from 1e-6 to 10. "
            "An α counts as stable when J never rises between epochs."
        ),
        result=(
            f"The largest stable α is {nrm['largest_stable_lr']:.3g} with normalized inputs "
            f"and {raw['largest_stable_lr']:.3g} without ({lr_ratio:.0f}× smaller). At those "
            f"rates the normalized network reaches J ≤ {target:g} in "
            f"{epochs_text(nrm_epochs)}; the raw one gets no lower than "
            f"{raw['best_final_cost_any_lr']:.3f} at any α. Two things hold it back: the large "
            "feature makes the valley narrow (hence the small α), and it drives "
            f"{100 * raw['layer1_saturated_at_start']:.0f} % of the first layer's tanh units "
            f"into saturation from the start (normalized: "
            f"{100 * nrm['layer1_saturated_at_start']:.0f} %)."
        ),
        claims=claims,
        numbers=numbers,
        tables=[table],
        arrays={"X": X, "y": y, "curves": curves},
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult):
    n = r.numbers
    arms = n["arms"]
    fig = new_figure(13.0, 3.9)
    ax0, ax1, ax2 = fig.subplots(1, 3, width_ratios=[0.8, 1, 1])
    X, y = r.arrays["X"], r.arrays["y"]
    ax0.scatter(X[y == 0, 0], X[y == 0, 1], s=6, c="#1f4e9c", label="y = 0")
    ax0.scatter(X[y == 1, 0], X[y == 1, 1], s=6, c="#b2182b", label="y = 1")
    ax0.set_xlabel("x₁ (scale ~1)")
    ax0.set_ylabel(f"x₂ (scaled ×{n['scale']:g})")
    ax0.set_title("The raw inputs")
    ax0.legend(loc="upper right")

    colors = {"raw": COLORS[1], "normalized": COLORS[0]}
    for arm, a in arms.items():
        lr = a["largest_stable_lr"]
        if lr is None:
            continue
        c = r.arrays["curves"][arm][lr]
        ax1.semilogy(np.arange(len(c)), c, color=colors[arm], lw=2, label=f"{arm}, α = {lr:.3g}")
    ax1.axhline(n["target"], color="k", ls=":", lw=1, label=f"target J = {n['target']:g}")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cost J (log scale)")
    plain_log_ticks(ax1)
    ax1.set_title("At each one's largest stable α")
    ax1.legend()

    for arm, a in arms.items():
        lrs = np.array([g["lr"] for g in a["grid"]])
        J = np.array([g["final_cost"] for g in a["grid"]], dtype=float)
        J = np.where(np.isfinite(J), J, np.nan)
        ok = np.array([g["stable"] for g in a["grid"]])
        ax2.plot(lrs, J, color=colors[arm], lw=1, alpha=0.6)
        ax2.plot(lrs[ok], J[ok], "o", color=colors[arm], label=f"{arm}: J never rises")
        ax2.plot(lrs[~ok], J[~ok], "x", color=colors[arm], ms=8, mew=2, label=f"{arm}: J rises")
        if a["largest_stable_lr"] is not None:
            ax2.axvline(a["largest_stable_lr"], color=colors[arm], ls="--", lw=1)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("learning rate α (log scale)")
    ax2.set_ylabel(f"J after {n['epochs']} epochs (log scale)")
    plain_log_ticks(ax2)
    ax2.set_title("Final cost vs α (dashed: largest stable α)")
    ax2.legend(fontsize=8)
    return fig
