r"""The training loop: epochs of shuffled mini-batches, one optimizer step per batch.

Read it top to bottom; it is the lecture's algorithm::

    for epoch in range(epochs):
        for batch in shuffled mini-batches of X:        # batch_size=None: all of X
            J, dW, db = forward + backprop on the batch  # dZ[L] = (a[L] − y)/n_batch
            v = update(dW, db)                          # sgd, momentum, adam, ...
            W[l] ← W[l] + update[l]  for every l

All parameters live in one flat vector θ (W[l], b[l] are views into it), and so do the
gradients: the optimizer updates the whole network with a few vectorized operations.

There is one loop; where a batch's rows live is a *strategy*'s business
(:mod:`mlplab.train.strategy`: one process; :mod:`mlplab.train.mpi`: MPI ranks, with
``fit(comm=...)``). The step is :mod:`mlplab.train.step`; the batches :mod:`mlplab.train.batches`.

Around that loop, what a long run needs (see docs/guide/numerics.md, "Guarantees"): a step whose
cost, gradient or update is not finite is refused (:class:`DivergenceError`); the
first Ctrl-C ends the run after the current step; checkpoints
(:mod:`mlplab.train.checkpoint`) let a killed run resume to exactly the same weights.

Training runs where the data are: NumPy arrays through the fast path (:mod:`mlplab.fast`);
PyTorch, CuPy or other array API arrays with the lecture functions in that library, after
``Network.to`` (the loss, accuracy and divergence check stay on the device, read once per
epoch; checkpoints are written from NumPy training only).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab._validation import (
    InputScaleWarning,
    as_generator,
)
from mlplab.core.network import Network
from mlplab.core.optimizers import Optimizer, adam
from mlplab.train import compiled as _compiled_steps
from mlplab.train import fitstep as _fitstep
from mlplab.train import lr as _lr
from mlplab.train import regularize as _regularize
from mlplab.train.batches import Batch, EpochPlan, resolve_batch_size
from mlplab.train.callbacks import Callback, CallbackList, History
from mlplab.train.checks import check_fit, check_sample_weight, numpy_only_checkpoints
from mlplab.train.divergence import DivergenceError, diverged, diverged_on_device
from mlplab.train.progress import ProgressBar
from mlplab.train.run import Checkpoints, Run, StopRequestedError, ctrl_c_ends_step
from mlplab.train.state import Position, TrainState
from mlplab.train.step import (
    DeviceStep,
    HostStep,
    add_l2,
    follow_data,
    indices_on,
    l2_lambda,
)
from mlplab.train.strategy import Local
from mlplab.train.targets import Targets, class_indices

if TYPE_CHECKING:  # below, loaded where a checkpoint is asked for (import mlplab stays light)
    from mlplab.train import checkpoint as _ckpt

__all__ = ["DivergenceError", "InputScaleWarning", "Trainer"]


def _checkpoint_file(checkpoint: Any) -> Path:
    """The file of ``fit(checkpoint=...)`` (:mod:`mlplab.train.checkpoint` is imported where
    a checkpoint is asked for, so that ``import mlplab`` and a plain fit do without it)."""
    from mlplab.train import checkpoint as _ckpt

    return _ckpt.checkpoint_files(checkpoint)[0]


def _restore_callbacks(callbacks: list[Callback], resumed: _ckpt.Checkpoint) -> None:
    """The callbacks' state from the checkpoint a fit resumes from."""
    from mlplab.train import checkpoint as _ckpt

    _ckpt.restore_callbacks(callbacks, resumed)


def _state_field(name: str, doc: str) -> Any:
    """An attribute of the trainer kept in its :class:`TrainState`."""
    return property(
        lambda self: getattr(self.state, name),
        lambda self, value: setattr(self.state, name, value),
        doc=doc,
    )


class Trainer:
    """Holds what a training run changes — the network, optimizer state, step count,
    RNG — and runs the loop. Callbacks see it as ``self.trainer``.

    Calling :meth:`fit` again continues where the last call stopped (same optimizer
    state, same RNG stream). ``fit(..., checkpoint=PATH, resume=True)`` continues from a
    checkpoint file instead, possibly in another process; :meth:`save_checkpoint`
    writes one by hand.

    Parameters
    ----------
    net : Network
    optimizer : Optimizer, default=adam(0.001)
    callbacks : list of Callback
    seed : int or Generator, default=0
        Seed of the shuffles.
    strategy : Local or MPI, optional
        How processes share a batch (:mod:`mlplab.train.strategy`); default one process.
        ``mlplab.train.mpi.MPI(comm)`` trains data-parallel over MPI ranks.
    verbose : bool, default=False
        Show a progress bar (on the root process only).
    order : callable, optional
        The epoch order provider: ``order(n)`` returns each epoch's order of the n global
        rows (:class:`~mlplab.train.batches.EpochPlan`); default a permutation drawn from
        ``seed``'s stream.

    Attributes
    ----------
    net : Network
    optimizer : Optimizer
    state : TrainState
        What the run changes; ``opt_state``, ``step``, ``epoch``, ``rng`` and
        ``stop_training`` below read and write it.
    history : History
    grads : list of DenseParams
        The last mini-batch's gradients (views into one flat buffer).
    interrupted : bool
        True when the last fit was stopped by Ctrl-C (at the end of a step).
    """

    opt_state = _state_field("opt_state", "The optimizer's state (None before the first fit).")
    step = _state_field("step", "Parameter updates done so far.")
    epoch = _state_field("epoch", "Epochs completed so far.")
    rng = _state_field("rng", "The shuffling random generator.")
    stop_training = _state_field(
        "stop_training", "Set to True (by a callback) to stop after the current epoch."
    )

    def __init__(
        self,
        net: Network,
        optimizer: Optimizer | None = None,
        callbacks: Sequence[Callback] = (),
        seed: Any = 0,
        *,
        strategy: Any = None,
        verbose: bool = False,
        order: Any = None,
    ) -> None:
        if not isinstance(net, Network):
            raise TypeError(f"net must be an mlplab.Network, got {type(net).__name__}")
        optimizer = adam(0.001) if optimizer is None else optimizer
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                "optimizer must be an mlplab optimizer such as mlplab.optimizers.sgd(0.1), "
                f"got {optimizer!r}"
            )
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be mlplab Callback objects, got {cb!r}")
        self.net, self.optimizer, self.order = net, optimizer, order
        self.strategy = Local() if strategy is None else strategy
        self.state = TrainState(rng=as_generator(seed))
        self.history = History()
        self.callbacks = list(callbacks)
        if verbose and self.strategy.is_root:
            self.callbacks.append(ProgressBar())
        self.callbacks.append(self.history)  # History last: it sees every key
        self._grad_flat = self.strategy.gradient_buffer(net)
        self.grads = net._views(self._grad_flat)
        self.gradient = _regularize.gradient_for(self)  # BatchGradient, or with dropout/BN
        self._weights: tuple[Any, float | None] = (None, None)  # this fit's (w, Σw)
        self._l2: list[Any] = []  # add_l2's buffers (NumPy)
        self._l2_dot: list[Any] = []  # and its views and buffers with l2_as_dot
        self.interrupted = False
        self.require_two_classes = False  # mlplab.fit rejects single-class targets
        # With sample weights, the L2 term of each batch: λ/2Σw over all rows (False, the
        # repeated data's) or scikit-learn's λ/(2 Σ_{i∈B} w_i) over the batch's (True)
        self.l2_per_batch_weight = False
        # The L2 term's ‖W‖² as one dot product per layer, as scikit-learn sums it (True,
        # the estimators), or in the order of mlplab.fit's earlier versions (False)
        self.l2_as_dot = False
        # J's data term times this before L2 (1/n_outputs: scikit-learn's squared error,
        # averaged over the outputs while its gradient sums them); the steps are unchanged
        self.data_loss_scale = 1.0
        self.planned_epochs = 0  # epochs this fit call will run (for a progress bar)
        self.checkpoint_path: Path | None = None  # the checkpoint file of the last fit

    # -- the loop -------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 100,
        batch_size: int | str | None = "auto",
        validation_data: tuple[Any, Any] | None = None,
        *,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
        resume: bool = False,
        restore_best: bool | str = False,
        sample_weight: Any = None,
    ) -> History:
        """Train ``self.net`` in place for ``epochs`` epochs; returns the History.

        ``batch_size="auto"`` is min(32, n_samples); see :func:`fit` for the other
        arguments. ``sample_weight`` (one weight >= 0 per row) makes every batch's cost
        J = Σ w_i L(i) / Σ w_i and the L2 term that of the data with row i repeated w_i
        times (one process only). With ``resume=True``, ``epochs`` counts from the start
        of the run that wrote the checkpoint, so the same call finishes the same run.
        Under MPI (``strategy=MPI(comm)``) X, y are this rank's rows and ``batch_size``
        is the global |B|; every check fails on every rank or on none.
        """
        args = (epochs, batch_size, validation_data, checkpoint, checkpoint_every, resume)
        run = self._begin(X, y, *args, restore_best, sample_weight)
        with self.strategy.guard():
            self._train(run)
        if self.interrupted:
            best = run.monitor is not None and self.state.best is not None
            kept = "its best parameters" if best else "the parameters of that step"
            where = f", and {run.checkpoints.path} can resume the run" if checkpoint else ""
            warnings.warn(
                f"training interrupted at epoch {self.epoch}, step {self.step}: stopped at the "
                f"end of that step; the network keeps {kept}{where}",
                RuntimeWarning,
                stacklevel=2,
            )
        return self.history

    def _train(self, run: Run) -> None:
        """The epochs, and what ends them: Ctrl-C, divergence, the last epoch."""
        logs: dict[str, Any] = {}
        failure: DivergenceError | None = None
        try:
            # Overflow inside a step surfaces as a non-finite J, gradient or update,
            # which we report with its epoch and layer; NumPy's warnings would say less.
            with (
                ctrl_c_ends_step() as run.ctrl_c,
                np.errstate(over="ignore", invalid="ignore", divide="ignore"),
            ):
                while self.epoch < run.end_epoch and not self.stop_training:
                    logs = self._run_epoch(run)
            run.checkpoints.at_end(self)
        except StopRequestedError:
            self.interrupted = True
            if run.checkpoints.path is not None:
                run.checkpoints.write(self, self.state.position)
            elif self.net._xp is np:  # so that save_checkpoint() records what it trained on
                self.state.run["data"] = self._data_digest(run)  # type: ignore[index]
        except KeyboardInterrupt:
            if run.ctrl_c.installed:  # a second Ctrl-C: abort now
                raise
            # Raised mid-step under another SIGINT handler: the optimizer state may be
            # a step ahead of θ, so no checkpoint; keep the parameters as they are.
            self.interrupted = True
        except DivergenceError as exc:
            failure = exc
        finally:
            run.stepper.finish()
            if run.monitor is not None and self.state.best is not None:
                self.net._theta[...] = self.state.best[2]
            run.callbacks.on_train_end(logs)
        if failure is not None:
            raise failure

    def _run_epoch(self, run: Run) -> dict[str, Any]:
        """One epoch (or the rest of a resumed one); returns its logs."""
        st, epoch = self.state, self.epoch
        logs: dict[str, Any] = {}
        if run.position is None:  # a new epoch: fresh shuffle of the row indices
            run.callbacks.on_epoch_begin(epoch, logs)
            order = run.plan.draw(st.rng)
            first, total, correct = 0, 0.0, 0.0
            if run.monitor == "loss":  # the cost of an epoch is measured from θ at its start
                st.epoch_start = _xp.copy(self.net._theta)
        else:  # resumed in the middle of an epoch
            order, first, total, correct = run.position
            run.position = None
        if run.compiled is not None:  # small networks: compiled steps (train/compiled.py)
            total, correct = run.compiled.epoch(self, run, order, first, total, correct)
            on_device = False
        elif run.fused is not None:  # mlplab.fit on NumPy: prepared calls (train/fitstep.py)
            total, correct = run.fused.epoch(order, first, total, correct)
            on_device = False
        else:
            batches = run.plan.split(order)
            on_device = self.net._xp is not np
            if on_device:
                batches = indices_on(batches, self.net._xp, self.net._device)  # one copy
                correct, epoch_start_step = 0, self.step  # an integer count on the device
            total, correct = self._run_batches(run, order, batches, first, total, correct)
        if on_device and not run.stepper.epoch_ok():  # the epoch's one check
            raise diverged_on_device(self, run, epoch_start_step, batches)
        logs.update(run.epoch_logs(self.net, total, correct))
        _lr.log(self, logs)
        self._end_epoch(run, epoch, logs)
        return logs

    def _run_batches(
        self, run: Run, order: Any, batches: Sequence[Batch], first: int, total: Any, correct: Any
    ) -> tuple[Any, Any]:
        """Batches ``first``.. of the epoch, one checked step each; the running sums."""
        st, every, ctrl_c = self.state, run.checkpoints.every, run.ctrl_c
        step = self._step
        for b in range(first, len(batches)):  # the hot loop
            batch = batches[b]
            J, correct_b = step(run, batch, b, len(batches))
            total += J * batch.size
            correct += correct_b
            if (every and st.step % every == 0) or ctrl_c.pressed:
                run.checkpoint_or_stop(self, Position(order, b + 1, total, correct))
        return total, correct

    def _end_epoch(self, run: Run, epoch: int, logs: dict[str, Any]) -> None:
        st = self.state
        if hasattr(run.X, "check_unchanged"):  # out of core: the file must stay as it was
            run.X.check_unchanged()
        st.epoch += 1
        run.callbacks.on_epoch_end(epoch, logs)
        if run.combine:  # a stop asked for on one process stops them all
            st.stop_training = self.strategy.any(st.stop_training)
        st.position = None
        if run.monitor is not None:
            self._track_best(epoch, logs, run.monitor)
        if run.checkpoints.path is not None:
            run.checkpoints.after_epoch(self)
        if run.ctrl_c.pressed:
            raise StopRequestedError

    def _step(self, run: Run, batch: Batch, b: int, n_batches: int) -> tuple[Any, Any]:
        """Gradient of batch b over every process, L2, the checked step: (J, # correct)."""
        st, (w, w_total) = self.state, self._weights  # sample weights of all rows, or None
        J, m, correct = self.gradient(run.X, run.Y, run.labels, batch.rows, w, batch)
        if run.combine:  # other processes hold other rows of the batch
            J, correct = self.strategy.reduce(self._grad_flat, J, correct, m, batch.size)
        if self.data_loss_scale != 1.0:
            J = J * self.data_loss_scale
        if self.net.l2:  # (λ/2|B|)‖W‖², once per batch (not once per process)
            if w is not None and self.l2_per_batch_weight:  # λ/(2 Σ_B w): scikit-learn's
                w_b = w if batch.rows is None else w[batch.rows]
                w_sum, dot = float(w_b.sum()), self.l2_as_dot
                scratch = self._l2_dot if dot else self._l2
                J = add_l2(self.net, self.grads, J, w_sum, self.net.l2, scratch, dot)
            else:
                lam = l2_lambda(self.net, run.plan.n_global, w_total)  # λ·n/Σw with weights
                dot = self.l2_as_dot
                scratch = self._l2_dot if dot else self._l2
                J = add_l2(self.net, self.grads, J, batch.size, lam, scratch, dot)
        new_state = run.stepper.apply(J, self._grad_flat, st.opt_state)
        if new_state is None:
            raise diverged(self, run, J, b, n_batches)
        st.opt_state = new_state
        st.step += 1
        if run.callbacks.batch_hooks:
            run.callbacks.on_batch_end(b, {"loss": J, "size": batch.size})
        return J, correct

    # -- set-up -----------------------------------------------------------------------
    def _begin(
        self,
        X: Any,
        y: Any,
        epochs: Any,
        batch_size: Any,
        validation_data: Any,
        checkpoint: Any,
        every: Any,
        resume: Any,
        restore_best: Any,
        sample_weight: Any = None,
    ) -> Run:
        """Check everything once, agree with the other processes, resume if asked."""
        st = self.strategy
        follow_data(self, X)  # NumPy, or the library and device of X
        args = (epochs, validation_data, checkpoint, every, resume, restore_best)

        def checks() -> tuple[Any, ...]:
            shared = getattr(st, "sharded_validation", False)
            per_batch = getattr(st, "targets_per_batch", False)  # Y made batch by batch
            out = check_fit(self.net, X, y, *args, self.require_two_classes, shared, per_batch)
            distributed = st.size > 1 or type(st) is not Local
            weights = check_sample_weight(sample_weight, out[0].shape[0], self.net, distributed)
            return *out, *weights

        X, Y, val, every, monitor, w, w_total = st.agree(checks)
        n_global, rows = st.share(X.shape[0])
        self._weights = (w, w_total)
        where = "training samples" if st.size == 1 else "training samples of all ranks"
        B = st.agree(lambda: resolve_batch_size(batch_size, n_global, where))
        settings = {"epochs": epochs, "batch_size": batch_size, "resume": resume}
        settings.update(checkpoint=checkpoint is not None, checkpoint_every=every)
        st.check_same_run(self, {**settings, "restore_best": restore_best})
        st.broadcast_state(self)
        path = None if checkpoint is None else _checkpoint_file(checkpoint)
        self.checkpoint_path = path
        if B is None and isinstance(Y, Targets):  # batch GD reads every row each step
            Y = Y[0 : Y.shape[0]]
        labels = class_indices(self.net, Y)  # multiclass: for the accuracy count
        stepper = (HostStep if self.net._xp is np else DeviceStep)(self.optimizer, self.net)
        cbs = CallbackList(self.callbacks, self)
        plan = EpochPlan(n_global, B, rows, self.order)
        plan.relabel = getattr(X, "relabel", None)  # rows kept in a file's order (rows.py)
        plan.source = getattr(X, "order_source", None)  # ... with relabel on one rank
        plan.places = bool(self.net.options.dropout)  # masks by the rows' drawn order
        checkpoints = Checkpoints(path, every, st.is_root)
        run = Run(X, Y, labels, val, plan, 0, monitor, stepper, cbs, checkpoints)
        run.combine = type(st) is not Local  # Local: reduce is the identity, skipped
        if getattr(st, "sharded_validation", False):
            run.val_total = st.sum_floats
        resumed = st.agree(lambda: self._begin_run(run, epochs, checkpoint, resume))
        _lr.attach(self, run.stepper)  # α × the plateau factor; "lr" in the logs
        self.planned_epochs = max(run.end_epoch - self.epoch, 0)
        run.compiled = _compiled_steps.for_run(self, run, self.planned_epochs)
        run.fused = _fitstep.for_run(self, run)  # mlplab.fit's step, bound once (fitstep.py)
        run.first_step = self.step
        run.callbacks.on_train_begin({})
        if resumed is not None:
            _restore_callbacks(self.callbacks, resumed)
        return run

    def _begin_run(
        self, run: Run, epochs: int, checkpoint: Any, resume: bool
    ) -> _ckpt.Checkpoint | None:
        """Reset the per-run state and resume from a checkpoint if asked; sets
        ``run.position`` (inside the current epoch) and ``run.end_epoch``."""
        st = self.state
        info = {"batch_size": run.plan.batch_size, "n_samples": run.plan.n_global}
        if getattr(run.X, "layout", None) is not None:  # .npy shards: (file, rows)
            info["layout"] = run.X.layout
        data = self._data_digest(run) if checkpoint is not None else None
        st.begin_run({"start_epoch": self.epoch, "epochs": epochs, **info, "data": data})
        if st.opt_state is None:
            st.opt_state = self.optimizer.init(self.net._theta)
        self.interrupted = False
        resumed = None
        if resume:
            from mlplab.train import checkpoint as _ckpt

            resumed = self.strategy.read(lambda: _ckpt.load_latest(checkpoint))
        if resumed is not None:
            run.position = _ckpt.restore(self, resumed, st.run)
            run.checkpoints.fell_back = resumed.fell_back
            run.checkpoints.written = (self.epoch, self.step)
        run.end_epoch = st.run["start_epoch"] + epochs  # type: ignore[index]
        if resumed is not None and self.epoch > run.end_epoch:
            done = self.epoch - st.run["start_epoch"]  # type: ignore[index]
            raise ValueError(
                f"epochs={epochs}, but the checkpoint {resumed.path} has already done {done} "
                f"epochs of its run; pass epochs >= {done}"
            )
        return resumed

    def _data_digest(self, run: Run) -> str:
        """A digest of all processes' training rows, the same for any number of them."""
        from mlplab.train import checkpoint as _ckpt

        lo, Y, w = run.plan.rows[0], run.Y, self._weights[0]
        if w is not None:  # the weights are part of the data: hashed as one more column
            Y = np.column_stack([Y, w])
        total = self.strategy.sum(_ckpt.row_hash_sum(run.X, Y, first_row=lo))
        return _ckpt.data_digest(run.X, Y, n_rows=run.plan.n_global, row_sum=total)

    # -- after each epoch -------------------------------------------------------------
    def _track_best(self, epoch: int, logs: dict[str, Any], monitor: str) -> None:
        """Keep θ when the monitored cost reaches a new finite minimum: ``val_loss``
        (measured on θ after the epoch) or ``loss`` (measured from θ at its start)."""
        value, best = float(logs[monitor]), self.state.best
        if math.isfinite(value) and (best is None or value < best[0]):
            theta = _xp.copy(self.net._theta) if monitor == "val_loss" else self.state.epoch_start
            self.state.best = (value, epoch, theta)

    # -- checkpoints ------------------------------------------------------------------
    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write everything needed to resume this run exactly to ``path`` (see
        :mod:`mlplab.train.checkpoint`); the previous file there is kept as
        ``*.prev.npz``. Under MPI rank 0 writes; every rank gets the file name."""
        from mlplab.train import checkpoint as _ckpt

        numpy_only_checkpoints(self.net)
        if not self.strategy.is_root:
            return _ckpt.checkpoint_files(path)[0]
        return _ckpt.save_checkpoint(self, path)
