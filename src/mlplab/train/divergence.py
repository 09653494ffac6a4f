"""When a step is not finite: the error that says where and why.

A step whose cost J, gradient or update has a NaN or an infinity is never applied
(:mod:`mlplab.train.step`); the loop raises :class:`DivergenceError`, naming the epoch,
the step, the mini-batch and the first layer whose gradient went non-finite in backprop
order, and which parameters the network keeps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mlplab.core.optimizers import Optimizer
from mlplab.train.step import add_l2, l2_lambda


class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinite cost, gradient or update.

    Attributes
    ----------
    epoch, step : int
        Where it happened, counted from 0 like ``History.epoch`` and ``Trainer.step``:
        ``step`` updates had been applied, and the next one was refused.
    layer : int or None
        The layer l (1-based) whose gradient dW[l], db[l] went non-finite first in
        backprop order (L, L−1, ..., 1), or None if every gradient was finite.
    layers : list of int
        Every layer with a non-finite gradient.
    history : History or None
        The History of the epochs completed before the divergence.
    """

    def __init__(
        self,
        message: str,
        epoch: int,
        step: int,
        layer: int | None,
        layers: Sequence[int] = (),
        history: Any = None,
    ) -> None:
        super().__init__(message)
        self.epoch, self.step, self.layer = epoch, step, layer
        self.layers = list(layers)
        self.history = history


def divergence_message(
    net: Any, grads: list[Any], optimizer: Optimizer, J: float, kept: str
) -> tuple[str, int | None, list[int]]:
    """What went non-finite: (message part, first bad layer, every bad layer)."""
    xp = net._xp
    bad = [
        l + 1
        for l, g in enumerate(grads)
        if not (bool(xp.all(xp.isfinite(g.W))) and bool(xp.all(xp.isfinite(g.b))))
    ]
    # Backprop runs from layer L down to 1, so the highest bad layer went first.
    first = max(bad) if bad else None
    parts = []
    if not math.isfinite(J):
        parts.append(f"the cost J became {J}")
    if first is not None:
        others = f" (non-finite in layers {sorted(bad, reverse=True)})" if len(bad) > 1 else ""
        parts.append(f"the gradient first went non-finite in layer {first} of L={net.L}{others}")
    if not parts:
        parts.append(
            f"the {optimizer.name} update (or θ plus it) became non-finite although "
            "J and the gradients are finite"
        )
    return f"{' and '.join(parts)}; {kept}", first, sorted(bad, reverse=True)


def diverged(trainer: Any, run: Any, J: float, batch: int, n_batches: int) -> DivergenceError:
    """The error for a non-finite J, gradient or update (the step was not applied)."""
    best = trainer.state.best
    if run.monitor is not None and best is not None:
        kept = f"the network keeps the parameters of its best epoch ({best[1]})"
    else:
        kept = f"the network keeps the last finite parameters (after step {trainer.step})"
        if not bool(trainer.net._xp.all(trainer.net._xp.isfinite(trainer.net._theta))):
            kept = "the parameters themselves overflowed"
    what, first, bad = divergence_message(trainer.net, trainer.grads, trainer.optimizer, J, kept)
    where = "" if n_batches == 1 else f" (mini-batch {batch} of {n_batches} in the epoch)"
    return DivergenceError(
        f"training diverged at epoch {trainer.epoch}, step {trainer.step}{where}: {what}. "
        "Likely causes: a learning rate too high, or inputs that are not normalized "
        "(attach a Standardizer).",
        trainer.epoch,
        trainer.step,
        first,
        bad,
        trainer.history,
    )


def diverged_on_device(
    trainer: Any, run: Any, epoch_start_step: int, batches: Sequence[Any]
) -> DivergenceError:
    """The error for a step that the device found non-finite (read at the epoch's end).

    θ and the optimizer's arrays were left at the last finite step (GuardedStep);
    the step counters are put back there, and that batch's J and gradients are
    computed again from those parameters, so that the message names the same cause
    and layer as the NumPy loop's.
    """
    guard = run.stepper.guard
    trainer.step = run.first_step + int(guard.applied)
    b = trainer.step - epoch_start_step  # the first non-finite batch of this epoch
    state = trainer.opt_state
    if hasattr(state, "_replace") and isinstance(getattr(state, "count", None), int):
        # The built-in states count every update() call; the skipped ones did not happen.
        trainer.opt_state = state._replace(count=state.count - (len(batches) - b))
    w, w_total = trainer._weights  # the same batch, weights and λ as the step that failed
    J, _, _ = trainer.gradient(run.X, run.Y, run.labels, batches[b].rows, w)
    if trainer.net.l2:
        lam = l2_lambda(trainer.net, run.plan.n_global, w_total)
        J = add_l2(trainer.net, trainer.grads, J, batches[b].size, lam)
    return diverged(trainer, run, float(J), b, len(batches))
