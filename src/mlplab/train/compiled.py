"""The loop's steps through :mod:`mlplab.fast.compiled` (Numba), when they apply.

:class:`CompiledSteps` replaces the trainer's per-batch Python loop for the fits that
:func:`for_run` accepts; every guarantee of that loop is kept at step granularity:

* a step whose cost or update is not finite is not applied, and the same
  :class:`~mlplab.train.divergence.DivergenceError` names it (its gradient is in the
  trainer's flat gradient, as the NumPy path leaves it);
* the compiled calls stop at every ``checkpoint_every`` step, so checkpoints are written
  at the same steps, with the same :class:`~mlplab.train.state.Position`, and resume
  exactly;
* a first Ctrl-C ends the run at the end of the current call of at most :data:`CHUNK`
  steps (milliseconds on the small networks compiled), with a resumable position;
* the permutations come from the trainer's random stream as before, so a run is
  reproducible, and one with the compiled steps resumes one without them and back.

It does not apply (the NumPy path runs) with sample weights, MPI, callbacks that act
after every batch, other array libraries, or what :func:`mlplab.fast.compiled.eligible`
refuses; with ``MLPLAB_COMPILED=auto`` (the default) also to fits of fewer than
:data:`~mlplab.fast.compiled.MIN_STEPS` steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab.core.optimizers import EmptyState, MomentumState
from mlplab.fast import compiled as _compiled
from mlplab.train.divergence import diverged
from mlplab.train.state import Position
from mlplab.train.step import HostStep
from mlplab.train.strategy import Local

CHUNK = 256
"""At most this many steps per compiled call: how long a Ctrl-C waits."""


def for_run(trainer: Any, run: Any, epochs_left: int) -> CompiledSteps | None:
    """The compiled steps for this fit, or None where the NumPy loop runs."""
    net = trainer.net
    if not (_compiled.available() and _compiled.eligible(net, trainer.optimizer)):
        return None
    if type(trainer.strategy) is not Local or trainer._weights[0] is not None:
        return None
    if run.callbacks.batch_hooks or not isinstance(run.stepper, HostStep):
        return None
    if not run.plan.everything:
        return None
    X, Y = run.X, run.Y
    for a in (X, Y):
        if type(a) is not np.ndarray or a.dtype != net.dtype or not a.flags.c_contiguous:
            return None
    n, B = run.plan.n_global, run.plan.batch_size or run.plan.n_global
    if _compiled.mode() != "always" and epochs_left * -(-n // B) < _compiled.MIN_STEPS:
        return None
    return CompiledSteps(trainer, B)


class CompiledSteps:
    """Runs an epoch's batches through the compiled kernel, in calls of at most CHUNK."""

    def __init__(self, trainer: Any, batch_size: int) -> None:
        self.kernel = _compiled.Kernel(trainer.net, batch_size)
        self.lr, self.beta = _compiled.optimizer_form(trainer.optimizer)  # type: ignore[misc]
        self.batch_size = batch_size
        self._all_rows: np.ndarray | None = None
        self._no_v = np.zeros(0, trainer.net.dtype)

    def epoch(
        self, trainer: Any, run: Any, order: Any, first: int, total: float, correct: float
    ) -> tuple[float, float]:
        """Batches ``first``.. of the epoch with permutation ``order`` (None: batch GD);
        returns the epoch's running (Σ |B|·J, # correct)."""
        st, net = trainer.state, trainer.net
        n = run.plan.n_global
        rows = order
        if rows is None:
            if self._all_rows is None:
                self._all_rows = np.arange(n)
            rows = self._all_rows
        n_batches = -(-n // self.batch_size)
        every, ctrl_c = run.checkpoints.every, run.ctrl_c
        lam = float(net.l2)
        b = first
        while b < n_batches:
            end = min(n_batches, b + CHUNK)
            if every:  # stop at the next step that writes a checkpoint
                end = min(end, b + every - st.step % every)
            state = st.opt_state
            v = state.v.copy() if self.beta else self._no_v  # the old state stays intact
            lr = self.lr * st.lr_scale
            t_sum, c_sum, done, last = self.kernel.run(
                run.X, run.Y, rows, b, end, net._theta, v, trainer._grad_flat, lr, self.beta, lam
            )
            total += t_sum
            correct += c_sum
            if done:
                st.step += done
                count = state.count + done
                st.opt_state = MomentumState(count, v) if self.beta else EmptyState(count)
            b += done
            if b < end:  # batch b was not finite: not applied
                raise diverged(trainer, run, last, b, n_batches)
            if (every and st.step % every == 0) or ctrl_c.pressed:
                run.checkpoint_or_stop(trainer, Position(order, b, total, correct))
        return total, correct
