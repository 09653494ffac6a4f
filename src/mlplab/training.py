r"""The training loop: epochs of shuffled mini-batches, one optimizer step per batch.

Read it top to bottom; it is the lecture's algorithm::

    for epoch in range(epochs):
        for batch in shuffled mini-batches of X:        # batch_size=None: all of X
            J, dW, db = forward + backprop on the batch  # dZ[L] = (a[L] − y)/n_batch
            v = update(dW, db)                          # sgd, momentum, adam, ...
            W[l] ← W[l] + update[l]  for every l

All parameters live in one flat vector θ (W[l], b[l] are views into it), and so do the
gradients: the optimizer updates the whole network with a few vectorized operations.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlplab import network as _net
from mlplab._validation import as_generator, check_positive
from mlplab.callbacks import Callback, History
from mlplab.network import Network
from mlplab.optimizers import Optimizer
from mlplab.optimizers import adam as _adam


class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinite cost or gradient; the parameters are the
    last finite ones. ``epoch``, ``step`` and ``layer`` (1-based, or None) say where."""

    def __init__(self, message: str, epoch: int, step: int, layer: int | None) -> None:
        super().__init__(message)
        self.epoch, self.step, self.layer = epoch, step, layer


def _overrides(cb: Callback, hook: str) -> bool:
    method = getattr(cb, hook)
    return getattr(method, "__func__", method) is not getattr(Callback, hook)


class Trainer:
    """Holds what a training run changes — the network, optimizer state, step count,
    RNG — and runs the loop. Callbacks see it as ``self.trainer``.

    Calling :meth:`fit` again continues where the last call stopped (same optimizer
    state, same RNG stream).

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
        self._grad_flat = np.zeros_like(net._theta)
        self.grads = net._views(self._grad_flat)

    # -- one step ---------------------------------------------------------------
    def _loss_and_grads(self, Xb: np.ndarray, Yb: np.ndarray) -> tuple[float, np.ndarray]:
        """J on the batch and dJ/dθ written into the flat gradient buffer."""
        net = self.net
        Z_L, caches = _net.forward(net._params, Xb, net.hidden)
        J, dZ_L = net.head.loss_and_grad(Z_L, Yb)  # dZ[L] = (a[L] − y) / n_batch
        _net.backward(dZ_L, net._params, caches, net.hidden, out=self.grads)
        if net.l2:
            n_b = Xb.shape[0]
            J += _net.l2_penalty(net._params, net.l2, n_b)
            for g, p in zip(self.grads, net._params, strict=True):
                g.W[...] += (net.l2 / n_b) * p.W  # d/dW of (λ/2n)‖W‖² = (λ/n) W
        self._last_Z = Z_L
        return J, self._grad_flat

    def _epoch_batches(self, n: int, batch_size: int | None) -> list[np.ndarray | None]:
        """Index arrays of this epoch's mini-batches; ``[None]`` means all rows, in order.

        Batch gradient descent needs no shuffle (the gradient is a sum over all rows)
        and no copy of X; mini-batch GD shuffles indices, not data, with ``self.rng``.
        """
        if batch_size is None:
            return [None]
        order = self.rng.permutation(n)
        return [order[s : s + batch_size] for s in range(0, n, batch_size)]

    def _batch_step(
        self, Xc: np.ndarray, Y: np.ndarray, labels: np.ndarray | None, idx: np.ndarray | None
    ) -> tuple[float, np.ndarray, int, float]:
        """Forward + backprop on rows ``idx``: (J, flat dJ/dθ, batch size, # correct)."""
        Xb, Yb = (Xc, Y) if idx is None else (Xc[idx], Y[idx])
        J, g = self._loss_and_grads(Xb, Yb)
        n_b = Xb.shape[0]
        correct = 0.0
        Z = self._last_Z
        if labels is not None:  # multiclass
            lb = labels if idx is None else labels[idx]
            correct = float((Z.argmax(axis=1) == lb).sum())
        elif self.net.head.name == "binary":
            correct = float(((Z > 0) == (Yb > 0.5)).mean()) * n_b
        return J, g, n_b, correct

    def _diverged(self, J: float, batch: int) -> DivergenceError:
        layer = None
        for l, g in enumerate(self.grads):
            if not (np.isfinite(g.W).all() and np.isfinite(g.b).all()):
                layer = l + 1
                break
        what = "cost J" if not math.isfinite(J) else f"gradient of layer {layer}"
        return DivergenceError(
            f"training diverged at epoch {self.epoch}, step {self.step} (batch {batch}): "
            f"the {what} became {'NaN' if J != J else 'infinite or NaN'}. The parameters "
            "are the last finite ones. Likely causes: a learning rate too high, or inputs "
            "that are not normalized (try a Standardizer).",
            self.epoch,
            self.step,
            layer,
        )

    # -- the loop -------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 100,
        batch_size: int | str | None = "auto",
        validation_data: tuple[Any, Any] | None = None,
    ) -> History:
        """Train ``self.net`` in place for ``epochs`` epochs; returns the History.

        ``batch_size="auto"`` is min(32, n_samples); see :func:`fit` for the rest.
        """
        net = self.net
        epochs = check_positive(epochs, "epochs", integer=True, allow_zero=True)
        Xc = net._prepare_X(X)
        Y = net._prepare_y(y, Xc.shape[0])
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
            Xv = net._prepare_X(validation_data[0])
            val = (Xv, net._prepare_y(validation_data[1], Xv.shape[0]))

        if self.opt_state is None:
            self.opt_state = self.optimizer.init(net._theta)
        classify = net.head.name in ("binary", "multiclass")
        labels = Y.argmax(axis=1) if net.head.name == "multiclass" else None
        self._n_total = n
        batch_hooks = [cb for cb in self.callbacks if _overrides(cb, "on_batch_end")]
        theta = net._theta
        update = self.optimizer.update
        self.stop_training = False
        self._planned_epochs = epochs
        for cb in self.callbacks:
            cb.set_trainer(self)
        logs: dict[str, Any] = {}
        for cb in self.callbacks:
            cb.on_train_begin(logs)
        try:
            # Overflow inside a step surfaces as a non-finite J or gradient, which we
            # report with its epoch and layer; NumPy's own warnings would say less.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for _ in range(epochs):
                    epoch = self.epoch
                    logs = {}
                    for cb in self.callbacks:
                        cb.on_epoch_begin(epoch, logs)
                    total_loss = 0.0
                    correct = 0.0
                    for b, idx in enumerate(self._epoch_batches(n, batch_size)):
                        J, g, n_b, n_correct = self._batch_step(Xc, Y, labels, idx)
                        gg = float(g @ g)  # ‖∇J‖²: NaN/inf here means divergence
                        if not (math.isfinite(J) and math.isfinite(gg)):
                            raise self._diverged(J, b)
                        total_loss += J * n_b
                        correct += n_correct
                        updates, self.opt_state = update(g, self.opt_state, theta)
                        theta += updates  # W[l] ← W[l] − α·(step), every layer at once
                        self.step += 1
                        if batch_hooks:
                            blogs = {"loss": J, "size": n_b}
                            for cb in batch_hooks:
                                cb.on_batch_end(b, blogs)
                    logs["loss"] = total_loss / self._n_total
                    if classify:
                        logs["accuracy"] = correct / self._n_total
                    if val is not None:
                        Zv, _ = _net.forward(net._params, val[0], net.hidden)
                        logs["val_loss"] = net.head.loss(Zv, val[1]) + (
                            _net.l2_penalty(net._params, net.l2, Zv.shape[0]) if net.l2 else 0.0
                        )
                        if classify:
                            logs["val_accuracy"] = _accuracy(net.head.name, Zv, val[1])
                    self.epoch += 1
                    for cb in self.callbacks:
                        cb.on_epoch_end(epoch, logs)
                    if self.stop_training:
                        break
        except KeyboardInterrupt:
            warnings.warn(
                f"training interrupted at epoch {self.epoch}, step {self.step}; keeping "
                "the parameters of the last completed step",
                RuntimeWarning,
                stacklevel=2,
            )
        for cb in self.callbacks:
            cb.on_train_end(logs)
        return self.history


def _accuracy(head: str, Z: np.ndarray, Y: np.ndarray) -> float:
    if head == "multiclass":
        return float((Z.argmax(axis=1) == Y.argmax(axis=1)).mean())
    return float(((Z > 0) == (Y > 0.5)).mean())


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
) -> History:
    """Train ``net`` in place by mini-batch gradient descent; return its History.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_samples, n[0])
        Used exactly as given (attach a Standardizer to the network to normalize).
    y : array-like
        0/1 labels (binary head), class indices or one-hot rows (multiclass), values
        (regression).
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
    comm : mpi4py.MPI.Comm, optional
        Data-parallel training over MPI ranks (:mod:`mlplab.distributed`): X, y are this
        rank's contiguous shard of the training rows, ``batch_size`` the global batch;
        every rank ends with the same parameters. Only rank 0 shows progress.

    Returns
    -------
    History
        ``history.history["loss"]`` etc., one value per epoch.

    Raises
    ------
    DivergenceError
        When the cost or a gradient becomes NaN/inf (the parameters stay finite).
    """
    cbs = list(callbacks)
    if verbose and (comm is None or comm.Get_rank() == 0):
        from mlplab.progress import ProgressBar

        cbs.append(ProgressBar())
    if comm is not None:  # one shard per MPI rank, gradients all-reduced each step
        from mlplab.distributed import DistributedTrainer

        trainer: Trainer = DistributedTrainer(net, optimizer, cbs, seed, comm=comm)
    else:
        trainer = Trainer(net, optimizer, cbs, seed)
    return trainer.fit(X, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data)
