"""Experiment 7: batch GD, mini-batch GD, momentum and Adam on the moons data."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

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
    first_epoch_at_or_below,
    new_figure,
    plain_log_ticks,
    timer,
)
from mlplab.train.api import DivergenceError, fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _methods(lr: float, beta: float) -> dict[str, tuple[Callable[[], Any], int | None]]:
    """Label → (optimizer factory, batch size); None is the whole training set."""
    from mlplab.core import optimizers as opt

    return {
        "batch GD": (lambda: opt.sgd(lr), None),
        "mini-batch GD": (lambda: opt.sgd(lr), 32),
        "momentum (lecture)": (lambda: opt.momentum(lr, beta), 32),
        # PyTorch/Keras write u = βu + dW, W -= αu; that is the lecture's form run with
        # α/(1 − β) (the equivalence is pinned in mlplab's optimizer tests).
        "momentum (PyTorch form)": (lambda: opt.momentum(lr / (1 - beta), beta), 32),
        "Adam": (lambda: opt.adam(lr), 32),
    }


@experiment
def optimizers(
    *,
    quick: bool = False,
    seed: int = 0,
    lr: float = 0.1,
    beta: float = 0.9,
    epochs: int | None = None,
    target: float = 0.2,
    sweep: tuple[float, ...] | None = None,
) -> ExperimentResult:
    """Batch GD vs mini-batch GD vs momentum vs Adam at the same α on ``make_moons``.

    Moons (500 points, noise 0.2, standardized), network [2, 5, 2, 1] with tanh hidden
    units (Xavier), binary head, the same initial weights for every method. Mini-batches
    of 32 with the same shuffles. After each epoch: J on all samples and the cumulative
    training time. Besides the lecture's momentum v = βv + (1 − β)dW, W ← W − αv, the
    form used by PyTorch and Keras (u = βu + dW, W ← W − αu) is run at the same α and β.

    Parameters
    ----------
    quick : bool, default=False
        60 epochs and a 4-point α sweep instead of 200 epochs and 7 points.
    seed : int, default=0
    lr : float, default=0.1
        The common α.
    beta : float, default=0.9
        Momentum's β (Adam: β1 = 0.9, β2 = 0.999).
    epochs : int, optional
    target : float, default=0.2
        The target cost for "epochs to reach".
    sweep : tuple of float, optional
        The α values of the sweep.

    Returns
    -------
    ExperimentResult
        ``numbers["runs"][method]``: ``cost`` and ``seconds`` per epoch,
        ``epochs_to_target``, ``seconds_to_target``; ``numbers["sweep"]``.
    """
    from mlplab.core.data import Standardizer, load_dataset

    elapsed = timer()
    epochs = (60 if quick else 200) if epochs is None else int(epochs)
    if sweep is None:
        sweep = (0.03, 0.1, 1.0, 10.0) if quick else (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    X, y = load_dataset("moons", n_samples=500, noise=0.2, seed=seed)
    X = Standardizer().fit_transform(X)
    layers = [2, 5, 2, 1]

    def train(
        factory: Callable[[], Any], batch_size: int | None, n_epochs: int
    ) -> tuple[Network, list[float], list[float]]:
        net = Network(layers, hidden="tanh", seed=seed, dtype="float64")
        J0 = float(net.loss(X, y))
        rec = EpochRecorder(X, y)
        fit(
            net,
            X,
            y,
            optimizer=factory(),
            epochs=n_epochs,
            batch_size=batch_size,
            seed=seed,
            callbacks=[rec],
        )
        return net, [J0, *rec.cost], [0.0, *rec.seconds]

    runs: dict[str, dict[str, Any]] = {}
    nets = {}
    for label, (factory, bs) in _methods(lr, beta).items():
        net, cost, secs = train(factory, bs, epochs)
        e = first_epoch_at_or_below(cost[1:], target)
        runs[label] = {
            "batch_size": bs,
            "cost": cost,
            "seconds": secs,
            "final_cost": cost[-1],
            "accuracy": float(net.score(X, y)),
            "epochs_to_target": e,
            "seconds_to_target": secs[e] if e is not None else None,
            "seconds_per_epoch": secs[-1] / epochs,
        }
        nets[label] = net

    sweep_res: dict[str, dict[str, int | None]] = {}
    for label in _methods(lr, beta):
        sweep_res[label] = {}
        for a in sweep:
            if a == lr:
                sweep_res[label][f"{a:g}"] = runs[label]["epochs_to_target"]
                continue
            factory, bs = _methods(a, beta)[label]
            try:
                _, cost, _ = train(factory, bs, epochs)
                sweep_res[label][f"{a:g}"] = first_epoch_at_or_below(cost[1:], target)
            except DivergenceError:
                sweep_res[label][f"{a:g}"] = None

    def ep(label: str) -> float:
        e = runs[label]["epochs_to_target"]
        return float("inf") if e is None else float(e)

    def ep_text(label: str) -> str:
        e = runs[label]["epochs_to_target"]
        return f"{e}" if e is not None else f"> {epochs}"

    mini, mom, torch_mom, adam, batch = (
        ep("mini-batch GD"),
        ep("momentum (lecture)"),
        ep("momentum (PyTorch form)"),
        ep("Adam"),
        ep("batch GD"),
    )

    def sweep_text(v: int | None) -> str:
        return str(v) if v is not None else f"> {epochs}"

    same_as_gd = [
        f"α = {a}: {sweep_text(sweep_res['momentum (lecture)'][a])} vs "
        f"{sweep_text(sweep_res['mini-batch GD'][a])}"
        for a in sweep_res["mini-batch GD"]
    ]
    steadier = [
        a
        for a, e in sweep_res["momentum (lecture)"].items()
        if e is not None and sweep_res["mini-batch GD"][a] is None
    ]
    both = [
        (m, e)
        for a, e in sweep_res["mini-batch GD"].items()
        if e is not None and (m := sweep_res["momentum (lecture)"][a]) is not None
    ]
    gap = max((abs(m - g) for m, g in both), default=0)
    if steadier:
        stability = (
            "its advantage is stability: at α = "
            f"{', '.join(steadier)} mini-batch GD no longer reaches the target, the "
            "lecture's momentum does."
        )
    else:
        stability = "within this sweep it gains nothing in speed or stability."
    claims = [
        Claim(
            "Adam reaches the target cost in fewer epochs than plain mini-batch GD at the same α.",
            adam < mini,
            f"epochs to J ≤ {target:g} at α = {lr:g}: Adam {ep_text('Adam')}, mini-batch GD "
            f"{ep_text('mini-batch GD')}.",
        ),
        Claim(
            "Momentum (the lecture's form v = βv + (1 − β)dW) reaches the target cost in "
            "fewer epochs than plain mini-batch GD at the same α.",
            mom < mini,
            f"epochs: momentum {ep_text('momentum (lecture)')}, mini-batch GD "
            f"{ep_text('mini-batch GD')}. v is an average of gradients, so at the same α "
            "its steps are as long as GD's once v has warmed up; across the sweep "
            f"(momentum vs GD) {'; '.join(same_as_gd)}. In the PyTorch/Keras form "
            f"(u = βu + dW, steps 1/(1 − β) = {1 / (1 - beta):g}× longer) it needs "
            f"{ep_text('momentum (PyTorch form)')}.",
        ),
        Claim(
            "Momentum in the PyTorch/Keras form u = βu + dW, W ← W − αu reaches the target "
            "in fewer epochs than mini-batch GD at the same α.",
            torch_mom < mini,
            f"epochs: {ep_text('momentum (PyTorch form)')} vs {ep_text('mini-batch GD')}.",
        ),
        Claim(
            "Mini-batch GD needs fewer epochs than batch GD (it takes one step per "
            "mini-batch, not one per epoch).",
            mini < batch,
            f"epochs: {ep_text('mini-batch GD')} vs {ep_text('batch GD')}.",
        ),
    ]
    rows = [
        [
            label,
            "all" if r["batch_size"] is None else r["batch_size"],
            r["cost"][0],
            r["final_cost"],
            r["accuracy"],
            r["epochs_to_target"] if r["epochs_to_target"] is not None else f"> {epochs}",
            r["seconds_to_target"],
            1000 * r["seconds_per_epoch"],
        ]
        for label, r in runs.items()
    ]
    table = Table(
        [
            "method",
            "batch",
            "J at start",
            f"J after {epochs} epochs",
            "accuracy",
            f"epochs to J ≤ {target:g}",
            "seconds to target",
            "ms per epoch",
        ],
        rows,
        caption=f"α = {lr:g} for every method; β = {beta:g}; wall times on the machine "
        "that made this report.",
    )
    table_sweep = Table(
        ["method", *[f"α = {a}" for a in sweep_res["batch GD"]]],
        [
            [label, *[v if v is not None else f"> {epochs}" for v in res.values()]]
            for label, res in sweep_res.items()
        ],
        caption=f"Epochs to reach J ≤ {target:g} for each α.",
    )
    grids = {label: decision_grid(net, X) for label, net in nets.items()}
    numbers = {
        "layer_sizes": layers,
        "lr": lr,
        "beta": beta,
        "epochs": epochs,
        "target": target,
        "runs": runs,
        "sweep": sweep_res,
    }
    return ExperimentResult(
        name="optimizers",
        title="7. Optimizers: batch GD, mini-batch GD, momentum, Adam",
        claim=(
            "Mini-batch gradient descent takes many cheap steps per epoch instead of one "
            "expensive one; momentum smooths the steps with an exponentially weighted "
            "average v = βv + (1 − β)dW; Adam also divides by a running RMS of the gradient. "
            "The notes' expectation: momentum and Adam reach a good cost in fewer epochs "
            "than plain mini-batch GD."
        ),
        setup=(
            "scikit-learn's `make_moons` (500 points, noise 0.2, standardized), network "
            f"{layers} with tanh hidden units (Xavier), binary head, float64; the same "
            f"initial weights and the same shuffles for every method; α = {lr:g} for all, "
            f"β = {beta:g}, mini-batches of 32, {epochs} epochs. J is measured on all "
            "samples after every epoch; time is training time only. The PyTorch/Keras "
            "momentum u = βu + dW, W ← W − αu is run too, as the lecture's form with "
            f"α/(1 − β), to show where the difference comes from; then the α sweep {list(sweep)}."
        ),
        result=(
            f"Epochs to J ≤ {target:g}: Adam {ep_text('Adam')}, PyTorch-form momentum "
            f"{ep_text('momentum (PyTorch form)')}, mini-batch GD {ep_text('mini-batch GD')}, "
            f"lecture momentum {ep_text('momentum (lecture)')}, batch GD "
            f"{ep_text('batch GD')}. Wherever both reach the target in the α sweep, the "
            f"lecture's momentum needs within {gap} epoch{'s' if gap != 1 else ''} of "
            "mini-batch GD: its v averages the gradients instead of summing them, "
            f"so its steps are (1 − β) = {1 - beta:g} times those of the PyTorch/Keras "
            f"form; {stability}"
        ),
        claims=claims,
        numbers=numbers,
        tables=[table, table_sweep],
        arrays={"grids": grids, "X": X, "y": y},
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult) -> Figure:
    n = r.numbers
    runs = n["runs"]
    fig = new_figure(14.0, 7.2)
    # two rows: an array of SubFigures (typed SubFigure | ndarray: one row gives the first)
    top, bottom = cast("np.ndarray", fig.subfigures(2, 1, height_ratios=[1.2, 1]))
    ax1, ax2, ax3 = top.subplots(1, 3)
    # The lecture's momentum runs on top of mini-batch GD: dashed over a wide line.
    styles = {"momentum (lecture)": "--"}
    widths = {"mini-batch GD": 4.0}
    for i, (label, run) in enumerate(runs.items()):
        c = run["cost"]
        ls, lw = styles.get(label, "-"), widths.get(label, 2.0)
        ax1.semilogy(np.arange(len(c)), c, ls, color=COLORS[i], lw=lw, label=label)
        ax2.semilogy(run["seconds"], c, ls, color=COLORS[i], lw=lw, label=label)
    for ax in (ax1, ax2):
        ax.axhline(n["target"], color="k", ls=":", lw=1)
        ax.set_ylabel("cost J on all samples (log scale)")
        plain_log_ticks(ax)
    ax1.set_xlabel("epoch")
    ax1.set_title(f"Cost per epoch (α = {n['lr']:g}; dotted: target)")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("training time (s)")
    ax2.set_title("Cost per second of wall time")

    epochs = n["epochs"]
    for i, (label, res) in enumerate(n["sweep"].items()):
        a = [float(k) for k in res]
        e = [v if v is not None else np.nan for v in res.values()]
        ls, lw = styles.get(label, "-"), widths.get(label, 1.8)
        ax3.plot(a, e, ls, marker="o", color=COLORS[i], lw=lw, label=label)
        missed = [ak for ak, v in zip(a, res.values(), strict=True) if v is None]
        # "not reached" markers stacked above the top, one row per method
        ax3.plot(
            missed, [epochs * (1.2 + 0.12 * i)] * len(missed), "x", color=COLORS[i], ms=7, mew=2
        )
    ax3.set_xscale("log")
    ax3.set_yscale("log")
    ax3.set_xlabel("learning rate α (log scale)")
    ax3.set_ylabel(f"epochs to J ≤ {n['target']:g} (log scale)")
    ax3.set_title(f"α sweep (× at top: not within {epochs})")
    plain_log_ticks(ax3)

    axes = bottom.subplots(1, len(r.arrays["grids"]))
    for ax, (label, grid) in zip(axes, r.arrays["grids"].items(), strict=True):
        draw_boundary(ax, grid, r.arrays["X"], r.arrays["y"])
        ax.set_title(f"{label}\nJ = {runs[label]['final_cost']:.3f}", fontsize=10)
    bottom.suptitle(f"Decision boundaries after {epochs} epochs")
    return fig
