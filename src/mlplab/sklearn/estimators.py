r"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

A thin shell over :class:`mlplab.Network` and :class:`mlplab.Trainer`: ``fit`` validates
the data with scikit-learn's tools, encodes the labels, builds a network (with a
:class:`~mlplab.data.Standardizer` when ``normalize=True``) and runs the trainer. Every
equation lives in the core; this module only translates between conventions.

Conventions, and where they differ from ``sklearn.neural_network``:

* ``weights_[l-1]`` is the lecture's W[l] of shape (n[l], n[l-1]); ``coefs_[l-1]`` is its
  transpose W[l]ᵀ of shape (n[l-1], n[l]), scikit-learn's (fan_in, fan_out) layout.
  Both are views of the fitted network's parameters (writing into them changes the model).
* ``solver`` names an :mod:`mlplab.optimizers` factory: ``"sgd"`` is *plain* gradient
  descent (scikit-learn's ``"sgd"`` adds Nesterov momentum), ``"momentum"`` and
  ``"nesterov"`` use the lecture's form v = βv + (1−β)dW, whose steps are (1−β) times
  those of scikit-learn's momentum for the same ``learning_rate_init``; ``"adam"`` puts
  ε after the bias correction. There is no ``"lbfgs"``.
* ``alpha`` is the same L2 penalty: J += (α / 2n) Σ‖W[l]‖², n the (weighted) sample count.
* ``normalize=True`` (default) standardizes every feature with the training set's mean
  and standard deviation, stored with the model; scikit-learn leaves that to a Pipeline.
* ``dtype="float32"`` (default) trains in single precision; predictions are computed in
  float64 from the fitted parameters and returned as float64 arrays, as scikit-learn's
  tools expect (``network_.predict`` itself stays in float32).

Sample weights give the weighted cost J = Σ_i w_i L(i) / Σ_i w_i per mini-batch, so
integer weights are equivalent to repeating rows (a weight of 0 removes a row). The
weighting is done here, not in the core: the head's dJ/dz[L] = (a[L] − y)/n is rescaled
row by row to w_i (a[L] − y)_i / Σw.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from mlplab._typing import DenseParams
from mlplab.core import optimizers as _opt
from mlplab.core.data import Standardizer
from mlplab.core.heads import Head
from mlplab.core.network import Network
from mlplab.core.network import forward as _forward
from mlplab.sklearn import _lecture2
from mlplab.train.callbacks import Callback, EarlyStopping, GradientNormLogger
from mlplab.train.loop import Trainer
from mlplab.train.step import BatchGradient

__all__ = ["MLPClassifier", "MLPRegressor"]

ACTIVATION_NAMES = {
    "identity": "identity",
    "logistic": "sigmoid",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
}
"""scikit-learn's activation names (and mlplab's) → mlplab activations."""

SOLVERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")

_OUT_ACTIVATION = {"binary": "logistic", "multiclass": "softmax", "regression": "identity"}


# ------------------------------------------------------------------ weighted cost
def per_sample_loss(head_name: str, Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    r"""The loss L(i) of every row, computed from the logits like the heads do.

    Parameters
    ----------
    head_name : {"binary", "multiclass", "regression"}
    Z : ndarray of shape (n_samples, n[L])
        Logits z[L].
    Y : ndarray of shape (n_samples, n[L])
        Targets (0/1, one-hot rows, or values).

    Returns
    -------
    ndarray of shape (n_samples,)
        L(i); their mean is the head's J.
    """
    if head_name == "binary":  # log(1 + e^z) − yz, summed over the independent outputs
        return (np.logaddexp(0, Z) - Y * Z).sum(axis=1)
    if head_name == "multiclass":  # log Σ_k e^{z_k} − Σ_k y_k z_k, max-shifted
        Zs = Z - Z.max(axis=1, keepdims=True)
        return -(Y * (Zs - np.log(np.exp(Zs).sum(axis=1, keepdims=True)))).sum(axis=1)
    R = Z - Y
    return 0.5 * (R * R).sum(axis=1)


def weighted_loss_and_grad(
    head: Head, Z: np.ndarray, Y: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    r"""The weighted cost J = Σ_i w_i L(i) / Σ_i w_i and its gradient dJ/dz[L].

    The head's own gradient is (a − y)/n; multiplying row i by n·w_i/Σw gives
    w_i (a − y)_i / Σw, the gradient of the weighted cost. With Σw = 0 (every row
    weighted 0) the cost and the gradient are 0.
    """
    J, dZ = head.loss_and_grad(Z, Y)
    total = float(w.sum())
    if total <= 0:
        dZ[...] = 0
        return 0.0, dZ
    dZ *= (w * (Z.shape[0] / total)).astype(dZ.dtype, copy=False)[:, None]
    J = float(w @ per_sample_loss(head.name, Z, Y)) / total
    return J, dZ


def _reject_ragged(X: Any, name: str = "X") -> None:
    """A nested list whose rows differ in length gets our message, not NumPy's."""
    if isinstance(X, (list, tuple)):
        try:
            np.asarray(X)
        except ValueError:
            lengths = sorted({len(row) if hasattr(row, "__len__") else 1 for row in X})
            raise ValueError(
                f"{name} is ragged: its rows have different lengths {lengths}; every row "
                "must have the same number of features"
            ) from None


class _WeightCell:
    """The current mini-batch's sample weights, shared by the trainer and the head."""

    w: np.ndarray | None = None


def _weighted_head(head: Head, cell: _WeightCell) -> Head:
    def loss_and_grad(Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        w = cell.w
        if w is None or w.shape[0] != Z.shape[0]:
            raise RuntimeError("sample weights out of step with the mini-batch")
        return weighted_loss_and_grad(head, Z, Y, w)

    return Head(head.name, head.link, loss_and_grad, head.loss)


class _WeightedGradient(BatchGradient):
    """The trainer's batch gradient, handing each mini-batch's sample weights to the
    weighted head first (the same rows of the weights as of X)."""

    def __init__(self, net: Any, grads: Any, sample_weight: np.ndarray, cell: _WeightCell):
        super().__init__(net, grads)
        self._sample_weight = sample_weight
        self._cell = cell

    def __call__(self, X: Any, Y: Any, labels: Any, rows: Any) -> Any:
        self._cell.w = self._sample_weight if rows is None else self._sample_weight[rows]
        return super().__call__(X, Y, labels, rows)


# ------------------------------------------------------------------ callbacks
class _ValidationScore(Callback):
    """Logs ``val_score`` (accuracy or R², weighted) and ``val_loss`` after each epoch."""

    def __init__(self, estimator: _BaseMLP, X: np.ndarray, Y: np.ndarray, y_raw: Any, w: Any):
        self.estimator, self.X, self.Y, self.y_raw, self.w = estimator, X, Y, y_raw, w

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        net = self.trainer.net
        Z = net.logits(self.X)
        losses = per_sample_loss(net.head.name, Z.astype(np.float64), self.Y)
        logs["val_loss"] = float(np.average(losses, weights=self.w))
        logs["val_score"] = self.estimator._score_logits(Z, self.y_raw, self.w)


# ------------------------------------------------------------------ helpers
def _check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """Sample weights as a float64 vector (None when absent or all equal)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        sw = np.full(n_samples, float(sample_weight))
    else:
        try:
            sw = np.asarray(sample_weight, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("sample_weight must be an array of numbers") from None
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) like X's samples, got {sw.shape}"
        )
    if not np.isfinite(sw).all():
        raise ValueError("sample_weight contains NaN or infinite values")
    if (sw < 0).any():
        raise ValueError("sample_weight must be >= 0 (negative weights are not allowed)")
    if sw.sum() <= 0:
        raise ValueError("sample_weight is all zero: at least one sample needs a positive weight")
    if np.all(sw == sw[0]):
        return None  # equal weights are the unweighted cost exactly
    return sw.copy()


def _weighted_standardizer(X: np.ndarray, sw: np.ndarray | None) -> Standardizer:
    """A Standardizer fit on X with weights (repeated rows ≡ integer weights)."""
    if sw is None:
        return Standardizer().fit(X)
    X64 = np.asarray(X, dtype=np.float64)
    std = Standardizer()
    mean = np.average(X64, axis=0, weights=sw)
    var = np.average((X64 - mean) ** 2, axis=0, weights=sw)
    # Same rule as Standardizer.fit: a constant feature keeps σ = 1.
    tiny = np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
    sd = np.sqrt(var)
    std.mean_, std.scale_ = mean, np.where(sd <= tiny, 1.0, sd)
    return std


def _require_comm(comm: Any) -> None:
    for method in ("allgather", "bcast", "Allreduce", "Get_rank", "Get_size"):
        if not hasattr(comm, method):
            raise TypeError(f"comm must be an mpi4py communicator, got {comm!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class _BaseMLP(BaseEstimator):
    """Shared parameters, validation and training of the two estimators."""

    _head_single: str = "regression"

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        momentum: float = 0.9,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: bool = False,
        warm_start: bool = False,
        init: str | None = None,
        dtype: str = "float32",
        normalize: bool = True,
        dropout: float | None = None,
        batch_norm: bool | None = None,
        lr_schedule: str | None = None,
        max_grad_norm: float | None = None,
        weight_decay: float | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.init = init
        self.dtype = dtype
        self.normalize = normalize
        self.dropout = dropout  # the next lecture (sklearn/_lecture2.py)
        self.batch_norm = batch_norm
        self.lr_schedule = lr_schedule
        self.max_grad_norm = max_grad_norm
        self.weight_decay = weight_decay

    # -- parameters ------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """scikit-learn's, without the next lecture's options left at None (off)."""
        return _lecture2.visible(super().get_params(deep))

    def set_params(self, **params: Any) -> Any:
        """scikit-learn's, accepting the next lecture's options too."""
        return super().set_params(**_lecture2.take(self, params))

    def _hidden_sizes(self) -> list[int]:
        h = self.hidden_layer_sizes
        if _is_int(h):
            h = (h,)
        if isinstance(h, (str, bytes)) or not isinstance(h, Sequence | np.ndarray):
            raise ValueError(f"hidden_layer_sizes must be an int or a tuple of ints, got {h!r}")
        sizes = list(h)
        for s in sizes:
            if not _is_int(s) or s < 1:
                raise ValueError(f"hidden_layer_sizes must hold integers >= 1, got {h!r}")
        return [int(s) for s in sizes]

    def _check_params(self) -> None:
        self._hidden_sizes()
        if self.activation not in ACTIVATION_NAMES:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATION_NAMES)}, got {self.activation!r}"
            )
        if self.solver not in SOLVERS:
            raise ValueError(
                f"solver must be one of {list(SOLVERS)} (mlplab has no 'lbfgs'), "
                f"got {self.solver!r}"
            )
        checks = [
            ("alpha", self.alpha, 0.0, None, True),
            ("learning_rate_init", self.learning_rate_init, 0.0, None, False),
            ("tol", self.tol, 0.0, None, True),
            ("epsilon", self.epsilon, 0.0, None, False),
        ]
        for name, value, low, _, allow_equal in checks:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not np.isfinite(value) or value < low or (value == low and not allow_equal):
                bound = ">=" if allow_equal else ">"
                raise ValueError(f"{name} must be {bound} {low:g}, got {value!r}")
        for name in ("momentum", "beta_1", "beta_2"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not (0 <= value < 1)
            ):
                raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
        if not (
            isinstance(self.validation_fraction, numbers.Real) and 0 < self.validation_fraction < 1
        ):
            raise ValueError(
                f"validation_fraction must lie in (0, 1), got {self.validation_fraction!r}"
            )
        for name in ("max_iter", "n_iter_no_change"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not (self.batch_size == "auto" or (_is_int(self.batch_size) and self.batch_size >= 1)):
            raise ValueError(
                f"batch_size must be 'auto' or an integer >= 1, got {self.batch_size!r}"
            )
        if self.dtype not in ("float32", "float64", np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.init is not None:
            from mlplab.core import initializers

            initializers.get(self.init)  # raises a ValueError listing the valid names
        _lecture2.check(self)

    def _optimizer(self) -> _opt.Optimizer:
        lr = float(self.learning_rate_init)
        if self.solver in ("momentum", "nesterov"):
            return _opt.get(self.solver, lr=lr, beta=float(self.momentum))
        if self.solver == "adam":
            return _opt.adam(lr, float(self.beta_1), float(self.beta_2), float(self.epsilon))
        if self.solver == "adamw":
            return _lecture2.adamw(self, lr)
        return _opt.get(self.solver, lr=lr)

    def _batch(self, n: int) -> int | None:
        if self.batch_size == "auto":
            size = min(200, n)
        else:
            size = int(self.batch_size)
            if size > n:
                warnings.warn(
                    f"batch_size={size} is larger than the {n} samples; using all of them "
                    "(batch gradient descent)",
                    UserWarning,
                    stacklevel=5,
                )
                size = n
        return None if size >= n else size

    def _rng(self) -> np.random.Generator:
        rs = self.random_state
        if isinstance(rs, np.random.Generator):
            return rs
        if isinstance(rs, np.random.RandomState):
            return np.random.default_rng(rs.randint(2**31 - 1))
        if rs is None or _is_int(rs):
            return np.random.default_rng(rs)
        raise ValueError(
            f"random_state must be an int, None or a numpy Generator/RandomState, got {rs!r}"
        )

    # -- fitted network ----------------------------------------------------------------
    @property
    def weights_(self) -> list[np.ndarray]:
        """W[l] for l = 1..L, shape (n[l], n[l-1]) as in the lecture (views, assignable)."""
        check_is_fitted(self)
        return self.network_.weights

    @property
    def biases_(self) -> list[np.ndarray]:
        """b[l] for l = 1..L, shape (n[l],) (views of the network's parameters)."""
        check_is_fitted(self)
        return self.network_.biases

    @property
    def coefs_(self) -> list[np.ndarray]:
        """scikit-learn's layout: ``coefs_[l-1] = W[l].T`` of shape (n[l-1], n[l]).

        Transposed *views* of :attr:`weights_`, so ``X @ coefs_[0] + intercepts_[0]`` is
        z[1] as in ``sklearn.neural_network``; writing into them changes the model.
        """
        check_is_fitted(self)
        return [W.T for W in self.network_.weights]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """scikit-learn's name for :attr:`biases_`."""
        return self.biases_

    @property
    def n_layers_(self) -> int:
        """Number of layers counting the input layer (L + 1), as in scikit-learn."""
        check_is_fitted(self)
        return self.network_.L + 1

    @property
    def out_activation_(self) -> str:
        """'logistic', 'softmax' or 'identity' (the head's link)."""
        check_is_fitted(self)
        return _OUT_ACTIVATION[self.network_.head.name]

    # -- training ------------------------------------------------------------------------
    def _new_network(
        self, n_features: int, n_out: int, head: str, X: Any, sw: Any, comm: Any = None
    ) -> None:
        rng = self._rng()
        std = None
        if self.normalize and comm is not None:  # μ, σ of all ranks' rows together
            from mlplab.train.mpi import fit_standardizer

            std = fit_standardizer(X, comm)
        elif self.normalize:
            std = _weighted_standardizer(X, sw)
        self.network_ = Network(
            [n_features, *self._hidden_sizes(), n_out],
            hidden=ACTIVATION_NAMES[self.activation],
            output=head,
            init=self.init,
            seed=rng,
            dtype=self.dtype,
            l2=float(self.alpha),
            standardizer=std,
            **_lecture2.network_options(self),
        )
        self._random = rng
        self._opt_state = None
        self._opt_solver = None
        self._step = 0
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_: list[float] = []
        self.history_: dict[str, list[float]] = {}
        self.best_loss_: float | None = np.inf
        self.validation_scores_: list[float] | None = None
        self.best_validation_score_: float | None = None

    def _train(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        y_raw: Any,
        sw: np.ndarray | None,
        epochs: int,
        incremental: bool,
        comm: Any = None,
    ) -> None:
        """Run the core Trainer on already-encoded targets Y (what ``check_y`` accepts).

        With ``comm``, X and Y are this MPI rank's shard and a DistributedTrainer sums
        the gradients of the global mini-batches over all ranks (``mlplab.distributed``).
        """
        net = self.network_
        net.l2 = float(self.alpha)
        val_cb = None
        if self.early_stopping and not incremental:
            X, Y, y_raw, sw, val_cb = self._split_validation(X, Y, y_raw, sw)
        callbacks: list[Callback] = [GradientNormLogger()]
        if val_cb is not None:
            callbacks += [
                val_cb,
                EarlyStopping(
                    "val_score",
                    patience=self.n_iter_no_change,
                    min_delta=float(self.tol),
                    mode="max",
                    restore_best=True,
                ),
            ]
        elif not incremental:
            callbacks.append(
                EarlyStopping("loss", patience=self.n_iter_no_change, min_delta=float(self.tol))
            )
        if self.verbose and (comm is None or comm.Get_rank() == 0):
            from mlplab.train.progress import ProgressBar

            callbacks.append(ProgressBar())
        optimizer = self._optimizer()
        n = X.shape[0]
        base_head = net.head
        if comm is not None:  # sample weights and early stopping were refused in _check_comm
            from mlplab.train.mpi import MPI, global_rows

            n = global_rows(comm, n)  # |B| ("auto"), t_: over all ranks' rows
            trainer = Trainer(net, optimizer, callbacks, self._random, strategy=MPI(comm))
        elif sw is not None:
            _lecture2.refuse_weights(net)
            cell = _WeightCell()
            trainer = Trainer(net, optimizer, callbacks, self._random)
            trainer.gradient = _WeightedGradient(net, trainer.grads, sw, cell)
            net.head = _weighted_head(base_head, cell)
            # The trainer divides the L2 term by the batch size n_b; scaling λ by n/Σw
            # makes it (α / 2Σw)‖W‖², the penalty of the equivalent repeated data.
            net.l2 = float(self.alpha) * n / float(sw.sum())
        else:
            trainer = Trainer(net, optimizer, callbacks, self._random)
        trainer.optimizer = _lecture2.optimizer(self, optimizer, n, self._batch(n), self.max_iter)
        if self._opt_state is not None and self._opt_solver == self.solver:
            trainer.opt_state = self._opt_state  # continue (warm start, partial_fit)
        trainer.step = self._step
        trainer.epoch = self.n_iter_
        try:
            history = trainer.fit(X, Y, epochs=epochs, batch_size=self._batch(n))
        finally:
            net.head = base_head
            net.l2 = float(self.alpha)
            self._opt_state, self._opt_solver, self._step = (
                trainer.opt_state,
                self.solver,
                trainer.step,
            )
        done = len(history.epoch)
        self.n_iter_ += done
        self.t_ += done * n
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(values)
        self.loss_curve_ = list(self.history_.get("loss", []))
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        if val_cb is not None:
            self.validation_scores_ = list(self.history_.get("val_score", []))
            self.best_validation_score_ = max(self.validation_scores_, default=None)
            self.best_loss_ = None
        elif self.loss_curve_:
            self.best_loss_ = float(min(self.loss_curve_))
        if not incremental and done == epochs and not trainer.stop_training:
            warnings.warn(
                f"{type(self).__name__}: stochastic optimizer reached max_iter={self.max_iter} "
                "epochs and the optimization has not converged yet",
                ConvergenceWarning,
                stacklevel=4,  # the user's fit() call
            )

    def _split_validation(self, X, Y, y_raw, sw):  # type: ignore[no-untyped-def]
        from sklearn.model_selection import train_test_split

        stratify = y_raw if self._stratify() else None
        parts = [X, Y, np.asarray(y_raw)] + ([sw] if sw is not None else [])
        try:
            split = train_test_split(
                *parts,
                test_size=self.validation_fraction,
                random_state=int(self._random.integers(2**31 - 1)),
                stratify=stratify,
            )
        except ValueError as exc:
            raise ValueError(
                f"early_stopping could not hold out validation_fraction="
                f"{self.validation_fraction} of {X.shape[0]} samples: {exc}"
            ) from None
        X_tr, X_val, Y_tr, Y_val, y_tr, y_val = split[:6]
        sw_tr, sw_val = (split[6], split[7]) if sw is not None else (None, None)
        Y_val = self.network_._prepare_y(Y_val, X_val.shape[0]).astype(np.float64)
        cb = _ValidationScore(self, X_val, Y_val, y_val, sw_val)
        return X_tr, Y_tr, y_tr, sw_tr, cb

    def _stratify(self) -> bool:
        return False

    def _check_comm(self, comm: Any, sample_weight: Any) -> None:
        """What data-parallel fitting (``fit(..., comm=...)``) does not support."""
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with comm= (distributed fit)")
        if self.early_stopping:
            raise ValueError(
                "early_stopping=True is not supported with comm= (distributed fit): each "
                "rank would hold out a different validation set"
            )

    def _score_logits(self, Z: np.ndarray, y: Any, w: Any) -> float:
        raise NotImplementedError

    # -- pickling: the network travels as data (config + θ), never as functions ----------
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        net = state.get("network_")
        if isinstance(net, Network):
            state = dict(state)
            state["network_"] = net.state_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        net = state.get("network_")
        if isinstance(net, dict):
            state = dict(state)
            state["network_"] = Network.from_state_dict(net)
        super().__setstate__(state)

    def _logits(self, X: Any) -> np.ndarray:
        """z[L] for X, evaluated in float64 from the fitted parameters.

        Training runs in ``dtype``; inference upcasts the parameters so that a row's
        prediction does not depend on the batch it is predicted in (float32 BLAS rounds
        differently for different batch sizes) and comes out as float64, as
        scikit-learn's tools expect. With ``dtype="float64"`` this is exactly
        ``network_.logits(X)``.
        """
        check_is_fitted(self)
        _reject_ragged(X)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        net = self.network_
        if net.standardizer is not None:
            X = net.standardizer.transform(X)
        params = [
            DenseParams(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
            for W, b in net.params
        ]
        Z, _ = _forward(params, X, net.hidden, _lecture2.norms64(net))
        return Z


class MLPClassifier(ClassifierMixin, _BaseMLP):
    r"""Multi-layer perceptron classifier trained by backpropagation (scikit-learn API).

    Binary targets use the ``binary`` head (one sigmoid output), more than two classes the
    ``multiclass`` head (softmax), and a 0/1 indicator matrix (multi-label) one sigmoid
    per label. Labels may be any values scikit-learn accepts (strings too).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        n[1], ..., n[L-1]: units of each hidden layer. ``()`` is logistic regression.
    activation : {"relu", "tanh", "logistic", "identity", "leaky_relu"}, default="relu"
        g of the hidden layers (``"logistic"`` is the sigmoid σ).
    solver : {"adam", "sgd", "momentum", "nesterov", "rmsprop", "adamw"}, default="adam"
        The optimizer (see the module notes for how it differs from scikit-learn's).
    alpha : float, default=1e-4
        λ of the L2 penalty (λ / 2n) Σ‖W[l]‖² (biases not penalized).
    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is min(200, n_samples). n_samples gives batch GD.
    learning_rate_init : float, default=0.001
        The learning rate α.
    max_iter : int, default=200
        Maximum number of epochs.
    momentum : float, default=0.9
        β of the "momentum" and "nesterov" solvers, in the lecture's form.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's β1, β2 and ε.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified) and stop when the
        validation accuracy has not improved by ``tol`` for ``n_iter_no_change``
        epochs; the best epoch's parameters are kept. Without it, training stops when
        the training cost has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    random_state : int, Generator, RandomState or None, default=None
        Seeds the initialization, the shuffles and the validation split.
    verbose : bool, default=False
        Show a progress bar on stderr.
    warm_start : bool, default=False
        Continue from the fitted parameters and optimizer state on the next ``fit``.
    init : str, optional
        Weight initializer name (:mod:`mlplab.initializers`); default He for ReLU
        layers, Xavier otherwise.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the parameters and of training.
    normalize : bool, default=True
        Standardize the features with the training set's mean and standard deviation
        (a :class:`~mlplab.data.Standardizer` attached to the network).
    dropout, batch_norm, lr_schedule, max_grad_norm, weight_decay
        The next lecture (their defaults change nothing): inverted dropout rate of the
        hidden units, batch normalization of every hidden layer, a learning-rate
        schedule counted in epochs (``"cosine"``, ``"step:10:0.5"``, ...), gradient
        clipping by global norm, and AdamW's λ (``solver="adamw"``); see
        :mod:`mlplab.sklearn._lecture2`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (``arange(n_labels)`` for multi-label targets).
    n_features_in_ : int
        n[0].
    network_ : mlplab.Network
        The fitted network, with its Standardizer.
    weights_ : list of ndarray
        W[l] of shape (n[l], n[l-1]), the lecture's layout.
    biases_ : list of ndarray
        b[l] of shape (n[l],).
    coefs_ : list of ndarray
        W[l].T of shape (n[l-1], n[l]), scikit-learn's layout (views of ``weights_``).
    intercepts_ : list of ndarray
        Alias of ``biases_``.
    n_iter_ : int
        Epochs run since the network was created.
    loss_curve_ : list of float
        Training cost J per epoch (with the L2 term).
    history_ : dict of str to list of float
        Everything logged per epoch: ``loss``, ``accuracy``, ``grad_norm/W1``, ...,
        and ``val_score``/``val_loss`` with early stopping.
    best_loss_, validation_scores_, best_validation_score_, loss_, t_
        As in scikit-learn.

    Examples
    --------
    >>> from mlplab import MLPClassifier
    >>> X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 10
    >>> y = ["no", "yes", "yes", "yes"] * 10
    >>> clf = MLPClassifier(hidden_layer_sizes=(), solver="sgd", learning_rate_init=0.5,
    ...                     max_iter=2000, random_state=0).fit(X, y)  # logistic regression
    >>> clf.predict([[0.0, 0.0], [1.0, 1.0]]).tolist()
    ['no', 'yes']
    >>> [W.shape for W in clf.weights_], [c.shape for c in clf.coefs_]
    ([(1, 2)], [(2, 1)])
    """

    def _stratify(self) -> bool:
        return self._mode_ != "multilabel"

    def _prepare_targets(
        self, y: Any, first: bool, classes: Any = None, partial: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels → (Y for the network, y as raw labels for scoring)."""
        y_arr = np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = column_or_1d(y_arr, warn=True)
        check_classification_targets(y_arr)
        target = type_of_target(y_arr)
        if target == "multilabel-indicator":
            mode = "multilabel"
        elif target in ("binary", "multiclass"):
            mode = "single"
        else:
            raise ValueError(f"MLPClassifier does not support {target} targets")
        if first:
            if mode == "multilabel":
                self.classes_ = np.arange(y_arr.shape[1])
                self._mode_ = "multilabel"
            else:
                cls = np.unique(y_arr) if classes is None else np.unique(np.asarray(classes))
                if cls.shape[0] < 2:
                    raise ValueError(
                        f"y has only one class ({cls[0]!r}); a classifier needs at least "
                        "two classes"
                    )
                self.classes_ = cls
                self._mode_ = "binary" if cls.shape[0] == 2 else "multiclass"
        elif (mode == "multilabel") != (self._mode_ == "multilabel"):
            raise ValueError(
                f"y's type changed since the network was fitted: it was {self._mode_}, now {target}"
            )
        if self._mode_ == "multilabel":
            if y_arr.shape[1] != self.classes_.shape[0]:
                raise ValueError(
                    f"y has {y_arr.shape[1]} labels, the network was fitted with "
                    f"{self.classes_.shape[0]}"
                )
            return y_arr.astype(np.float64), y_arr
        unknown = ~np.isin(y_arr, self.classes_)
        if unknown.any():
            what = "classes passed to partial_fit" if partial else "classes seen when first fitted"
            raise ValueError(
                f"y has label {y_arr[unknown][0]!r}, which is not among the {what}: "
                f"{self.classes_.tolist()}"
            )
        idx = np.searchsorted(self.classes_, y_arr)
        if self._mode_ == "binary":
            return (idx == 1).astype(np.float64).reshape(-1, 1), y_arr
        return idx, y_arr

    def _fit(self, X, y, sample_weight, incremental, classes=None, comm=None):  # type: ignore[no-untyped-def]
        first = not hasattr(self, "network_") or (not incremental and not self.warm_start)

        def validate():  # type: ignore[no-untyped-def]
            self._check_params()
            if comm is not None:
                self._check_comm(comm, sample_weight)
            _reject_ragged(X)
            X_, y_ = validate_data(
                self, X, y, reset=first, dtype=(np.float64, np.float32), multi_output=True
            )
            if (
                incremental
                and first
                and classes is None
                and type_of_target(y_) != ("multilabel-indicator")
            ):
                raise ValueError("classes must be passed on the first call to partial_fit")
            return X_, y_, _check_sample_weight(sample_weight, X_.shape[0])

        if comm is None:
            X, y, sw = validate()
            Y, y_raw = self._prepare_targets(y, first, classes, partial=incremental)
        else:  # this rank's shard; an error on any rank is raised on every rank
            from mlplab.train.mpi import agree, global_classes

            _require_comm(comm)
            X, y, sw = agree(comm, validate)
            if first:  # classes_: the labels of all ranks (a shard may miss some)
                multilabel = np.asarray(y).ndim == 2 and np.asarray(y).shape[1] > 1
                classes = global_classes(comm, None if multilabel else y)
            Y, y_raw = agree(comm, lambda: self._prepare_targets(y, first, classes))
        if sw is not None and not incremental and self._mode_ != "multilabel":
            kept = np.unique(y_raw[sw > 0])
            if kept.shape[0] < 2:
                raise ValueError(
                    f"only one class ({kept[0]!r}) has a non-zero sample_weight; a "
                    "classifier needs at least two classes"
                )
        if first:
            n_out = self.classes_.shape[0] if self._mode_ != "binary" else 1
            head = "multiclass" if self._mode_ == "multiclass" else "binary"
            self._new_network(X.shape[1], n_out, head, X, sw, comm)
        self._train(X, Y, y_raw, sw, 1 if incremental else self.max_iter, incremental, comm)
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None, comm: Any = None) -> MLPClassifier:
        """Train on (X, y), from scratch unless ``warm_start``; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n[0])
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multi-label problems.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights: J = Σ w_i L(i) / Σ w_i.
        comm : mpi4py.MPI.Comm, optional
            Data-parallel training over MPI ranks (:mod:`mlplab.distributed`): every rank
            calls ``fit`` with its contiguous shard of the rows (rank 0 the first ones) and
            the same parameters; ``batch_size`` is the global mini-batch. ``classes_`` are
            the labels of all ranks, the Standardizer (``normalize=True``) has the mean
            and standard deviation of all ranks' rows, and every rank ends with the model
            a single process fits on the concatenated data. Not with ``sample_weight``
            or ``early_stopping``.
        """
        return self._fit(X, y, sample_weight, incremental=False, comm=comm)

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> MLPClassifier:
        """One epoch of mini-batch updates on (X, y), keeping the optimizer state.

        ``classes`` (every label that will ever appear) is required on the first call,
        except for multi-label targets. The Standardizer is fit on the first call's X
        and kept afterwards.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _proba_from_logits(self, Z: np.ndarray) -> np.ndarray:
        P = self.network_.head.link(Z).astype(np.float64)
        if self._mode_ == "binary":
            return np.hstack([1.0 - P, P])
        return P

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes) (float64).

        Binary: columns P(classes_[0]), P(classes_[1]) = σ(z). Multiclass: softmax(z).
        Multi-label: one independent σ(z_k) per label.
        """
        return self._proba_from_logits(self._logits(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log of :meth:`predict_proba`, computed from the logits (no log(0))."""
        Z = self._logits(X)
        if self._mode_ == "multiclass":
            Zs = Z - Z.max(axis=1, keepdims=True)
            return Zs - np.log(np.exp(Zs).sum(axis=1, keepdims=True))
        # log σ(z) = −log(1 + e^{−z}), log(1 − σ(z)) = −log(1 + e^{z})
        if self._mode_ == "binary":
            return np.hstack([-np.logaddexp(0, Z), -np.logaddexp(0, -Z)])
        return -np.logaddexp(0, -Z)

    def _labels_from_logits(self, Z: np.ndarray) -> np.ndarray:
        P = self._proba_from_logits(Z)
        if self._mode_ == "multilabel":
            return (P > 0.5).astype(np.int64)
        return self.classes_[P.argmax(axis=1)]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (shape (n_samples,)), or a 0/1 matrix for multi-label."""
        return self._labels_from_logits(self._logits(X))

    def _score_logits(self, Z: np.ndarray, y: Any, w: Any) -> float:
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self._labels_from_logits(Z), sample_weight=w))

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    r"""Multi-layer perceptron regressor trained by backpropagation (scikit-learn API).

    The ``regression`` head: identity output and the squared error
    L = ½ Σ_k (z_k − y_k)², any number of outputs. Parameters and attributes are those of
    :class:`MLPClassifier` (without ``classes_``); ``early_stopping`` monitors the
    validation R².

    Examples
    --------
    >>> import numpy as np
    >>> from mlplab import MLPRegressor
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> Y = np.hstack([2 * X + 1, -X])                      # two outputs
    >>> reg = MLPRegressor(hidden_layer_sizes=(), solver="sgd", learning_rate_init=0.3,
    ...                    max_iter=500, tol=0, random_state=0).fit(X, Y)
    >>> reg.predict([[0.5]]).round(2).tolist()
    [[2.0, -0.5]]
    """

    def _fit(self, X, y, sample_weight, incremental, comm=None):  # type: ignore[no-untyped-def]
        first = not hasattr(self, "network_") or (not incremental and not self.warm_start)

        def validate():  # type: ignore[no-untyped-def]
            self._check_params()
            if comm is not None:
                self._check_comm(comm, sample_weight)
            _reject_ragged(X)
            X_, y_ = validate_data(
                self,
                X,
                y,
                reset=first,
                dtype=(np.float64, np.float32),
                multi_output=True,
                y_numeric=True,
            )
            sw = _check_sample_weight(sample_weight, X_.shape[0])
            Y = y_.reshape(-1, 1) if y_.ndim == 1 else y_
            if not first and Y.shape[1] != self.network_.layer_sizes[-1]:
                raise ValueError(
                    f"y has {Y.shape[1]} output(s), the network was fitted with "
                    f"{self.network_.layer_sizes[-1]}"
                )
            return X_, Y, sw

        if comm is None:
            X, Y, sw = validate()
        else:  # this rank's shard; an error on any rank is raised on every rank
            from mlplab.train.mpi import agree

            _require_comm(comm)
            X, Y, sw = agree(comm, validate)
        if first:
            self._new_network(X.shape[1], Y.shape[1], "regression", X, sw, comm)
        self._train(X, Y, Y, sw, 1 if incremental else self.max_iter, incremental, comm)
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None, comm: Any = None) -> MLPRegressor:
        """Train on (X, y), from scratch unless ``warm_start``; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n[0])
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
        comm : mpi4py.MPI.Comm, optional
            Data-parallel training over MPI ranks: X, y are this rank's contiguous shard
            (see :meth:`MLPClassifier.fit`).
        """
        return self._fit(X, y, sample_weight, incremental=False, comm=comm)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch of mini-batch updates on (X, y), keeping the optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _values_from_logits(self, Z: np.ndarray) -> np.ndarray:
        out = Z.astype(np.float64)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values: shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        return self._values_from_logits(self._logits(X))

    def _score_logits(self, Z: np.ndarray, y: Any, w: Any) -> float:
        from sklearn.metrics import r2_score

        y = np.asarray(y)
        pred = self._values_from_logits(Z)
        return float(r2_score(y.reshape(pred.shape), pred, sample_weight=w))

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
