r"""The learning rate a run uses: its schedule, the plateau factor, and the ``lr`` log.

An optimizer's α may be a schedule α_t (:mod:`mlplab.core.schedules`): it lives in the
optimizer and needs nothing from the loop. :class:`~mlplab.train.callbacks.ReduceLROnPlateau`
instead decides during training: it multiplies every α by a factor kept in the run's
state (``TrainState.lr_scale``, saved by checkpoints). The step then runs
``optimizers.scale_learning_rate(optimizer, lr_scale)``: the same equations with α
scaled (the fast kernels of the built-in optimizers still apply), and the same state.
"""

from __future__ import annotations

from typing import Any

from mlplab.core import optimizers as _opt
from mlplab.core.schedules import Schedule
from mlplab.fast.step import CheckedStep


def _has_schedule(opt: Any) -> bool:
    keywords = getattr(opt.update, "keywords", None) or {}
    if "inner" in keywords:
        return _has_schedule(keywords["inner"])
    return isinstance(keywords.get("lr"), Schedule)


def attach(trainer: Any, stepper: Any) -> None:
    """At the start of a fit: the step takes α × ``lr_scale`` (restored from a checkpoint
    too), and the epoch logs get ``lr`` when α can change (a schedule, or a callback that
    sets ``adjusts_learning_rate``)."""
    trainer._stepper = stepper
    trainer._log_lr = _has_schedule(trainer.optimizer) or any(
        getattr(cb, "adjusts_learning_rate", False) for cb in trainer.callbacks
    )
    if trainer.state.lr_scale != 1.0:
        set_scale(trainer, trainer.state.lr_scale)


def set_scale(trainer: Any, scale: float) -> None:
    """Every α of the run × ``scale`` from the next step on (the optimizer state stays)."""
    trainer.state.lr_scale = float(scale)
    stepper = getattr(trainer, "_stepper", None)
    if stepper is None:
        return
    opt = _opt.scale_learning_rate(trainer.optimizer, trainer.state.lr_scale)
    if hasattr(stepper, "stepper"):  # NumPy: the checked step, rebuilt for the new α
        stepper.stepper = CheckedStep(opt)
    else:  # other libraries: the guarded step reads its optimizer at each step
        stepper.guard.optimizer = opt


def current(trainer: Any) -> float | None:
    """α of the last step taken (the next one's before any step), None if unknown."""
    state = trainer.opt_state
    count = max(int(getattr(state, "count", 0)) - 1, 0)
    base = _opt.current_learning_rate(trainer.optimizer, _Count(count))
    return None if base is None else base * trainer.state.lr_scale


class _Count:
    def __init__(self, count: int) -> None:
        self.count = count


def log(trainer: Any, logs: dict[str, Any]) -> None:
    """``logs["lr"]``: the α of the epoch's last step, when it can change."""
    if getattr(trainer, "_log_lr", False):
        lr = current(trainer)
        if lr is not None:
            logs["lr"] = lr
