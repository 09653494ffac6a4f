"""What a training run changes, in one place: the state a checkpoint saves and restores.

The :class:`~mlplab.train.loop.Trainer` holds one :class:`TrainState`; its ``step``,
``epoch``, ``opt_state``, ``rng`` and ``stop_training`` attributes read and write it.
Checkpoints (:mod:`mlplab.train.checkpoint`) work on this state, the network, the
optimizer and the callbacks, never on the trainer's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


class Position(NamedTuple):
    """Where a run stopped inside an epoch, so it can continue there.

    ``order`` is the epoch's permutation of the global rows (None for batch GD),
    ``batch`` the next mini-batch, ``loss_sum`` and ``correct`` the epoch's running sums
    (Σ |B|·J over the batches done, and the correct predictions among them).
    """

    order: np.ndarray | None
    batch: int
    loss_sum: float
    correct: float


@dataclass
class TrainState:
    """Everything a run changes besides θ and the callbacks.

    Attributes
    ----------
    rng : numpy.random.Generator
        The shuffling stream (the same on every MPI rank).
    opt_state : NamedTuple or None
        The optimizer's state (None before the first fit).
    step, epoch : int
        Parameter updates and epochs done so far.
    stop_training : bool
        Set by a callback to stop after the current epoch.
    run : dict or None
        What the current ``fit`` call trains: ``start_epoch``, ``epochs``,
        ``batch_size`` (global), ``n_samples`` (global) and ``data`` (a digest or None).
    position : Position or None
        Where the run stopped inside an epoch (None at an epoch boundary).
    best : (value, epoch, θ) or None
        The best epoch so far, for ``restore_best``.
    epoch_start : array or None
        θ at the start of the current epoch (``restore_best="loss"``).
    lr_scale : float
        The factor on every learning rate so far
        (:class:`~mlplab.train.callbacks.ReduceLROnPlateau`; 1 without it).
    """

    rng: np.random.Generator
    opt_state: Any = None
    step: int = 0
    epoch: int = 0
    stop_training: bool = False
    run: dict[str, Any] | None = None
    position: Position | None = None
    best: tuple[float, int, Any] | None = None
    epoch_start: Any = None
    lr_scale: float = 1.0

    def begin_run(self, run: dict[str, Any]) -> None:
        """Forget the per-run parts before a new ``fit`` call."""
        self.run = run
        self.stop_training = False
        self.position = None
        self.best = None
        self.epoch_start = None
