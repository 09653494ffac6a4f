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

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array, DenseParams, Params
from mlplab._validation import (
    as_generator,
    check_dtype,
    check_layer_sizes,
    check_positive,
    check_y,
)
from mlplab.core import activations as _act
from mlplab.core import heads as _heads
from mlplab.core import initializers as _init
from mlplab.core import inputs as _inputs
from mlplab.core import params as _theta
from mlplab.core.activations import Activation
from mlplab.core.backprop import (  # noqa: F401  (backward, l2_penalty: re-exported)
    backward,
    forward,
    init_params,
    l2_penalty,
    loss_and_grads,
)
from mlplab.core.heads import Head
from mlplab.core.layers import Cache


class Network:
    """An L-layer fully connected network with a fused output head.

    Parameters
    ----------
    layer_sizes : list of int
        ``[n0, n1, ..., nL]``: n[0] input features, n[L] outputs. ``[n0, 1]`` with the
        binary head is logistic regression.
    hidden : str, Activation or list of them, default="relu"
        g[l] for the hidden layers l = 1..L−1: one for all, or one per layer.
    output : {"binary", "multiclass", "regression"}, default="binary"
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
        init: str | Callable | Sequence[str | Callable] | None = None,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = "float32",
        l2: float = 0.0,
        standardizer: Any = None,
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
        self.standardizer = standardizer
        layer_acts = [g.name for g in self.hidden] + [self.head.name]
        if init is None:
            inits = [_init.default_for(a) for a in layer_acts]
        elif isinstance(init, str) or callable(init):
            inits = [_init.get(init)] * L
        else:
            init = list(init)
            if len(init) != L:
                raise ValueError(f"init has {len(init)} entries, but the network has L={L} layers")
            inits = [_init.get(i) for i in init]
        self.init = [getattr(i, "__name__", repr(i)) for i in inits]
        self.seed = seed if isinstance(seed, int) else None
        self._xp: Any = np  # where θ lives (see to()): NumPy until moved
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

    # -- structure ---------------------------------------------------------------
    @property
    def L(self) -> int:
        """Number of layers with parameters (the input layer is not counted)."""
        return len(self.layer_sizes) - 1

    @property
    def n_params(self) -> int:
        """Total number of weights and biases."""
        s = self.layer_sizes
        return sum(s[l] * s[l - 1] + s[l] for l in range(1, len(s)))

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
        self._theta, self._params = theta, self._views(theta)
        self._xp, self._device = target, _xp.device_of(theta)
        return self

    # -- parameters ---------------------------------------------------------------
    def _set_array(self, l: int, which: str, value: Any) -> None:
        if not -self.L <= l < self.L:
            raise IndexError(f"layer index {l} out of range for L={self.L} layers")
        target = getattr(self._params[l], which)
        name = f"{'W' if which == 'W' else 'b'}[{l % self.L + 1}]"
        arr = _xp.to_numpy(value) if _xp.is_foreign(value) else np.asarray(value)
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
    def _prepare_X(self, X: Any, extremes: list | None = None) -> Array:
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
        Z_L, _ = forward(self._params, self._prepare_X(X), self.hidden)
        return Z_L

    def forward(self, X: Any) -> Array:
        """a[L] = link(z[L]) for every row of X, shape (n_samples, n[L])."""
        return self.head.link(self.logits(X))

    def forward_cache(self, X: Any) -> list[Cache]:
        """Every layer's (a[l-1], z[l], a[l]) for X: what backprop and diagnostics use."""
        _, caches = forward(self._params, self._prepare_X(X), self.hidden)
        return caches

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities a[L], shape (n_samples, n[L]).

        For the binary head column k is P(y_k = 1); with one output that is P(y = 1).
        """
        if self.head.name == "regression":
            raise AttributeError("predict_proba needs a classification head, not regression")
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
        return out[:, 0] if out.shape[1] == 1 else out

    def loss(self, X: Any, y: Any) -> float:
        """The cost J = (1/n) Σ L(i) (plus the L2 penalty if l2 > 0)."""
        J, _ = self.loss_and_grads(X, y)
        return J

    def loss_and_grads(self, X: Any, y: Any) -> tuple[float, list[DenseParams]]:
        """J and ``[(dW[1], db[1]), ..., (dW[L], db[L])]`` with the parameters' shapes.

        J is a float; the gradients are arrays of the network's namespace.
        """
        Xc = self._prepare_X(X)
        Y = self._prepare_y(y, Xc.shape[0])
        J, grads = loss_and_grads(self._params, Xc, Y, self.hidden, self.head, self.l2)
        return float(J), grads

    def score(self, X: Any, y: Any) -> float:
        """Accuracy for classification heads, R² for regression."""
        Xc = self._prepare_X(X)
        Y = self._prepare_y(y, Xc.shape[0])
        Z_L, _ = forward(self._params, Xc, self.hidden)
        xp = self._xp
        if self.head.name == "multiclass":
            return _xp.mean_true(xp.argmax(Z_L, axis=1) == xp.argmax(Y, axis=1))
        if self.head.name == "binary":
            return _xp.mean_true((Z_L > 0) == (Y > 0.5))
        ss_res = xp.sum((Y - Z_L) ** 2, axis=0)
        ss_tot = xp.sum((Y - xp.mean(Y, axis=0)) ** 2, axis=0)
        r2 = 1 - ss_res / xp.where(ss_tot == 0, 1.0, ss_tot)
        return float(xp.mean(r2))

    # -- misc -------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        # Pickle (and deepcopy) θ itself, with W[l] by rows as in every file mlplab writes
        # (and as pickles made before θ stored W[l]ᵀ): the namespace (a module), the
        # device, the views W[l], b[l] and cached copies are derived from it on load.
        state = self.__dict__.copy()
        for key in ("_xp", "_device", "_params", "_std_arrays"):
            state.pop(key, None)
        state["_theta"] = self._to_rows(self._theta)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._theta = self._from_rows(self._theta)
        self._xp = _xp.namespace(self._theta)
        self._device = _xp.device_of(self._theta)
        self._params = self._views(self._theta)

    def copy(self) -> Network:
        """An independent copy (parameters copied, not shared)."""
        import copy as _copy

        new = _copy.copy(self)
        new._theta = _xp.copy(self._theta)
        new._params = new._views(new._theta)
        new.standardizer = _copy.deepcopy(self.standardizer)
        return new

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Network:
        """A Network with the architecture :meth:`config` describes (weights all zero)."""
        net = cls(
            cfg["layer_sizes"],
            hidden=cfg["hidden"],
            output=cfg["output"],
            init="zeros",
            dtype=cfg["dtype"],
            l2=cfg.get("l2", 0.0),
        )
        net.init = list(cfg.get("init", net.init))
        return net

    def config(self) -> dict[str, Any]:
        """Architecture as plain data (what a model file stores besides the arrays)."""
        return {
            "layer_sizes": list(self.layer_sizes),
            "hidden": [g.name for g in self.hidden],
            "output": self.head.name,
            "init": list(self.init),
            "dtype": self.dtype.name,
            "l2": self.l2,
        }

    def summary(self) -> str:
        """A short table: one line per layer with W's shape and parameter count."""
        lines = [f"Network: L={self.L}, output head '{self.head.name}', dtype {self.dtype.name}"]
        for l in range(1, self.L + 1):
            g = self.hidden[l - 1].name if l < self.L else f"{self.head.name} head"
            n, m = self.layer_sizes[l], self.layer_sizes[l - 1]
            lines.append(
                f"  layer {l}: W[{l}] ({n}, {m}), b[{l}] ({n},)  g={g:<14} "
                f"init={self.init[l - 1]:<10} params={n * m + n}"
            )
        lines.append(f"  total parameters: {self.n_params}")
        if self._xp is not np:
            lines.append(f"  arrays: {_xp.describe(self._xp, self._device)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        hidden = sorted({g.name for g in self.hidden})
        h = hidden[0] if len(hidden) == 1 else [g.name for g in self.hidden]
        where = "" if self._xp is np else f", arrays={_xp.describe(self._xp, self._device)!r}"
        return (
            f"Network({self.layer_sizes}, hidden={h!r}, output={self.head.name!r}, "
            f"dtype={self.dtype.name!r}{where})"
        )

    # -- as plain data (pickled estimators) -----------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The network as plain data: its config, a NumPy copy of θ (W[l] by rows) and the
        Standardizer's (μ, σ) or None. No functions: :meth:`from_state_dict` rebuilds it."""
        std, moments = self.standardizer, None
        if std is not None:
            moments = (np.array(std.mean_, np.float64), np.array(std.scale_, np.float64))
        theta = _xp.to_numpy(self.get_flat_params())
        return {"config": self.config(), "theta": theta, "standardizer": moments}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Network:
        """Inverse of :meth:`state_dict` (θ and the Standardizer are checked)."""
        from mlplab.core.data import Standardizer

        net = cls.from_config(state["config"])
        net.set_flat_params(np.asarray(state["theta"]))
        if state.get("standardizer") is not None:
            std = Standardizer.from_moments(*state["standardizer"])
            if std.mean_.shape != (net.layer_sizes[0],):
                raise ValueError("the standardizer does not match n[0]")
            net.standardizer = std
        return net
