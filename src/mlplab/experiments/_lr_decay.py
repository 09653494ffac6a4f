"""Experiment 10: learning-rate decay against a constant α on a noisy problem."""

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
from mlplab.train.api import fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _schedules(lr: float, epochs: int, steps: int) -> dict[str, Any]:
    """Label → learning rate (a number or a schedule counted in optimizer steps)."""
    from mlplab.core import schedules as sch

    total = epochs * steps
    return {
        "constant α": lr,
        "step: ×0.3 every E/4": sch.step_decay(lr, max(total // 4, 1), 0.3),
        "exponential: α/100 at the end": sch.exponential_decay(lr, 0.01 ** (1 / epochs), steps),
        "1/t: α/(1 + epoch)": sch.inverse_time_decay(lr, 1.0, steps),
        "cosine to 0": sch.cosine_decay(lr, total),
        "warm-up E/10, then cosine": sch.linear_warmup(
            lr, max(total // 10, 1), after=sch.cosine_decay(lr, total - max(total // 10, 1))
        ),
    }


def _run_all(
    lr: float, epochs: int, n_seeds: int, batch_size: int, seed: int
) -> dict[str, dict[str, Any]]:
    """Every schedule at α₀ = ``lr``: the final J per seed, the mean curve, α per epoch."""
    from mlplab.core import optimizers as opt
    from mlplab.core.data import Standardizer, load_dataset

    n = 300
    steps = -(-n // batch_size)
    runs: dict[str, dict[str, Any]] = {}
    for label, rate in _schedules(lr, epochs, steps).items():
        finals, curves, lrs = [], [], []
        for s in range(n_seeds):
            X, y = load_dataset("moons", n_samples=n, noise=0.3, seed=seed + s)
            X = Standardizer().fit_transform(X)
            net = Network([2, 16, 16, 1], hidden="tanh", seed=seed + s, dtype="float64")
            rec = EpochRecorder(X, y)
            hist = fit(
                net,
                X,
                y,
                optimizer=opt.sgd(rate),
                epochs=epochs,
                batch_size=batch_size,
                seed=seed + s,
                callbacks=[rec],
            )
            finals.append(rec.cost[-1])
            curves.append(rec.cost)
            lrs = hist.history.get("lr", [lr] * epochs)
        runs[label] = {
            "final_cost": float(np.mean(finals)),
            "final_cost_per_seed": finals,
            "curve": np.mean(curves, axis=0).tolist(),
            "lr": [float(a) for a in lrs],
        }
    return runs


def _lower(run: dict[str, Any], const: dict[str, Any]) -> tuple[bool, int]:
    """(mean final J below the constant α's, in how many seeds it is below)."""
    pairs = zip(run["final_cost_per_seed"], const["final_cost_per_seed"], strict=True)
    return run["final_cost"] < const["final_cost"], sum(a < b for a, b in pairs)


@experiment
def lr_decay(
    *,
    quick: bool = False,
    seed: int = 0,
    lr: float = 1.0,
    small_lr: float = 0.3,
    epochs: int | None = None,
    n_seeds: int | None = None,
    batch_size: int = 8,
) -> ExperimentResult:
    """Constant α vs step, exponential, 1/t, cosine and warm-up schedules, same epochs.

    Noisy moons (300 points, noise 0.3, standardized: about 10 % of the labels sit on
    the wrong side), a [2, 16, 16, 1] tanh network, mini-batch gradient descent with
    batches of ``batch_size`` (noisy gradients) and the same α₀ for every schedule: the
    large ``lr`` (the claims), then the smaller ``small_lr``. The cost J on all points
    after each epoch; the final J averaged over ``n_seeds`` seeds (data,
    initialization and shuffles).

    Parameters
    ----------
    quick : bool, default=False
        40 epochs and 2 seeds (instead of 100 and 4).
    seed : int, default=0
    lr, small_lr : float, default=1.0, 0.3
    epochs, n_seeds : int, optional
    batch_size : int, default=8

    Returns
    -------
    ExperimentResult
        ``numbers["runs"][schedule]`` at α₀ = ``lr`` and ``numbers["small"][schedule]``
        at ``small_lr``: ``final_cost`` (mean), per seed, the mean cost curve, α per epoch.
    """
    elapsed = timer()
    epochs = (40 if quick else 100) if epochs is None else int(epochs)
    n_seeds = (2 if quick else 4) if n_seeds is None else int(n_seeds)
    runs = _run_all(lr, epochs, n_seeds, batch_size, seed)
    small = _run_all(small_lr, epochs, n_seeds, batch_size, seed)
    const, const_small = runs["constant α"], small["constant α"]
    claims = []
    for label, run in runs.items():
        if label == "constant α":
            continue
        lower, per_seed = _lower(run, const)
        claims.append(
            Claim(
                f"Decaying α ({label}) reaches a lower final cost than the constant α₀ = "
                f"{lr:g} in the same {epochs} epochs.",
                lower,
                f"final J {run['final_cost']:.4f} vs {const['final_cost']:.4f} (mean of "
                f"{n_seeds} seeds; lower in {per_seed} of {n_seeds}).",
            )
        )
    beaten = [k for k, r in small.items() if k != "constant α" and _lower(r, const_small)[0]]
    claims.append(
        Claim(
            f"The same holds at a smaller α₀ = {small_lr:g}: every schedule ends below the "
            "constant α.",
            len(beaten) == len(small) - 1,
            f"{len(beaten)} of {len(small) - 1} schedules end below the constant α "
            f"(J = {const_small['final_cost']:.4f}): "
            + ", ".join(f"{k} {r['final_cost']:.4f}" for k, r in small.items() if k != "constant α")
            + ". With a small α the gradient noise matters less, and a decaying α mostly "
            "loses progress.",
        )
    )
    table = Table(
        [
            "schedule",
            f"final J, α₀ = {lr:g}",
            "vs constant",
            f"final J, α₀ = {small_lr:g}",
            "vs constant",
            "α in the last epoch",
        ],
        [
            [
                k,
                r["final_cost"],
                r["final_cost"] / const["final_cost"],
                small[k]["final_cost"],
                small[k]["final_cost"] / const_small["final_cost"],
                r["lr"][-1],
            ]
            for k, r in runs.items()
        ],
        caption=f"Mini-batch GD (batches of {batch_size}) on 300 noisy moons, "
        f"[2, 16, 16, 1] tanh, {epochs} epochs, mean of {n_seeds} seeds.",
    )
    held = sum(c.holds for c in claims[:-1])
    best = min(runs, key=lambda k: runs[k]["final_cost"])
    return ExperimentResult(
        name="lr_decay",
        title="10. Learning-rate decay reaches a lower cost than a constant α",
        claim=(
            "With mini-batches the gradient is noisy, so at a constant α the parameters "
            "keep jumping around the minimum; decaying α (step, exponential, "
            "α = α₀/(1 + decay · epoch), cosine, after a linear warm-up) takes smaller "
            "steps at the end and reaches a lower final cost in the same number of epochs."
        ),
        setup=(
            f"300 moons with noise 0.3, [2, 16, 16, 1] tanh network, mini-batch GD with "
            f"batches of {batch_size}, the same α₀ for every schedule (optax-style "
            f"schedules of the step count): α₀ = {lr:g}, then α₀ = {small_lr:g}; "
            f"{epochs} epochs, J on all points after each epoch; mean of {n_seeds} seeds."
        ),
        result=(
            f"At α₀ = {lr:g}, {held} of {len(claims) - 1} schedules end below the constant α "
            f"(J = {const['final_cost']:.4f}); the lowest is {best} "
            f"(J = {runs[best]['final_cost']:.4f}). At α₀ = {small_lr:g} only "
            f"{len(beaten)} of {len(small) - 1} do: the benefit of decay is the noise it "
            "removes, and a small constant α has less of it."
        ),
        claims=claims,
        numbers={
            "runs": runs,
            "small": small,
            "epochs": epochs,
            "lr": lr,
            "small_lr": small_lr,
            "n_seeds": n_seeds,
            "batch_size": batch_size,
        },
        tables=[table],
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult) -> Figure:
    runs = r.numbers["runs"]
    fig = new_figure(12.0, 4.2)
    a, c = fig.subplots(1, 2)
    for i, (label, run) in enumerate(runs.items()):
        e = np.arange(1, len(run["lr"]) + 1)
        a.plot(e, run["lr"], color=COLORS[i % len(COLORS)], lw=1.6, label=label)
        curve = np.asarray(run["curve"])
        c.semilogy(
            np.arange(1, len(curve) + 1), curve, color=COLORS[i % len(COLORS)], lw=1.4, label=label
        )
    a.set_xlabel("epoch")
    a.set_ylabel("α in the epoch's last step")
    a.set_title(f"The schedules, α₀ = {r.numbers['lr']:g}")
    a.legend(fontsize=8)
    c.set_xlabel("epoch")
    c.set_ylabel("cost J on all points (log scale)")
    c.set_title(f"Cost after each epoch, α₀ = {r.numbers['lr']:g} (mean over seeds)")
    return fig
