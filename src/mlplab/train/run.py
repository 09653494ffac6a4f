"""One ``fit`` call's context: what it trains on, its checkpoint writer, Ctrl-C.

:class:`Run` is built once by :meth:`Trainer.fit <mlplab.train.loop.Trainer.fit>` after
every check, and handed to the epoch and step functions of the loop.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab.core import layer_options as _opts
from mlplab.core import network as _net
from mlplab.train.batches import EpochPlan
from mlplab.train.callbacks import CallbackList
from mlplab.train.rows import BLOCK_BYTES, PreparedRows
from mlplab.train.state import Position
from mlplab.train.targets import Targets


class StopRequestedError(Exception):
    """Ctrl-C was pressed: leave the loop after the current step."""


class CtrlC:
    """What :func:`ctrl_c_ends_step` installed and saw."""

    installed = False
    pressed = False


@contextlib.contextmanager
def ctrl_c_ends_step() -> Iterator[CtrlC]:
    """While training, make the first Ctrl-C (SIGINT) only set a flag.

    The loop checks the flag after every step, so it stops on a consistent state: the
    parameters, optimizer state and position all belong to the same step. A second
    Ctrl-C raises KeyboardInterrupt at once. Only in the main thread, and only if the
    SIGINT handler is Python's default (a custom handler is left alone).
    """
    state = CtrlC()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield state
        return

    def handler(signum: int, frame: Any) -> None:
        if state.pressed:
            raise KeyboardInterrupt
        state.pressed = True

    previous = signal.signal(signal.SIGINT, handler)
    state.installed = True
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class Run:
    """What one ``fit`` call trains on and how: checked data, plan, step, checkpoints."""

    X: Any
    Y: Any
    labels: Any  # class indices (multiclass), for the accuracy
    val: tuple[Any, Any] | None
    plan: EpochPlan
    end_epoch: int
    monitor: str | None  # the cost restore_best watches
    stepper: Any  # HostStep | DeviceStep
    callbacks: CallbackList
    checkpoints: Checkpoints
    position: Position | None = None  # where a resumed run continues in its epoch
    first_step: int = 0  # the step count when the loop began
    combine: bool = False  # the strategy combines processes (strategy.reduce each step)
    ctrl_c: CtrlC = field(default_factory=CtrlC)
    val_total: Any = None
    """Σ over the processes when each holds only its own validation rows, else None."""
    compiled: Any = None  # train.compiled.CompiledSteps, when the fit runs them
    fused: Any = None  # train.fitstep.FitStep, when it runs this fit's steps

    def checkpoint_or_stop(self, trainer: Any, position: Position) -> None:
        """After a step that ended at ``position``: a first Ctrl-C stops the run there
        (resumable from ``trainer.state.position``), else the checkpoint due is written.

        Every loop over an epoch's batches (``Trainer._run_batches``, the fused and the
        compiled steps) calls it when ``checkpoint_every`` divides the step count or
        Ctrl-C was pressed.
        """
        if self.ctrl_c.pressed:
            trainer.state.position = position
            raise StopRequestedError
        self.checkpoints.write(trainer, position)

    def epoch_logs(self, net: Any, total: Any, correct: Any) -> dict[str, Any]:
        """The epoch's ``loss`` (and ``accuracy``, ``val_loss``, ``val_accuracy``)."""
        n = self.plan.n_global
        classify = net.head.name in ("binary", "multiclass")
        # float(): sums kept on the device (other libraries than NumPy) are read here
        logs: dict[str, Any] = {"loss": float(total) / n}
        if classify:
            logs["accuracy"] = float(correct) / n
            if net._xp is not np and net.head.name == "binary":
                logs["accuracy"] /= net.layer_sizes[-1]  # the device counted entries
        if self.val is not None and self.val_total is not None:
            logs.update(_shared_val_logs(net, self.val, self.val_total, classify))
        elif self.val is not None:
            Xv, Yv = self.val
            Zv = _outputs(net, Xv)
            Yv = Yv[0 : Zv.shape[0]] if isinstance(Yv, Targets) else Yv
            penalty = _net.l2_penalty(net._params, net.l2, Zv.shape[0]) if net.l2 else 0.0
            logs["val_loss"] = float(net.head.loss(Zv, Yv) + penalty)
            if classify:
                logs["val_accuracy"] = _accuracy(net.head.name, Zv, Yv)
        return logs


class Checkpoints:
    """Writes the run's checkpoint: every ``every`` steps (else each epoch), at the end
    and on Ctrl-C; on the root process only (the others hold the same state)."""

    def __init__(self, path: Path | None, every: int | None, root: bool) -> None:
        self.path, self.every, self.root = path, every, root
        self.fell_back = False  # resumed from the previous file: overwrite the damaged one
        self.written: tuple[int, int] | None = None

    def write(self, trainer: Any, position: Position | None) -> None:
        trainer.state.position = position
        self.written = (trainer.epoch, trainer.step)
        if self.path is not None and self.root:
            from mlplab.train import checkpoint as _ckpt  # loaded when a checkpoint is asked for

            _ckpt.save_checkpoint(trainer, self.path, keep_previous=not self.fell_back)
        self.fell_back = False

    def after_epoch(self, trainer: Any) -> None:
        if self.path is not None and self.every is None:
            self.write(trainer, None)

    def at_end(self, trainer: Any) -> None:
        if self.path is not None and self.written != (trainer.epoch, trainer.step):
            self.write(trainer, None)


def _outputs(net: Any, Xv: Any) -> Any:
    """Z[L] of the validation rows: at once, or for rows on disk
    (:class:`~mlplab.train.rows.PreparedRows`) block by block: row by row the same numbers."""
    norms = _opts.inference_norms(net)
    if not isinstance(Xv, PreparedRows):
        return _net.forward(net._params, Xv, net.hidden, norms)[0]
    step = max(1, BLOCK_BYTES // (Xv.shape[1] * Xv.dtype.itemsize))
    blocks = range(0, Xv.shape[0], step)
    return np.concatenate(
        [_net.forward(net._params, Xv[s : s + step], net.hidden, norms)[0] for s in blocks]
    )


def _shared_val_logs(net: Any, val: Any, total: Any, classify: bool) -> dict[str, float]:
    """``val_loss`` (and ``val_accuracy``) over the validation rows of every process:
    (Σ L(i), # correct, n) added up, then the L2 term for the n rows."""
    Xv, Yv = val
    m, loss, ok = Xv.shape[0], 0.0, 0.0
    if m:
        Zv = _outputs(net, Xv)
        Yv = Yv[0:m] if isinstance(Yv, Targets) else Yv  # made here, held as labels
        loss = float(net.head.loss(Zv, Yv)) * m
        ok = _accuracy(net.head.name, Zv, Yv) * m if classify else 0.0
    n, loss, ok = total(np.array([m, loss, ok], dtype=np.float64))
    penalty = _net.l2_penalty(net._params, net.l2, int(n)) if net.l2 else 0.0
    out = {"val_loss": float(loss / n + penalty)}
    if classify:
        out["val_accuracy"] = float(ok / n)
    return out


def _accuracy(head: str, Z: Any, Y: Any) -> float:
    xp = _xp.namespace(Z)
    if head == "multiclass":
        return _xp.mean_true(xp.argmax(Z, axis=1) == xp.argmax(Y, axis=1))
    return _xp.mean_true((Z > 0) == (Y > 0.5))
