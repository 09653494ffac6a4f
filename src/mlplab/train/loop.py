r"""The training loop: epochs of shuffled mini-batches, one optimizer step per batch.

Read it top to bottom; it is the lecture's algorithm::

    for epoch in range(epochs):
        for batch in shuffled mini-batches of X:        # batch_size=None: all of X
            J, dW, db = forward + backprop on the batch  # dZ[L] = (a[L] − y)/n_batch
            v = update(dW, db)                          # sgd, momentum, adam, ...
            W[l] ← W[l] + update[l]  for every l

All parameters live in one flat vector θ (W[l], b[l] are views into it), and so do the
gradients: the optimizer updates the whole network with a few vectorized operations.

Around that loop, what a long run needs (see the README's "Guarantees"): a step whose
cost, gradient or update is not finite is refused (:class:`DivergenceError`); the
first Ctrl-C ends the run after the current step; checkpoints
(:mod:`mlplab.checkpoint`) let a killed run resume to exactly the same weights.

Training runs where the data are. NumPy arrays (and lists, data frames...) train with
NumPy, through the fast path (``network.Workspace``). PyTorch tensors (CPU or CUDA),
CuPy arrays or other array API arrays move the network there first (``Network.to``) and
train with the same lecture functions in that library: the loss, the accuracy and the
divergence check stay on the device (``optimizers.GuardedStep``) and are read once per
epoch. Checkpoints are written from NumPy training only (for now).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab._validation import (  # noqa: F401  (InputScaleWarning: re-exported)
    SCALE_WARNING,
    InputScaleWarning,
    as_generator,
    check_input_scale,
    check_positive,
    check_two_classes,
    check_X,
    check_y,
)
from mlplab.core import network as _net
from mlplab.core.network import Network
from mlplab.core.optimizers import Optimizer
from mlplab.core.optimizers import adam as _adam
from mlplab.fast import workspace as _ws
from mlplab.fast.guarded import GuardedStep as _GuardedStep
from mlplab.fast.step import CheckedStep as _CheckedStep
from mlplab.train import checkpoint as _ckpt
from mlplab.train.callbacks import Callback, History


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
        history: History | None = None,
    ) -> None:
        super().__init__(message)
        self.epoch, self.step, self.layer = epoch, step, layer
        self.layers = list(layers)
        self.history = history


class _StopRequestedError(Exception):
    """Ctrl-C was pressed: leave the loop after the current step."""


class _CtrlC:
    """What :func:`_ctrl_c_ends_step` installed and saw."""

    installed = False
    pressed = False


@contextlib.contextmanager
def _ctrl_c_ends_step() -> Iterator[_CtrlC]:
    """While training, make the first Ctrl-C (SIGINT) only set a flag.

    The loop checks the flag after every step, so it stops on a consistent state: the
    parameters, optimizer state and position all belong to the same step. A second
    Ctrl-C raises KeyboardInterrupt at once. Only in the main thread, and only if the
    SIGINT handler is Python's default (a custom handler is left alone).
    """
    state = _CtrlC()
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


def _overrides(cb: Callback, hook: str) -> bool:
    method = getattr(cb, hook)
    return getattr(method, "__func__", method) is not getattr(Callback, hook)


class Trainer:
    """Holds what a training run changes — the network, optimizer state, step count,
    RNG — and runs the loop. Callbacks see it as ``self.trainer``.

    Calling :meth:`fit` again continues where the last call stopped (same optimizer
    state, same RNG stream). ``fit(..., checkpoint=PATH, resume=True)`` continues from a
    checkpoint file instead, possibly in another process; :meth:`save_checkpoint`
    writes one by hand.

    Attributes
    ----------
    net : Network
    optimizer : Optimizer
    opt_state : NamedTuple
        The optimizer's state (None before the first fit).
    step : int
        Parameter updates done so far.
    epoch : int
        Epochs completed so far.
    stop_training : bool
        Set to True (by a callback) to stop after the current epoch.
    grads : list of DenseParams
        The last mini-batch's gradients (views into one flat buffer).
    interrupted : bool
        True when the last fit was stopped by Ctrl-C (at the end of a step).
    """

    def __init__(
        self,
        net: Network,
        optimizer: Optimizer | None = None,
        callbacks: Sequence[Callback] = (),
        seed: Any = 0,
    ) -> None:
        if not isinstance(net, Network):
            raise TypeError(f"net must be an mlplab.Network, got {type(net).__name__}")
        if optimizer is None:
            optimizer = _adam(0.001)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                "optimizer must be an mlplab optimizer such as mlplab.optimizers.sgd(0.1), "
                f"got {optimizer!r}"
            )
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be mlplab Callback objects, got {cb!r}")
        self.net = net
        self.optimizer = optimizer
        self.opt_state: Any = None
        self.step = 0
        self.epoch = 0
        self.stop_training = False
        self.rng = as_generator(seed)
        self.history = History()
        self.callbacks = [*callbacks, self.history]  # History last: it sees every key
        self._grad_flat = _xp.namespace(net._theta).zeros_like(net._theta)
        self.grads = net._views(self._grad_flat)
        self.interrupted = False
        self._run: dict[str, Any] | None = None  # what this fit call trains (checkpoints)
        self._position: _ckpt.Position | None = None
        self._order: np.ndarray | None = None  # this epoch's permutation of the rows
        self._best: tuple[float, int, np.ndarray] | None = None
        self._epoch_start: np.ndarray | None = None  # θ when the epoch began (restore_best)
        self._restore_best = False
        self._require_two_classes = False  # fit() rejects single-class targets
        self._ckpt_path: Path | None = None
        self._ckpt_fell_back = False
        self._ckpt_written: tuple[int, int] | None = None

    def _follow_data(self, X: Any) -> None:
        """Train where X is: move the network to X's library and device if X is a
        PyTorch/CuPy/... array, then this trainer's arrays to wherever the network is."""
        net = self.net
        if _xp.is_foreign(X):
            if type(self)._batch_step is not Trainer._batch_step:
                raise TypeError(
                    f"{type(self).__name__} trains on NumPy arrays only, got a "
                    f"{type(X).__module__}.{type(X).__name__}"
                )
            net.to(X)
        theta, g = net._theta, self._grad_flat
        if not (
            type(g) is type(theta)
            and g.shape == theta.shape
            and _xp.device_of(g) == _xp.device_of(theta)
        ):
            self._grad_flat = _xp.namespace(theta).zeros_like(theta)
            self.grads = net._views(self._grad_flat)
        if self.opt_state is not None:
            self.opt_state = _xp.tree_convert(self.opt_state, net._xp, net._device)

    # -- one step ---------------------------------------------------------------
    def _loss_and_grads(self, Xb: np.ndarray, Yb: np.ndarray) -> tuple[float, np.ndarray]:
        """J on the batch and dJ/dθ written into the flat gradient buffer.

        ``network.loss_and_grads`` computed with preallocated buffers
        (:class:`mlplab.network.Workspace`, one per batch size).
        """
        net = self.net
        if net._xp is np:
            ws = _ws.workspace_for(self.__dict__.setdefault("_workspaces", {}), net, Xb.shape[0])
            J = ws.loss_and_grads(net._params, Xb, Yb, self.grads)  # forward + backprop
            self._last_Z = ws.Z[-1]
        else:  # other libraries: the lecture's functions, gradients copied into the buffer
            Z_L, caches = _net.forward(net._params, Xb, net.hidden)
            J, dZ_L = net.head.loss_and_grad(Z_L, Yb)  # dZ[L] = (a[L] − y) / n_batch
            _ws.backward_into(dZ_L, net._params, caches, net.hidden, self.grads)
            self._last_Z = Z_L
        if net.l2:
            n_b = Xb.shape[0]
            J += _net.l2_penalty(net._params, net.l2, n_b)
            for g, p in zip(self.grads, net._params, strict=True):
                g.W[...] += (net.l2 / n_b) * p.W  # d/dW of (λ/2n)‖W‖² = (λ/n) W
        return J, self._grad_flat

    def _epoch_batches(self, n: int, batch_size: int | None) -> list[np.ndarray | None]:
        """Index arrays of this epoch's mini-batches; ``[None]`` means all rows, in order.

        Batch gradient descent needs no shuffle (the gradient is a sum over all rows)
        and no copy of X; mini-batch GD shuffles indices, not data, with ``self.rng``.
        The permutation is kept in ``self._order``: a checkpoint saves it.
        """
        self._order = None if batch_size is None else self.rng.permutation(n)
        return self._split(self._order, n, batch_size)

    def _split(
        self, order: np.ndarray | None, n: int, batch_size: int | None
    ) -> list[np.ndarray | None]:
        """Consecutive slices of ``order`` of ``batch_size`` rows (the last one smaller)."""
        self._order = order
        if order is None or batch_size is None:
            return [None]
        return [order[s : s + batch_size] for s in range(0, n, batch_size)]

    def _batch_step(
        self, Xc: np.ndarray, Y: np.ndarray, labels: np.ndarray | None, idx: np.ndarray | None
    ) -> tuple[float, np.ndarray, int, float]:
        """Forward + backprop on rows ``idx``: (J, flat dJ/dθ, batch size, # correct).

        With other libraries than NumPy, J and the count of correct predictions
        (entries, for several binary outputs) are 0-D arrays on the device.
        """
        xp = self.net._xp
        if idx is None:
            Xb, Yb = Xc, Y
        elif xp is np:  # one gather into the workspace's batch buffers, no other copy
            cache = self.__dict__.setdefault("_workspaces", {})
            Xb, Yb = _ws.workspace_for(cache, self.net, idx.shape[0]).gather(Xc, Y, idx)
        else:
            Xb, Yb = xp.take(Xc, idx, axis=0), xp.take(Y, idx, axis=0)
        J, g = self._loss_and_grads(Xb, Yb)
        n_b = Xb.shape[0]
        correct: Any = 0.0
        Z = self._last_Z
        if xp is not np:
            if labels is not None:
                lb = labels if idx is None else xp.take(labels, idx, axis=0)
                correct = _xp.count_true(xp.argmax(Z, axis=1) == lb)
            elif self.net.head.name == "binary":
                correct = _xp.count_true((Z > 0) == (Yb > 0.5))
        elif labels is not None:  # multiclass
            lb = labels if idx is None else labels[idx]
            correct = float(np.count_nonzero(Z.argmax(axis=1) == lb))
        elif self.net.head.name == "binary":  # σ(z) > 0.5 ⇔ z > 0; y is 0 or 1
            correct = np.count_nonzero((Z > 0) == Yb) / Z.shape[1]
        return J, g, n_b, correct

    def _diverged(self, J: float, batch: int, n_batches: int) -> DivergenceError:
        """The error for a non-finite J, gradient or update (the step was not applied)."""
        xp = self.net._xp
        bad = [
            l + 1
            for l, g in enumerate(self.grads)
            if not (bool(xp.all(xp.isfinite(g.W))) and bool(xp.all(xp.isfinite(g.b))))
        ]
        # Backprop runs from layer L down to 1, so the highest bad layer went first.
        first = max(bad) if bad else None
        parts = []
        if not math.isfinite(J):
            parts.append(f"the cost J became {J}")
        if first is not None:
            others = f" (non-finite in layers {sorted(bad, reverse=True)})" if len(bad) > 1 else ""
            parts.append(
                f"the gradient first went non-finite in layer {first} of L={self.net.L}{others}"
            )
        if not parts:
            parts.append(
                f"the {self.optimizer.name} update (or θ plus it) became non-finite although "
                "J and the gradients are finite"
            )
        if self._restore_best and self._best is not None:
            kept = f"the network keeps the parameters of its best epoch ({self._best[1]})"
        else:
            kept = f"the network keeps the last finite parameters (after step {self.step})"
            if not bool(xp.all(xp.isfinite(self.net._theta))):
                kept = "the parameters themselves overflowed"
        where = "" if n_batches == 1 else f" (mini-batch {batch} of {n_batches} in the epoch)"
        return DivergenceError(
            f"training diverged at epoch {self.epoch}, step {self.step}{where}: "
            f"{' and '.join(parts)}; {kept}. Likely causes: a learning rate too high, or "
            "inputs that are not normalized (attach a Standardizer).",
            self.epoch,
            self.step,
            first,
            sorted(bad, reverse=True),
            self.history,
        )

    def _diverged_on_device(
        self,
        guard: _GuardedStep,
        step_at_start: int,
        epoch_start_step: int,
        batches: list[Any],
        Xc: Any,
        Y: Any,
        labels: Any,
    ) -> DivergenceError:
        """The error for a step that the device found non-finite (read at the epoch's end).

        θ and the optimizer's arrays were left at the last finite step (GuardedStep);
        the step counters are put back there, and that batch's J and gradients are
        computed again from those parameters, so that the message names the same cause
        and layer as the NumPy loop's.
        """
        self.step = step_at_start + int(guard.applied)
        b = self.step - epoch_start_step  # the first non-finite batch of this epoch
        state = self.opt_state
        if hasattr(state, "_replace") and isinstance(getattr(state, "count", None), int):
            # The built-in states count every update() call; the skipped ones did not happen.
            self.opt_state = state._replace(count=state.count - (len(batches) - b))
        J, _, _, _ = self._batch_step(Xc, Y, labels, batches[b])
        return self._diverged(float(J), b, len(batches))

    # -- checkpoints -----------------------------------------------------------------
    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write everything needed to resume this run exactly to ``path`` (see
        :mod:`mlplab.checkpoint`); the previous file there is kept as ``*.prev.npz``."""
        _numpy_only_checkpoints(self.net)
        return _ckpt.save_checkpoint(self, path)

    def _write_checkpoint(self, position: _ckpt.Position | None) -> None:
        self._position = position
        self._ckpt_written = (self.epoch, self.step)
        # After resuming from the previous file (the newest was damaged), overwrite
        # the damaged one rather than rotating it over the good one.
        _ckpt.save_checkpoint(self, self._ckpt_path, keep_previous=not self._ckpt_fell_back)
        self._ckpt_fell_back = False

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
    ) -> History:
        """Train ``self.net`` in place for ``epochs`` epochs; returns the History.

        ``batch_size="auto"`` is min(32, n_samples); see :func:`fit` for the other
        arguments. With ``resume=True``, ``epochs`` counts from the start of the run
        that wrote the checkpoint, so the same call finishes the same run.
        """
        net = self.net
        epochs = check_positive(epochs, "epochs", integer=True, allow_zero=True)
        self._follow_data(X)  # NumPy, or the library and device of X
        Xc, Y, batch_size, val = self._check_data(X, y, batch_size, validation_data)
        every = _check_checkpoint_args(checkpoint, checkpoint_every, resume)
        if checkpoint is not None:
            _numpy_only_checkpoints(net)
        monitor = _check_restore_best(restore_best, val is not None)
        restore_best = monitor is not None
        resumed, position, end_epoch = self._begin_run(
            Xc, Y, epochs, batch_size, checkpoint, resume, restore_best
        )
        # The training cost of an epoch is measured along the way from θ at its start
        # (for batch GD: exactly at it), so that is the θ restore_best keeps for "loss".
        keep_start = monitor == "loss"

        xp = net._xp
        labels = xp.argmax(Y, axis=1) if net.head.name == "multiclass" else None
        n = self._n_total = Xc.shape[0]
        batch_hooks = [cb for cb in self.callbacks if _overrides(cb, "on_batch_end")]
        theta = net._theta
        on_host = xp is np  # NumPy: each step checked on the host before it is applied
        if on_host:
            stepper = _CheckedStep(self.optimizer)
            thetas = _AlternatingTheta(net)
        else:  # elsewhere: checked on the device, read once per epoch
            guard = _GuardedStep(self.optimizer)
            step_at_start = self.step
        self._planned_epochs = max(end_epoch - self.epoch, 0)
        for cb in self.callbacks:
            cb.set_trainer(self)
        logs: dict[str, Any] = {}
        for cb in self.callbacks:
            cb.on_train_begin(logs)
        if resumed is not None:
            _ckpt.restore_callbacks(self, resumed)

        diverged: DivergenceError | None = None
        ctrl_c = _CtrlC()
        try:
            # Overflow inside a step surfaces as a non-finite J, gradient or update,
            # which we report with its epoch and layer; NumPy's warnings would say less.
            with (
                _ctrl_c_ends_step() as ctrl_c,
                np.errstate(over="ignore", invalid="ignore", divide="ignore"),
            ):
                while self.epoch < end_epoch and not self.stop_training:
                    epoch = self.epoch
                    logs = {}
                    if position is None:  # a new epoch: fresh shuffle of the row indices
                        for cb in self.callbacks:
                            cb.on_epoch_begin(epoch, logs)
                        batches = self._epoch_batches(n, batch_size)
                        first, total_loss, correct = 0, 0.0, 0.0
                        if keep_start:
                            self._epoch_start = _xp.copy(net._theta)
                    else:  # resumed in the middle of an epoch
                        order, first, total_loss, correct = position
                        batches = self._split(order, n, batch_size)
                        position = None
                    if not on_host:
                        batches = _indices_on(batches, xp, net._device)  # one copy
                        epoch_start_step = self.step
                        correct = 0  # an integer count on the device
                    for b in range(first, len(batches)):
                        idx = batches[b]
                        J, g, n_b, n_correct = self._batch_step(Xc, Y, labels, idx)
                        if not on_host:  # the same step, checked and applied on the device
                            self.opt_state = guard(J, g, self.opt_state, theta)
                        else:
                            # W[l] ← W[l] − α·(step), every layer at once: the optimizer's
                            # update(g, state, θ), added to θ into a second vector
                            # (optimizers.CheckedStep.step_into), with u·g: NaN or inf as
                            # soon as one entry of the gradient or of the update is. So
                            # one dot product checks both before θ changes (entry by entry
                            # only if it fails: the sum itself can overflow). When the
                            # step is provably finite beforehand, it runs in place
                            # (CheckedStep.step) and θ stays in its vector.
                            new_state, new_theta, ug = stepper.step(
                                J, g, self.opt_state, net._theta, thetas.spare
                            )
                            if not (math.isfinite(J) and math.isfinite(ug)) and _non_finite(
                                J, g, new_theta
                            ):
                                raise self._diverged(J, b, len(batches))
                            thetas.use(new_theta)
                            self.opt_state = new_state
                        self.step += 1
                        total_loss += J * n_b
                        correct += n_correct
                        if batch_hooks:
                            blogs = {"loss": J, "size": n_b}
                            for cb in batch_hooks:
                                cb.on_batch_end(b, blogs)
                        if every and self.step % every == 0:
                            self._write_checkpoint(
                                _ckpt.Position(self._order, b + 1, total_loss, correct)
                            )
                        if ctrl_c.pressed:
                            self._position = _ckpt.Position(self._order, b + 1, total_loss, correct)
                            raise _StopRequestedError
                    if not on_host and not bool(guard.ok):  # the epoch's one check
                        raise self._diverged_on_device(
                            guard, step_at_start, epoch_start_step, batches, Xc, Y, labels
                        )
                    logs.update(self._epoch_logs(total_loss, correct, val))
                    self.epoch += 1
                    for cb in self.callbacks:
                        cb.on_epoch_end(epoch, logs)
                    self._position = None
                    if monitor is not None:
                        self._track_best(epoch, logs, monitor)
                    if checkpoint is not None and every is None:
                        self._write_checkpoint(None)
                    if ctrl_c.pressed:
                        raise _StopRequestedError
            if checkpoint is not None and self._ckpt_written != (self.epoch, self.step):
                self._write_checkpoint(None)
        except _StopRequestedError:
            self.interrupted = True
            if checkpoint is not None:
                self._write_checkpoint(self._position)
            elif on_host:  # so that save_checkpoint() can still record what it was trained on
                self._run["data"] = self._run_info(Xc, Y, None, True)["data"]  # type: ignore[index]
        except KeyboardInterrupt:
            if ctrl_c.installed:  # a second Ctrl-C: abort now
                raise
            # Raised mid-step under another SIGINT handler: the optimizer state may be
            # a step ahead of θ, so no checkpoint; keep the parameters as they are.
            self.interrupted = True
        except DivergenceError as exc:
            diverged = exc
        finally:
            if on_host:
                thetas.restore()  # θ back in the network's own vector
            if restore_best and self._best is not None:
                theta[...] = self._best[2]
            for cb in self.callbacks:
                cb.on_train_end(logs)
        if diverged is not None:
            raise diverged
        if self.interrupted:
            kept = (
                "its best parameters"
                if restore_best and self._best is not None
                else ("the parameters of that step")
            )
            where = f", and {self._ckpt_path} can resume the run" if checkpoint else ""
            warnings.warn(
                f"training interrupted at epoch {self.epoch}, step {self.step}: stopped at the "
                f"end of that step; the network keeps {kept}{where}",
                RuntimeWarning,
                stacklevel=2,
            )
        return self.history

    def _check_data(
        self, X: Any, y: Any, batch_size: Any, validation_data: Any
    ) -> tuple[np.ndarray, np.ndarray, int | None, tuple[np.ndarray, np.ndarray] | None]:
        """Validate the data once: (X, Y, batch size or None for batch GD, validation)."""
        net = self.net
        xp = net._xp
        extremes: list[tuple[float, float]] = []
        Xc = net._prepare_X(X, extremes)
        if xp is np:
            check_input_scale(Xc, net.standardizer is not None, extremes=next(iter(extremes), None))
        elif float(xp.max(xp.abs(Xc))) > SCALE_WARNING:  # one read; the message on the host
            check_input_scale(_xp.to_numpy(Xc), net.standardizer is not None)
        Y = net._prepare_y(y, Xc.shape[0])
        if self._require_two_classes:
            check_two_classes(Y if xp is np else _xp.to_numpy(Y), net.head.name)
        n = Xc.shape[0]
        if isinstance(batch_size, str) and batch_size == "auto":
            batch_size = min(32, n)
        if batch_size is not None:
            batch_size = check_positive(batch_size, "batch_size", integer=True)
            if batch_size > n:
                raise ValueError(
                    f"batch_size={batch_size} is larger than the {n} training samples; "
                    "use batch_size=None for batch gradient descent"
                )
            if batch_size == n:
                batch_size = None
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (X_val, y_val)")
            # Checked under their own names first, so an error says which X it means.
            Xv = _xp.check_X_in(
                validation_data[0], xp, net._device, net.dtype, net.layer_sizes[0], name="X_val"
            )
            Xv = net._prepare_X(Xv)
            n_out = net.layer_sizes[-1]
            yv = validation_data[1]
            yv = _xp.to_numpy(yv) if _xp.is_foreign(yv) else yv
            Yv = check_y(yv, net.head.name, n_out, Xv.shape[0], net.dtype, "y_val")
            val = (Xv, Yv if xp is np else _xp.convert(Yv, xp, net._device))
        return Xc, Y, batch_size, val

    def _run_info(
        self, Xc: np.ndarray, Y: np.ndarray, batch_size: int | None, digest: bool
    ) -> dict[str, Any]:
        """What a checkpoint records of the data: batch size, rows, digest (if asked)."""
        return {
            "batch_size": batch_size,
            "n_samples": Xc.shape[0],
            "data": _ckpt.data_digest(Xc, Y) if digest else None,
        }

    def _read_checkpoint(self, checkpoint: Any) -> _ckpt.Checkpoint | None:
        """The checkpoint to resume from (None: none yet); see :func:`checkpoint.load_latest`."""
        return _ckpt.load_latest(checkpoint)

    def _begin_run(
        self,
        Xc: np.ndarray,
        Y: np.ndarray,
        epochs: int,
        batch_size: int | None,
        checkpoint: Any,
        resume: bool,
        restore_best: bool,
    ) -> tuple[_ckpt.Checkpoint | None, _ckpt.Position | None, int]:
        """Reset the per-run state, resume from a checkpoint if asked: (checkpoint read,
        position inside the current epoch, epoch at which the run ends)."""
        self._run = {
            "start_epoch": self.epoch,
            "epochs": epochs,
            **self._run_info(Xc, Y, batch_size, checkpoint is not None),
        }
        if self.opt_state is None:
            self.opt_state = self.optimizer.init(self.net._theta)
        self.stop_training = False
        self.interrupted = False
        self._restore_best = restore_best
        self._best = None
        self._epoch_start = None
        self._position = None
        self._ckpt_path = None if checkpoint is None else _ckpt.checkpoint_files(checkpoint)[0]
        self._ckpt_fell_back = False
        self._ckpt_written = None
        resumed = self._read_checkpoint(checkpoint) if resume else None
        position = None
        if resumed is not None:
            position = _ckpt.restore(self, resumed, self._run)
            self._ckpt_fell_back = resumed.fell_back
            self._ckpt_written = (self.epoch, self.step)
        end_epoch = self._run["start_epoch"] + epochs
        if resumed is not None and self.epoch > end_epoch:
            done = self.epoch - self._run["start_epoch"]
            raise ValueError(
                f"epochs={epochs}, but the checkpoint {resumed.path} has already done {done} "
                f"epochs of its run; pass epochs >= {done}"
            )
        return resumed, position, end_epoch

    def _epoch_logs(
        self, total_loss: float, correct: float, val: tuple[np.ndarray, np.ndarray] | None
    ) -> dict[str, Any]:
        """The epoch's ``loss`` (and ``accuracy``, ``val_loss``, ``val_accuracy``)."""
        net = self.net
        classify = net.head.name in ("binary", "multiclass")
        # float(): sums kept on the device (other libraries than NumPy) are read here
        logs: dict[str, Any] = {"loss": float(total_loss) / self._n_total}
        if classify:
            logs["accuracy"] = float(correct) / self._n_total
            if net._xp is not np and net.head.name == "binary":
                logs["accuracy"] /= net.layer_sizes[-1]  # the device counted entries
        if val is not None:
            Zv, _ = _net.forward(net._params, val[0], net.hidden)
            logs["val_loss"] = float(
                net.head.loss(Zv, val[1])
                + (_net.l2_penalty(net._params, net.l2, Zv.shape[0]) if net.l2 else 0.0)
            )
            if classify:
                logs["val_accuracy"] = _accuracy(net.head.name, Zv, val[1])
        return logs

    def _track_best(self, epoch: int, logs: dict[str, Any], monitor: str) -> None:
        """Keep θ when the monitored cost reaches a new finite minimum: ``val_loss``
        (measured on θ after the epoch) or ``loss`` (measured from θ at its start)."""
        value = float(logs[monitor])
        if math.isfinite(value) and (self._best is None or value < self._best[0]):
            theta = _xp.copy(self.net._theta) if monitor == "val_loss" else self._epoch_start
            self._best = (value, epoch, theta)  # type: ignore[assignment]


def _numpy_only_checkpoints(net: Network) -> None:
    if net._xp is not np:
        raise ValueError(
            "checkpoints are written from NumPy training only; this network computes with "
            f"{_xp.describe(net._xp, net._device)} (train on NumPy arrays, or net.to('numpy'))"
        )


def _indices_on(batches: list[Any], xp: Any, device: Any) -> list[Any]:
    """The epoch's index arrays copied to the device in one transfer (then sliced)."""
    if any(idx is None for idx in batches):
        return batches
    flat = xp.asarray(np.concatenate(batches), device=device)
    out, start = [], 0
    for idx in batches:
        out.append(flat[start : start + idx.shape[0]])
        start += idx.shape[0]
    return out


def _non_finite(J: float, g: np.ndarray, new_theta: np.ndarray) -> bool:
    """Entry by entry: is J, the gradient or θ + update NaN or inf?

    θ is finite, so θ + update is finite exactly when the update is and the sum does
    not overflow.
    """
    return not (math.isfinite(J) and np.isfinite(g).all() and np.isfinite(new_theta).all())


class _AlternatingTheta:
    """θ in two vectors for the NumPy loop: a step writes θ + update into the other one.

    Adding the update in place would change θ before the step is checked; computing the
    update first and adding it after takes two passes over memory. So each step reads θ
    from one vector and writes the new θ into the other (:meth:`CheckedStep.step_into`),
    and :meth:`use` points the network at it once the step is accepted: a refused step
    leaves θ as it was. In between, the network's parameters are views of whichever
    vector is current (callbacks, checkpoints and validation see the current θ);
    :meth:`restore` copies θ back into the network's own vector at the end of
    :meth:`Trainer.fit`, so arrays taken from the network before it stay its parameters.
    """

    def __init__(self, net: Network) -> None:
        self.net = net
        self.home = (net._theta, net._params)
        self.other: tuple[np.ndarray, list] | None = None

    def spare(self) -> np.ndarray:
        """The vector that does not hold the current θ."""
        if self.net._theta is not self.home[0]:
            return self.home[0]
        if self.other is None:
            flat = np.empty_like(self.home[0])
            self.other = (flat, self.net._views(flat))
        return self.other[0]

    def use(self, theta: np.ndarray) -> None:
        pair = self.home if theta is self.home[0] else self.other
        self.net._theta, self.net._params = pair  # type: ignore[misc]

    def restore(self) -> None:
        theta = self.net._theta
        if theta is not self.home[0]:
            self.home[0][...] = theta
            self.net._theta, self.net._params = self.home


def _check_restore_best(restore_best: Any, validated: bool) -> str | None:
    """The cost ``restore_best`` monitors ("loss" or "val_loss"), or None."""
    if isinstance(restore_best, bool):
        if not restore_best:
            return None
        return "val_loss" if validated else "loss"
    if not isinstance(restore_best, str):
        raise TypeError(
            f"restore_best must be True, False, 'loss' or 'val_loss', got {restore_best!r}"
        )
    if restore_best not in ("loss", "val_loss"):
        raise ValueError(
            f"restore_best must be True, False, 'loss' or 'val_loss', got {restore_best!r}"
        )
    if restore_best == "val_loss" and not validated:
        raise ValueError("restore_best='val_loss' needs validation_data")
    return restore_best


def _check_checkpoint_args(checkpoint: Any, every: Any, resume: Any) -> int | None:
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be True or False, got {resume!r}")
    if checkpoint is None:
        if resume:
            raise ValueError("resume=True needs checkpoint=PATH (where to resume from)")
        if every is not None:
            raise ValueError("checkpoint_every needs checkpoint=PATH (where to write)")
        return None
    _ckpt.checkpoint_files(checkpoint)  # type and name checks
    if every is None:
        return None
    return check_positive(every, "checkpoint_every", integer=True)


def _accuracy(head: str, Z: np.ndarray, Y: np.ndarray) -> float:
    xp = _xp.namespace(Z)
    if head == "multiclass":
        return _xp.mean_true(xp.argmax(Z, axis=1) == xp.argmax(Y, axis=1))
    return _xp.mean_true((Z > 0) == (Y > 0.5))


def fit(
    net: Network,
    X: Any,
    y: Any,
    optimizer: Optimizer | None = None,
    epochs: int = 100,
    batch_size: int | str | None = "auto",
    seed: Any = 0,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: bool = False,
    comm: Any = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    restore_best: bool | str = False,
) -> History:
    """Train ``net`` in place by mini-batch gradient descent; return its History.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_samples, n[0])
        Used exactly as given (attach a Standardizer to the network to normalize). It
        is never modified; read-only and non-contiguous arrays are fine. A PyTorch
        tensor (CPU or CUDA), CuPy array or other array API array trains in that library
        on its device: the network is moved there first (``Network.to``).
    y : array-like
        0/1 labels (binary head), class indices or one-hot rows (multiclass), values
        (regression). Classification targets need at least two classes.
    optimizer : Optimizer, default=adam(0.001)
        From :mod:`mlplab.optimizers`, e.g. ``momentum(lr=0.1, beta=0.9)``.
    epochs : int, default=100
    batch_size : int, None or "auto", default="auto"
        None (or n_samples) is batch gradient descent; otherwise mini-batch GD over a
        fresh shuffle of the indices each epoch, the last smaller batch kept. "auto" is
        min(32, n_samples); an explicit size larger than n_samples is an error.
    seed : int or Generator, default=0
        Seed of the shuffles.
    validation_data : (X_val, y_val), optional
        Adds ``val_loss`` (and ``val_accuracy``) to the history after each epoch.
    callbacks : list of Callback
        E.g. ``EarlyStopping``, ``GradientNormLogger``; History is always attached.
    verbose : bool, default=False
        Show a progress bar on stderr (tqdm on a terminal, plain lines otherwise).
    checkpoint : str or Path, optional
        Checkpoint file (or folder, for ``checkpoint.npz`` inside it) written during
        training and when it ends or is interrupted; the previous one is kept as
        ``*.prev.npz``. See :mod:`mlplab.checkpoint`.
    checkpoint_every : int, optional
        Write a checkpoint every this many steps (parameter updates); by default at the
        end of every epoch.
    resume : bool, default=False
        Continue from ``checkpoint`` if it exists (else start afresh): the run ends with
        exactly the parameters and History of an uninterrupted run of ``epochs`` epochs.
        The network, optimizer, batch size, data and callbacks must be the same.
    restore_best : bool or {"loss", "val_loss"}, default=False
        When training ends — normally, by Ctrl-C or by divergence — put back the
        best parameters seen: for ``"val_loss"`` (True with validation data) those
        after the epoch with the lowest ``val_loss``; for ``"loss"`` (True without)
        those at the start of the epoch with the lowest ``loss`` (the cost measured from
        there on; for batch GD, exactly their J).
    comm : mpi4py.MPI.Comm, optional
        Data-parallel training over MPI ranks (:mod:`mlplab.distributed`): X, y are this
        rank's contiguous shard of the training rows, ``batch_size`` the global batch;
        every rank ends with the same parameters. Only rank 0 shows progress and writes
        ``checkpoint``; ``resume`` restores it on every rank, whatever their number.

    Returns
    -------
    History
        ``history.history["loss"]`` etc., one value per completed epoch.

    Raises
    ------
    DivergenceError
        When the cost, a gradient or an update becomes NaN/inf. The step is not applied,
        so the parameters are the last finite ones (the best ones with ``restore_best``).

    Notes
    -----
    Ctrl-C stops training at the end of the current step (a second Ctrl-C aborts at
    once): ``fit`` warns, writes the checkpoint if one was asked for, and returns the
    History of the completed epochs.

    Examples
    --------
    >>> import numpy as np, mlplab
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> net = mlplab.Network([2, 1], seed=0)
    >>> h = mlplab.fit(net, X, [0, 1, 1, 1], optimizer=mlplab.optimizers.sgd(1.0), epochs=3)
    >>> len(h.history["loss"])
    3
    """
    cbs = list(callbacks)
    if verbose and (comm is None or comm.Get_rank() == 0):
        from mlplab.train.progress import ProgressBar

        cbs.append(ProgressBar())
    if comm is not None:  # one shard per MPI rank, gradients all-reduced each step
        from mlplab.train.mpi import DistributedTrainer

        trainer: Trainer = DistributedTrainer(net, optimizer, cbs, seed, comm=comm)
    else:
        trainer = Trainer(net, optimizer, cbs, seed)
        trainer._require_two_classes = True
    return trainer.fit(
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        resume=resume,
        restore_best=restore_best,
    )
