r"""An L-layer fully connected network: its parameters θ, and the methods that use them.

Notation (the lecture's, see ``docs/notation.md``): layers l = 1..L, n[l] units in layer
l, n[0] input features; W[l] has shape (n[l], n[l-1]) and b[l] shape (n[l],); rows of X
are samples, so for a batch ``Z = A_prev @ W.T + b`` is z[l] = W[l] a[l-1] + b[l] for
every row at once. The last layer outputs the logits z[L]; the head applies its link
(σ, softmax or identity) and owns the loss.

The computations are the functions of :mod:`mlplab.core.backprop` (``forward``,
``backward``, ``loss_and_grads``, also importable from here). They compute in the
namespace of the arrays they are given — NumPy, PyTorch (CPU or CUDA), CuPy, or any
array API library (:mod:`mlplab._array_api`) — and a ``Network`` keeps its parameters in
one namespace, NumPy unless :meth:`Network.to` (or :func:`mlplab.fit` with such arrays)
moved them. The trainer's NumPy fast path is :mod:`mlplab.fast.workspace`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array, DenseParams, Params
from mlplab._validation import (
    as_array,
    as_generator,
    check_dtype,
    check_layer_sizes,
    check_positive,
    check_y,
)
from mlplab.core import activations as _act
from mlplab.core import heads as _heads
from mlplab.core import inputs as _inputs
from mlplab.core import layer_options as _opts
from mlplab.core import netdata as _data
from mlplab.core import params as _theta
from mlplab.core.activations import Activation
from mlplab.core.backprop import (  # re-exported: `name as name` says so to type checkers
    backward as backward,
)
from mlplab.core.backprop import (
    forward as forward,
)
from mlplab.core.backprop import (
    init_params as init_params,
)
from mlplab.core.backprop import (
    l2_penalty as l2_penalty,
)
from mlplab.core.backprop import (
    loss_and_all_grads as loss_and_all_grads,
)
from mlplab.core.backprop import (
    loss_and_grads as loss_and_grads,
)
from mlplab.core.batchnorm import BNParams, BNStats
from mlplab.core.heads import Head
from mlplab.core.initializers import Initializer
from mlplab.core.layers import LayerCache


class Network:
    """An L-layer fully connected network with a fused output head.

    Parameters
    ----------
    layer_sizes : list of int
        ``[n0, n1, ..., nL]``: n[0] input features, n[L] outputs. ``[n0, 1]`` with the
        binary head is logistic regression.
    hidden : str, Activation or list of them, default="relu"
        g[l] for the hidden layers l = 1..L−1: one for all, or one per layer.
    output : {"binary", "multiclass", "regression", "poisson"}, default="binary"
        The output head (last activation fused with its loss).
    init : str, callable or list of them, optional
        Weight initializer(s); default: He for ReLU layers, Xavier otherwise
        (``mlplab.initializers.DEFAULT_INIT``). Biases start at zero.
    seed : int or numpy.random.Generator, default=0
        Seed of the initialization draw.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the parameters and of every computation.
    l2 : float, default=0.0
        λ of the L2 penalty (λ / 2n) Σ‖W[l]‖² added to J (biases not penalized).
    standardizer : mlplab.data.Standardizer, optional
        If set, every method that takes X (and :func:`mlplab.fit`) standardizes X with it
        first, and it is saved with the model. Without it X is used exactly as given.
    keep_prob : float or list of floats, default=1.0
        Inverted dropout (:mod:`mlplab.core.dropout`): p[l], the probability of keeping
        a unit of hidden layer l during training; one for all or one per hidden layer.
        1.0 is no dropout. Prediction never drops.
    batch_norm : bool or list of bools, default=False
        Batch-normalize z[l] of the hidden layers (all, or per hidden layer):
        z̃ = γ ⊙ ẑ + β with γ, β trained (:mod:`mlplab.core.batchnorm`).
    bn_momentum, bn_eps : float, default=0.9, 1e-5
        β of the running averages used at inference (PyTorch's momentum is 1 − β), and ε.

    Notes
    -----
    The parameters are drawn with NumPy's Generator and live in NumPy arrays.
    :meth:`to` moves them, once, to another array library or device (PyTorch, CuPy, ...),
    and :func:`mlplab.fit` does so by itself when X is such an array. Every method then
    computes there: X and y given as NumPy arrays are converted to that namespace and
    device, and results come back as its arrays (``net.xp`` and ``net.device`` say
    where). :func:`mlplab.save` always writes NumPy arrays.

    Examples
    --------
    >>> import numpy as np, mlplab
    >>> net = mlplab.Network([2, 3, 1], hidden="tanh", seed=0)
    >>> [W.shape for W in net.weights]
    [(3, 2), (1, 3)]
    >>> net.forward(np.zeros((4, 2))).shape
    (4, 1)
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        hidden: str | Activation | Sequence[str | Activation] = "relu",
        output: str | Head = "binary",
        init: str | Initializer | Sequence[str | Initializer] | None = None,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = "float32",
        l2: float = 0.0,
        standardizer: Any = None,
        *,
        keep_prob: float | Sequence[float] = 1.0,
        batch_norm: bool | Sequence[bool] = False,
        bn_momentum: float = 0.9,
        bn_eps: float = 1e-5,
    ) -> None:
        self.layer_sizes = check_layer_sizes(layer_sizes)
        L = len(self.layer_sizes) - 1
        self.dtype = check_dtype(dtype)
        self.head = _heads.get(output)
        if self.head.name == "multiclass" and self.layer_sizes[-1] < 2:
            raise ValueError(
                "the multiclass head needs n[L] >= 2 output units (one per class), got "
                f"n[L]={self.layer_sizes[-1]}; use output='binary' for two classes"
            )
        if isinstance(hidden, (str, Activation)):
            self.hidden = [_act.get(hidden)] * (L - 1)
        else:
            hidden = list(hidden)
            if len(hidden) != L - 1:
                raise ValueError(
                    f"hidden has {len(hidden)} activations, but the network has L-1={L - 1} "
                    "hidden layers"
                )
            self.hidden = [_act.get(h) for h in hidden]
        self.l2 = check_positive(l2, "l2", allow_zero=True)
        self.options = _opts.parse(L, keep_prob, batch_norm, bn_momentum, bn_eps)
        self.standardizer = standardizer
        inits = _data.initializers(init, [g.name for g in self.hidden] + [self.head.name])
        self.init = [getattr(i, "__name__", repr(i)) for i in inits]
        self.seed = seed if isinstance(seed, int) else None
        self._xp: _xp.Namespace = np  # where θ lives (see to()): NumPy until moved
        self._device: Any = None
        rng = as_generator(seed)
        # All parameters live in one flat vector θ; W[l] and b[l] are views into it, so
        # an optimizer can update every parameter with a few vectorized operations.
        self._theta = np.empty(self.n_params, dtype=self.dtype)
        self._params = self._views(self._theta)
        for view, drawn in zip(
            self._params,
            init_params(self.layer_sizes, inits, rng, self.dtype),
            strict=True,
        ):
            view.W[...] = drawn.W
            view.b[...] = drawn.b
        # batch norm: γ = 1, β = 0 after the dense layers; running μ = 0, σ² = 1 beside θ
        self._bn_stats = np.empty(_opts.n_norm_params(self.layer_sizes, self.options), self.dtype)
        _opts.init_norms(self._theta, self._bn_stats, self.layer_sizes, self.options)

    # -- structure ---------------------------------------------------------------
    @property
    def L(self) -> int:
        """Number of layers with parameters (the input layer is not counted)."""
        return len(self.layer_sizes) - 1

    @property
    def n_params(self) -> int:
        """Total number of weights and biases (and batch norm's γ, β)."""
        return _theta.n_dense_params(self.layer_sizes) + _opts.n_norm_params(
            self.layer_sizes, self.options
        )

    @property
    def norm_params(self) -> list[BNParams | None]:
        """γ[l], β[l] (BNParams views of θ) of each hidden layer, None where not normalized."""
        return _opts.norm_views(self._theta, self.layer_sizes, self.options)

    @property
    def running_stats(self) -> list[BNStats | None]:
        """Running μ[l], σ²[l] (BNStats) of each hidden layer, None where not normalized."""
        return _opts.stats_views(self._bn_stats, self.layer_sizes, self.options)

    def _views(self, flat: Array) -> Params:
        """W[l], b[l] as views of a θ-sized vector in storage order (:func:`params.views`)."""
        return _theta.views(flat, self.layer_sizes)

    # -- where the parameters live ----------------------------------------------------
    @property
    def xp(self) -> Any:
        """The array namespace of the parameters: :mod:`numpy` unless :meth:`to` moved them."""
        return self._xp

    @property
    def device(self) -> Any:
        """The device of the parameters (None for NumPy)."""
        return self._device

    def to(self, xp: Any, device: Any = None) -> Network:
        """Move the parameters to another array library or device, in place; return self.

        Parameters
        ----------
        xp : module, str or array
            The target namespace: ``numpy``, ``torch``, ``cupy``, ``array_api_strict``
            (the module or its name), or an array, whose namespace and device are taken.
        device : optional
            The device in that library (``"cuda"``, ``"cuda:1"``, ``torch.device(...)``,
            ...); default: the array's device, else the library's default device.

        Returns
        -------
        Network
            ``self``, now computing in that namespace: every method converts X to it, and
            :func:`mlplab.fit` trains there without copying back to the host.

        Notes
        -----
        One copy of θ (through the host between libraries). Moving back with
        ``net.to(numpy)`` restores the NumPy training fast path. Trainer state made for
        the old place (optimizer moments) moves with the next ``fit``.

        Examples
        --------
        >>> import numpy as np, mlplab
        >>> net = mlplab.Network([2, 3, 1], seed=0)
        >>> net.to("numpy") is net
        True
        """
        target, dev = _xp.resolve(xp, device)
        if target is self._xp and dev == self._device:
            return self
        if target is not np:
            _xp.check_views_write_through(target, dev)
        theta = _xp.convert(self._theta, target, dev, self.dtype)
        self._bn_stats = _opts.stats_to(self._bn_stats, target, dev, self.dtype)
        self._theta, self._params = theta, self._views(theta)
        self._xp, self._device = target, _xp.device_of(theta)
        return self

    # -- parameters ---------------------------------------------------------------
    def _set_array(self, l: int, which: str, value: Any) -> None:
        if not -self.L <= l < self.L:
            raise IndexError(f"layer index {l} out of range for L={self.L} layers")
        target = getattr(self._params[l], which)
        name = f"{'W' if which == 'W' else 'b'}[{l % self.L + 1}]"
        arr = _xp.to_numpy(value) if _xp.is_foreign(value) else as_array(value, name)
        if arr.shape != tuple(target.shape):
            raise ValueError(f"{name} must have shape {tuple(target.shape)}, got {arr.shape}")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if self._xp is not np:
            arr = _xp.convert(arr, self._xp, self._device, self.dtype)
        target[...] = arr

    @property
    def params(self) -> list[DenseParams]:
        """``[(W[1], b[1]), ..., (W[L], b[L])]``; assign a list of the same shapes to replace."""
        return list(self._params)

    @params.setter
    def params(self, new: Sequence[tuple[Any, Any]]) -> None:
        new = list(new)
        if len(new) != self.L:
            raise ValueError(f"params needs {self.L} (W, b) pairs, got {len(new)}")
        for l, pair in enumerate(new):
            W, b = pair
            self._set_array(l, "W", W)
            self._set_array(l, "b", b)

    @property
    def weights(self) -> list[Array]:
        """``[W[1], ..., W[L]]``, W[l] of shape (n[l], n[l-1]); assignable per item or whole."""
        return _theta.LayerList(
            (p.W for p in self._params), lambda l, v: self._set_array(l, "W", v)
        )

    @weights.setter
    def weights(self, new: Sequence[Any]) -> None:
        new = list(new)
        if len(new) != self.L:
            raise ValueError(f"weights needs {self.L} arrays, got {len(new)}")
        for l, W in enumerate(new):
            self._set_array(l, "W", W)

    @property
    def biases(self) -> list[Array]:
        """``[b[1], ..., b[L]]``, b[l] of shape (n[l],); assignable per item or whole."""
        return _theta.LayerList(
            (p.b for p in self._params), lambda l, v: self._set_array(l, "b", v)
        )

    @biases.setter
    def biases(self, new: Sequence[Any]) -> None:
        new = list(new)
        if len(new) != self.L:
            raise ValueError(f"biases needs {self.L} arrays, got {len(new)}")
        for l, b in enumerate(new):
            self._set_array(l, "b", b)

    def _to_rows(self, flat: Array) -> Array:
        """A θ-sized vector in storage order → a new one with W[l] by rows."""
        return _theta.to_rows(flat, self.layer_sizes)

    def _from_rows(self, rows: Array, out: Array | None = None) -> Array:
        """Inverse of :meth:`_to_rows`: ``rows`` (W[l] by rows) written in storage order."""
        return _theta.from_rows(rows, self.layer_sizes, out)

    def get_flat_params(self) -> Array:
        """A copy of θ, all parameters as one vector (W[1], b[1], ..., W[L], b[L]).

        Each W[l] row by row (C order), then b[l]. An array of the network's namespace,
        on its device.
        """
        return self._to_rows(self._theta)

    def set_flat_params(self, theta: Any) -> None:
        """Replace every parameter from one vector laid out as :meth:`get_flat_params`."""
        xp, shape = self._xp, tuple(self._theta.shape)
        if xp is not np and _xp.is_foreign(theta) and _xp.namespace(theta) is xp:
            # Same library: checked and copied on the device (one read of "all finite").
            if tuple(theta.shape) != shape:
                raise ValueError(f"theta must have shape {shape}, got {tuple(theta.shape)}")
            if not bool(xp.all(xp.isfinite(theta))):
                raise ValueError("theta contains NaN or infinite values")
            self._from_rows(_xp.convert(theta, xp, self._device, self.dtype), out=self._theta)
            return
        arr = _xp.to_numpy(theta) if _xp.is_foreign(theta) else np.asarray(theta)
        if arr.shape != shape:
            raise ValueError(f"theta must have shape {shape}, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError("theta contains NaN or infinite values")
        if xp is not np:
            arr = _xp.convert(arr, xp, self._device, self.dtype)
        self._from_rows(arr, out=self._theta)

    # -- data in -------------------------------------------------------------------
    def _prepare_X(self, X: Any, extremes: list[Any] | None = None) -> Array:
        """X checked and converted for this network (:func:`mlplab.core.inputs.prepare_X`)."""
        return _inputs.prepare_X(self, X, extremes)

    def _prepare_y(self, y: Any, n_samples: int) -> Array:
        # Targets are checked on the host (labels, one-hot rows, value sets), once per
        # call: a device y is read back for the check and its result copied over.
        y_host = _xp.to_numpy(y) if _xp.is_foreign(y) else y
        Y = check_y(y_host, self.head.name, self.layer_sizes[-1], n_samples, self.dtype)
        return Y if self._xp is np else _xp.convert(Y, self._xp, self._device)

    # -- computations ----------------------------------------------------------------
    def logits(self, X: Any) -> Array:
        """z[L] for every row of X, shape (n_samples, n[L])."""
        Z_L, _ = forward(self._params, self._prepare_X(X), self.hidden, _opts.inference_norms(self))
        return Z_L

    def forward(self, X: Any) -> Array:
        """a[L] = link(z[L]) for every row of X, shape (n_samples, n[L])."""
        return self.head.link(self.logits(X))

    def forward_cache(self, X: Any) -> list[LayerCache]:
        """Every layer's (a[l-1], z[l], a[l]) for X: what backprop and diagnostics use."""
        Xc = self._prepare_X(X)
        _, caches = forward(self._params, Xc, self.hidden, _opts.inference_norms(self))
        return caches

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities a[L], shape (n_samples, n[L]).

        For the binary head column k is P(y_k = 1); with one output that is P(y = 1).
        """
        if self.head.name in ("regression", "poisson"):
            raise AttributeError(f"predict_proba needs a classification head, not {self.head.name}")
        return self.forward(X)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions: 0/1 (binary), class index (multiclass) or values (regression).

        Single-output heads return shape (n_samples,); several outputs (n_samples, n[L]).
        """
        xp = self._xp
        Z_L = self.logits(X)
        if self.head.name == "multiclass":
            return xp.argmax(Z_L, axis=1)
        # binary: σ(z) > 0.5 ⇔ z > 0
        out = _xp.astype(Z_L > 0, xp.int64) if self.head.name == "binary" else Z_L
        if self.head.name == "poisson":  # the mean e^z
            out = xp.exp(Z_L)
        return out[:, 0] if out.shape[1] == 1 else out

    def loss(self, X: Any, y: Any) -> float:
        """The cost J = (1/n) Σ L(i) (plus the L2 penalty if l2 > 0)."""
        J, _ = self.loss_and_grads(X, y)
        return J

    def loss_and_grads(self, X: Any, y: Any) -> tuple[float, list[DenseParams]]:
        """J and ``[(dW[1], db[1]), ..., (dW[L], db[L])]`` with the parameters' shapes.

        J is a float; the gradients are arrays of the network's namespace. As the network
        predicts: batch norm with its running averages, nothing dropped (the trainer's
        cost uses batch statistics and dropout masks: :func:`backprop.loss_and_all_grads`).
        """
        Xc = self._prepare_X(X)
        Y = self._prepare_y(y, Xc.shape[0])
        if self.options.normalized:
            args = (self._params, Xc, Y, self.hidden, self.head, self.l2)
            J, all_grads = loss_and_all_grads(*args, _opts.inference_norms(self), training=False)
            return float(J), all_grads.dense
        J, grads = loss_and_grads(self._params, Xc, Y, self.hidden, self.head, self.l2)
        return float(J), grads

    def score(self, X: Any, y: Any) -> float:
        """Accuracy for classification heads, R² for regression."""
        Xc = self._prepare_X(X)
        Y = self._prepare_y(y, Xc.shape[0])
        Z_L, _ = forward(self._params, Xc, self.hidden, _opts.inference_norms(self))
        xp = self._xp
        if self.head.name == "multiclass":
            return _xp.mean_true(xp.argmax(Z_L, axis=1) == xp.argmax(Y, axis=1))
        if self.head.name == "binary":
            return _xp.mean_true((Z_L > 0) == (Y > 0.5))
        if self.head.name == "poisson":
            Z_L = xp.exp(Z_L)
        ss_res = xp.sum((Y - Z_L) ** 2, axis=0)
        ss_tot = xp.sum((Y - xp.mean(Y, axis=0)) ** 2, axis=0)
        r2 = 1 - ss_res / xp.where(ss_tot == 0, 1.0, ss_tot)
        return float(xp.mean(r2))

    # -- misc -------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return _data.getstate(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        _data.setstate(self, state)

    def copy(self) -> Network:
        """An independent copy (parameters copied, not shared)."""
        import copy as _copy

        new = _copy.copy(self)
        new._theta, new._bn_stats = _xp.copy(self._theta), _xp.copy(self._bn_stats)
        new._params = new._views(new._theta)
        new.standardizer = _copy.deepcopy(self.standardizer)
        return new

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Network:
        """A Network with the architecture :meth:`config` describes (weights all zero)."""
        net: Network = _data.from_config(cls, cfg)
        return net

    def config(self) -> dict[str, Any]:
        """Architecture as plain data (what a model file stores besides the arrays)."""
        return _data.config(self)

    def summary(self) -> str:
        """A short table: one line per layer with W's shape and parameter count."""
        return _data.summary(self)

    def __repr__(self) -> str:
        return _data.describe(self)

    # -- as plain data (pickled estimators) -----------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The network as plain data: its config, a NumPy copy of θ (W[l] by rows), the
        Standardizer's (μ, σ) or None, and batch norm's running averages if it has them.
        No functions: :meth:`from_state_dict` rebuilds it."""
        return _data.state_dict(self)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Network:
        """Inverse of :meth:`state_dict` (θ, the statistics and the Standardizer are checked)."""
        net: Network = _data.from_state_dict(cls, state)
        return net

    def set_running_stats(self, stats: Any) -> None:
        """Replace batch norm's running μ[l], σ²[l] from one flat vector (checked): the
        layout of :attr:`running_stats` (μ then σ² of each normalized layer in order)."""
        _data.set_running_stats(self, stats)
