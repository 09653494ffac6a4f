"""The estimators' constructor parameters: their constraints, and what they turn into.

scikit-learn's convention: ``__init__`` stores the parameters untouched and ``fit``
validates them, here with scikit-learn's own machinery (``_parameter_constraints``,
checked by ``BaseEstimator._validate_params``), so a bad value gets scikit-learn's
message. The other functions translate valid parameters into what the network and the
trainer take: the hidden sizes, the optimizer, the batch size, the random streams, the
initial parameters.
"""

from __future__ import annotations

import itertools
import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions

from mlplab.core import optimizers as _opt
from mlplab.core import sklearn_updates as _sk

ACTIVATION_NAMES = {
    "identity": "identity",
    "logistic": "sigmoid",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
}
"""scikit-learn's activation names (and mlplab's) → mlplab activations."""

SOLVERS = ("lbfgs", "sgd", "adam", "momentum", "nesterov", "rmsprop", "adamw")
"""scikit-learn's solvers, then mlplab's (the lecture's momentum and Nesterov, RMSProp, AdamW)."""

STOCHASTIC = tuple(s for s in SOLVERS if s != "lbfgs")

OUT_ACTIVATION = {
    "binary": "logistic",
    "multiclass": "softmax",
    "regression": "identity",
    "poisson": "exp",
}
"""The head of the network → scikit-learn's ``out_activation_``."""

CONSTRAINTS: dict[str, list[Any]] = {
    "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATION_NAMES))],
    "solver": [StrOptions(set(SOLVERS))],
    "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
    "power_t": [Interval(numbers.Real, 0, None, closed="left")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state", np.random.Generator],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
    "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
    "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
    "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
    "n_iter_no_change": [
        Interval(numbers.Integral, 1, None, closed="left"),
        Options(numbers.Real, {np.inf}),
    ],
    "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
    # mlplab's own (their defaults reproduce scikit-learn)
    "init": [str, None],
    "dtype": [StrOptions({"float32", "float64"}), type, np.dtype, None],
    "normalize": ["boolean"],
    "dropout": [Interval(numbers.Real, 0, 1, closed="left"), None],
    "batch_norm": ["boolean", None],
    "lr_schedule": [str, None],
    "max_grad_norm": [Interval(numbers.Real, 0, None, closed="neither"), None],
    "weight_decay": [Interval(numbers.Real, 0, None, closed="left"), None],
    "backend": [StrOptions({"numpy", "torch"})],
}
"""scikit-learn's ``_parameter_constraints`` of its MLPs, with mlplab's options added."""


def store(est: Any, arguments: dict[str, Any]) -> None:
    """``__init__``'s arguments stored unchanged as attributes of the same names."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)


def check_params(est: Any) -> None:
    """What the constraints cannot say: the hidden sizes, ``dtype``, ``init``."""
    hidden_sizes(est)
    if est.solver in ("momentum", "nesterov") and est.momentum >= 1:
        raise ValueError(
            f"momentum must be a number in [0, 1) for solver={est.solver!r} (the lecture's "
            f"v = βv + (1−β)dW), got {est.momentum!r}"
        )
    if est.dtype is not None and np.dtype(est.dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32', 'float64' or None, got {est.dtype!r}")
    if est.init is not None:
        from mlplab.core import initializers

        initializers.get(est.init)  # raises a ValueError listing the valid names


def hidden_sizes(est: Any) -> list[int]:
    """n[1], ..., n[L-1] from ``hidden_layer_sizes`` (an int or a sequence of ints >= 1)."""
    h = est.hidden_layer_sizes
    sizes = list(h) if hasattr(h, "__iter__") and not isinstance(h, str) else [h]
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0:
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def training_dtype(est: Any, X: Any) -> np.dtype:
    """The parameters' dtype: ``dtype`` if given, else X's (float32 stays float32)."""
    if est.dtype is not None:
        dtype: np.dtype = np.dtype(est.dtype)
        return dtype
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


def make_optimizer(est: Any, lr: float) -> _opt.Optimizer:
    """The optimizer that ``solver`` names, with learning rate ``lr`` and its rates.

    ``"sgd"`` and ``"adam"`` are scikit-learn's update rules
    (:mod:`mlplab.core.sklearn_updates`); the others mlplab's, in the lecture's form.
    """
    if est.solver == "sgd":
        return _sk.sklearn_sgd(lr, float(est.momentum), bool(est.nesterovs_momentum))
    if est.solver == "adam":
        return _sk.sklearn_adam(lr, float(est.beta_1), float(est.beta_2), float(est.epsilon))
    if est.solver in ("momentum", "nesterov"):
        return _opt.get(est.solver, lr=lr, beta=float(est.momentum))
    if est.solver == "adamw":
        from mlplab.sklearn import _lecture2

        return _lecture2.adamw(est, lr)
    if est.solver == "rmsprop":
        return _opt.rmsprop(lr, eps=float(est.epsilon))
    raise ValueError(f"solver {est.solver!r} is not a stochastic solver")


def batch_size(est: Any, n: int) -> int:
    """scikit-learn's: "auto" is min(200, n); a size outside [1, n] is clipped (warned)."""
    if est.batch_size == "auto":
        return min(200, n)
    if est.batch_size > n:
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
            UserWarning,
            stacklevel=5,
        )
    return int(np.clip(est.batch_size, 1, n))


def random_states(random_state: Any) -> tuple[np.random.RandomState, np.random.Generator]:
    """scikit-learn's RandomState (initialization, split, shuffles) and a Generator for
    what only mlplab draws (dropout masks; ``init=`` initializers).

    An int seeds both; a Generator (mlplab's earlier estimators took one) seeds the
    RandomState from itself.
    """
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(int(random_state.integers(2**31 - 1))), random_state
    rs = check_random_state(random_state)
    if isinstance(random_state, numbers.Integral):
        return rs, np.random.default_rng(int(random_state))
    return rs, np.random.default_rng()


def glorot_uniform(
    rs: np.random.RandomState, sizes: list[int], activation: str, dtype: np.dtype
) -> list[tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's initialization: per layer W[l]ᵀ then b[l] ~ U(−r, r),
    r = √(6/(n[l-1] + n[l])) (√(2/...) for the logistic activation), in that draw order.

    Returns the lecture's ``(W[l], b[l])`` with W[l] of shape (n[l], n[l-1]).
    """
    factor = 2.0 if ACTIVATION_NAMES[activation] == "sigmoid" else 6.0
    out = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = rs.uniform(-bound, bound, (fan_in, fan_out))
        intercept = rs.uniform(-bound, bound, fan_out)
        out.append((coef.T.astype(dtype), intercept.astype(dtype)))
    return out
