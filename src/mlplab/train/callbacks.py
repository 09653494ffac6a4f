"""Callbacks: hooks into the training loop (a subset of Keras'), with ``logs`` dicts.

Order of a run: ``on_train_begin`` → for each epoch ``on_epoch_begin`` → for each
mini-batch ``on_batch_end`` → ``on_epoch_end`` → ``on_train_end``. A callback can stop
training by setting ``self.trainer.stop_training = True``.

A callback with a state that changes during training (History, EarlyStopping,
GradientNormLogger, and your own) has ``state_dict()`` — a dict of JSON values and
NumPy arrays — and ``load_state_dict(state)``: checkpoints save and restore it.
:class:`CallbackList` calls the callbacks of a run as one, History always last.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlplab import _array_api as _xp


class Callback:
    """Base class: every hook is a no-op; ``self.trainer`` is set before training.

    ``self.trainer`` is the :class:`~mlplab.train.loop.Trainer` running the fit: its
    ``net``, ``optimizer``, ``step``, ``epoch``, ``grads`` and ``stop_training``.
    """

    trainer: Any

    def set_trainer(self, trainer: Any) -> None:
        """Called once before ``on_train_begin``."""
        self.trainer = trainer

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        """Before each epoch (epochs count from 0)."""

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        """After each parameter update; ``logs`` has ``loss`` and ``size``.

        When training with another array library than NumPy (PyTorch, CuPy, ...),
        ``loss`` is a 0-D array on the device: ``float(logs["loss"])`` makes the host
        wait for that step, so keep such reads out of every-batch code if you can.
        """

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """After each epoch; ``logs`` has ``loss``, ``accuracy``, ``val_*``, ..."""

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """After the last epoch (also after an early stop or Ctrl-C)."""


class History(Callback):
    """Per-epoch values of every log key: ``history.history["loss"][epoch]``.

    ``loss`` is the mean cost of the epoch's mini-batches, each computed just before its
    update and weighted by the batch size (for batch gradient descent: J before the
    epoch's update). ``accuracy`` is measured the same way for classification heads;
    ``val_loss``/``val_accuracy`` on the validation data after the epoch.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """After each epoch; ``logs`` has ``loss``, ``accuracy``, ``val_*``, ..."""
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, keys=[{keys}])"

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint stores of this callback (plain JSON-friendly values)."""
        return {"history": self.history, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state that :meth:`state_dict` returned (when a run resumes)."""
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]


def _present(obj: Any, attrs: Sequence[str]) -> dict[str, Any]:
    """The attributes of ``obj`` named in ``attrs`` that are set (hooks set them)."""
    return {a: getattr(obj, a) for a in attrs if hasattr(obj, a)}


def _load(obj: Any, state: dict[str, Any]) -> None:
    for attr, value in state.items():
        setattr(obj, attr, value)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default="val_loss"
        A log key; falls back to ``loss`` when there is no validation data.
    patience : int, default=10
        Epochs without improvement before stopping (scikit-learn's n_iter_no_change).
    min_delta : float, default=1e-4
        The smallest change that counts as an improvement (scikit-learn's tol).
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; auto: larger for accuracies.
    restore_best : bool, default=False
        Put back the parameters of the best epoch when training ends — θ and, with
        batch normalization, the running averages μ[l], σ²[l] of that epoch, so that
        prediction uses the statistics the best parameters were trained with.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 1e-4,
        mode: str = "auto",
        restore_best: bool = False,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0, got {patience!r}")
        if not (isinstance(min_delta, (int, float)) and min_delta >= 0):
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be auto, min or max, got {mode!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = mode
        self.restore_best = restore_best

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Before the first epoch."""
        self.best = math.inf
        self.wait = 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._best_theta: np.ndarray | None = None
        self._best_stats: np.ndarray | None = None
        self._key: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """After each epoch; ``logs`` has ``loss``, ``accuracy``, ``val_*``, ..."""
        if self._key is None:
            key = self.monitor
            if key not in logs and key.startswith("val_") and key[4:] in logs:
                key = key[4:]  # no validation data: monitor the training value
            if key not in logs:
                raise ValueError(
                    f"EarlyStopping monitors {self.monitor!r}, but the logs only have "
                    f"{sorted(logs)}"
                )
            self._key = key
        sign = -1.0 if self.mode == "max" or (self.mode == "auto" and "acc" in self._key) else 1.0
        value = sign * float(logs[self._key])
        if value < self.best - self.min_delta:
            self.best, self.wait, self.best_epoch = value, 0, epoch
            if self.restore_best:
                net = self.trainer.net
                self._best_theta = net.get_flat_params()
                if net._bn_stats.size:  # batch norm: the running μ, σ² of that epoch too
                    self._best_stats = np.array(_xp.to_numpy(net._bn_stats))
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.trainer.stop_training = True

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """After the last epoch (also after an early stop or Ctrl-C)."""
        if self.restore_best and self._best_theta is not None:
            self.trainer.net.set_flat_params(self._best_theta)
            if self._best_stats is not None:
                self.trainer.net.set_running_stats(self._best_stats)

    _STATE = ("best", "wait", "best_epoch", "stopped_epoch", "_key", "_best_theta", "_best_stats")

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint stores of this callback (plain JSON-friendly values)."""
        return _present(self, self._STATE)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state that :meth:`state_dict` returned (when a run resumes)."""
        _load(self, state)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving.

    After ``patience`` epochs without an improvement of at least ``min_delta`` (as
    :class:`EarlyStopping` counts them), every α of the optimizer — a constant, or each
    α_t of a schedule — is multiplied by ``factor`` from the next step on, then the
    count waits ``cooldown`` epochs before it starts again. α never goes below
    ``min_lr``. The factor so far is part of the run's state (``trainer.state.lr_scale``):
    checkpoints keep it, and a resumed run continues with it. The History gets ``lr``,
    the α of each epoch's last step (Keras' and PyTorch's ReduceLROnPlateau).

    Parameters
    ----------
    monitor : str, default="val_loss"
        A log key; falls back to ``loss`` without validation data.
    factor : float, default=0.1
        In (0, 1).
    patience : int, default=10
    min_delta : float, default=1e-4
    cooldown : int, default=0
    min_lr : float, default=0.0
    """

    adjusts_learning_rate = True

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise ValueError(f"factor must lie in (0, 1), got {factor!r}")
        for name, v in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
        for name, x in (("min_delta", min_delta), ("min_lr", min_lr)):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not x >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {x!r}")
        self.monitor, self.factor, self.patience = monitor, float(factor), patience
        self.min_delta, self.cooldown, self.min_lr = float(min_delta), cooldown, float(min_lr)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Before the first epoch."""
        self.best, self.wait, self.cooling = math.inf, 0, 0
        self._key: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """After each epoch; ``logs`` has ``loss``, ``accuracy``, ``val_*``, ..."""
        from mlplab.train import lr as _lr

        if self._key is None:
            key = self.monitor
            if key not in logs and key.startswith("val_") and key[4:] in logs:
                key = key[4:]
            if key not in logs:
                raise ValueError(
                    f"ReduceLROnPlateau monitors {self.monitor!r}, but the logs "
                    f"only have {sorted(logs)}"
                )
            self._key = key
        value = float(logs[self._key])
        if self.cooling > 0:
            self.cooling -= 1
            self.wait = 0
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
        elif self.cooling == 0:
            self.wait += 1
            if self.wait >= self.patience:
                trainer = self.trainer
                now = _lr.current(trainer) or 0.0
                scale = trainer.state.lr_scale * self.factor
                if now > 0 and now * self.factor < self.min_lr:
                    scale = trainer.state.lr_scale * self.min_lr / now
                if scale < trainer.state.lr_scale:
                    _lr.set_scale(trainer, scale)
                self.wait, self.cooling = 0, self.cooldown

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint stores of this callback (plain JSON-friendly values)."""
        return _present(self, ("best", "wait", "cooling", "_key"))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state that :meth:`state_dict` returned (when a run resumes)."""
        _load(self, state)


def _norm_value(x: Any) -> Any:
    """‖x‖₂ as ``float(np.linalg.norm(x))`` gives it, bit for bit, for NumPy arrays.

    ``np.linalg.norm`` computes ``sqrt(x.ravel(order="K") · itself)``; the same three
    operations here skip its argument handling (≈ 1.5 µs a call, paid per layer and step).
    float64 takes ``math.sqrt`` (correctly rounded, as ``np.sqrt``); float32 keeps the
    float32 square root. Other namespaces: the device value of ``_xp.norm``.
    """
    if type(x) is not np.ndarray or x.dtype.kind != "f":
        return _xp.loss_value(_xp.norm(x))
    r = x.ravel(order="K")
    s = r.dot(r)
    return math.sqrt(s) if r.dtype == np.float64 else float(np.sqrt(s))


class GradientNormLogger(Callback):
    """Log the per-layer gradient norms ‖dW[l]‖_F (and ‖db[l]‖), averaged over each epoch.

    Adds ``grad_norm/W1``, ..., ``grad_norm/WL`` (and ``grad_norm/b1``...) to the epoch
    logs, so ``History`` keeps them: vanishing gradients show up as ‖dW[1]‖ ≪ ‖dW[L]‖,
    exploding ones as the reverse, epoch by epoch. On a GPU the sums stay on the device
    and are read once per epoch.
    """

    def __init__(self, biases: bool = False) -> None:
        self.biases = biases

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        """Before each epoch (epochs count from 0)."""
        L = self.trainer.net.L
        self._sum: list[Any] = [0.0] * L  # floats, or 0-D arrays on the device
        self._sum_b: list[Any] = [0.0] * L
        self._count = 0

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        """After each parameter update; ``logs`` has ``loss`` and ``size``."""
        for l, g in enumerate(self.trainer.grads):
            self._sum[l] += _norm_value(g.W)
            if self.biases:
                self._sum_b[l] += _norm_value(g.b)
        self._count += 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """After each epoch; ``logs`` has ``loss``, ``accuracy``, ``val_*``, ..."""
        n = max(self._count, 1)
        for l in range(len(self._sum)):
            logs[f"grad_norm/W{l + 1}"] = float(self._sum[l]) / n
            if self.biases:
                logs[f"grad_norm/b{l + 1}"] = float(self._sum_b[l]) / n

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint stores of this callback (plain JSON-friendly values)."""
        return _present(self, ("_sum", "_sum_b", "_count"))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state that :meth:`state_dict` returned (when a run resumes)."""
        _load(self, state)


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``."""

    def __init__(self, **hooks: Any) -> None:
        for name, fn in hooks.items():
            if not hasattr(Callback, name) or not name.startswith("on_"):
                raise ValueError(f"unknown callback hook {name!r}")
            setattr(self, name, fn)


def percentiles(A: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """``np.percentile(A, q)`` (its default method, "linear"), bit for bit, from one sort.

    NumPy partitions A around every order statistic it needs, slower than one sort on an
    array with many equal values (a ReLU layer's zeros). Here its formula on the sorted
    values: position v = (n − 1)·q/100, its floor i and fraction t, then a + (b − a)·t,
    or b − (b − a)·(1 − t) for t ≥ 0.5, with a, b the values at i and i + 1. Equal values
    are the same bits, except −0.0 and +0.0: where A holds both and a zero is taken, and
    where A holds NaN or is empty, NumPy computes it.

    >>> A = np.array([[3.0, 0.0, 1.0], [0.0, 7.0, 2.0]])
    >>> percentiles(A, (5, 50, 95)).tolist() == np.percentile(A, (5, 50, 95)).tolist()
    True
    """
    s = np.sort(A, axis=None)
    if s.size == 0 or s.dtype.kind != "f" or np.isnan(s[-1]):
        return np.asarray(np.percentile(A, q))
    v = (s.size - 1) * np.true_divide(q, 100)
    lo = np.floor(v)
    t = v - lo
    i = lo.astype(np.intp)
    a, b = s[i], s[np.minimum(i + 1, s.size - 1)]
    if ((a == 0) | (b == 0)).any():  # which of −0.0 and +0.0 (np.sort may swap them)
        below, zeros = np.searchsorted(s, 0, "left"), np.searchsorted(s, 0, "right")
        negative_zeros = np.count_nonzero(np.signbit(A)) - below
        if 0 < negative_zeros < zeros - below:
            return np.asarray(np.percentile(A, q))  # NumPy's choice
    d = b - a
    out: np.ndarray = a + d * t
    np.subtract(b, d * (1 - t), out=out, where=t >= 0.5)
    return out


class ActivationLogger(Callback):
    """Log the distribution of every hidden layer's activations a[l] after each epoch.

    On a fixed sample of the training inputs (at most ``max_rows`` rows), adds to the
    epoch logs ``act/a{l}/p05``, ``p25``, ``p50``, ``p75``, ``p95`` (percentiles of a[l])
    and ``act/a{l}/saturated`` (fraction of units with g'(z) < 0.01: sigmoid/tanh
    saturation, dead ReLUs), l = 1..L−1. ``History`` keeps them, so the percentile bands
    across epochs show activations collapsing or saturating as training goes on.

    Parameters
    ----------
    X : array-like of shape (n_samples, n[0])
        Inputs as given to ``fit`` (the network's Standardizer is applied).
    max_rows : int, default=256
        Rows sampled once (with a fixed seed) and reused every epoch.
    """

    PERCENTILES = (5, 25, 50, 75, 95)

    def __init__(self, X: Any, max_rows: int = 256) -> None:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"X must be a non-empty 2-D array, got shape {X.shape}")
        if X.shape[0] > max_rows:
            rows = np.random.default_rng(0).choice(X.shape[0], max_rows, replace=False)
            X = X[np.sort(rows)]
        self.X = X

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """After each epoch; ``logs`` has ``loss``, ``accuracy``, ``val_*``, ..."""
        net = self.trainer.net
        for l, cache in enumerate(net.forward_cache(self.X)[:-1], start=1):
            A = _xp.to_numpy(cache.A)  # read back if the network trains on another library
            for q, v in zip(self.PERCENTILES, percentiles(A, self.PERCENTILES), strict=True):
                logs[f"act/a{l}/p{q:02d}"] = float(v)
            d = _xp.to_numpy(net.hidden[l - 1].derivative(cache.Z, cache.A))
            logs[f"act/a{l}/saturated"] = float((np.abs(d) < 0.01).mean())


class CallbackList:
    """The callbacks of one run, called as one (Keras's way).

    The user's callbacks come first, then a :class:`~mlplab.train.progress.ProgressBar`
    when asked for, then the trainer's :class:`History` (last: it sees every log key).
    ``on_batch_end`` is called only on the callbacks that define it, so a run without
    such callbacks pays nothing per step.
    """

    def __init__(self, callbacks: Sequence[Callback], trainer: Any) -> None:
        self.callbacks = list(callbacks)
        self.batch_hooks = [cb for cb in self.callbacks if _overrides(cb, "on_batch_end")]
        for cb in self.callbacks:
            cb.set_trainer(trainer)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Call ``on_train_begin`` of every callback, in order."""
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        """Call ``on_epoch_begin`` of every callback, in order."""
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        """Call ``on_batch_end`` of every callback, in order."""
        for cb in self.batch_hooks:
            cb.on_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """Call ``on_epoch_end`` of every callback, in order."""
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """Call ``on_train_end`` of every callback, in order."""
        for cb in self.callbacks:
            cb.on_train_end(logs)


def _overrides(cb: Callback, hook: str) -> bool:
    method = getattr(cb, hook)
    return getattr(method, "__func__", method) is not getattr(Callback, hook)
