"""The estimators' constructor parameters: their checks, and what they turn into.

scikit-learn's convention: ``__init__`` stores the parameters untouched and ``fit``
validates them (:func:`check_params`), so ``set_params`` and ``clone`` work. The other
functions translate a valid parameter into what the network and the trainer take: the
hidden sizes, the optimizer, the batch size, the random generator.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlplab.core import optimizers as _opt

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

OUT_ACTIVATION = {"binary": "logistic", "multiclass": "softmax", "regression": "identity"}
"""The head of the network → scikit-learn's ``out_activation_``."""


def is_int(value: Any) -> bool:
    """An integer, and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def hidden_sizes(est: Any) -> list[int]:
    """n[1], ..., n[L-1] from ``hidden_layer_sizes`` (an int or a sequence of ints >= 1)."""
    h = est.hidden_layer_sizes
    if is_int(h):
        h = (h,)
    if isinstance(h, (str, bytes)) or not isinstance(h, Sequence | np.ndarray):
        raise ValueError(f"hidden_layer_sizes must be an int or a tuple of ints, got {h!r}")
    sizes = list(h)
    for s in sizes:
        if not is_int(s) or s < 1:
            raise ValueError(f"hidden_layer_sizes must hold integers >= 1, got {h!r}")
    return [int(s) for s in sizes]


def _check_numbers(est: Any) -> None:
    """The real-valued parameters: bounds and [0, 1) rates."""
    checks = [
        ("alpha", est.alpha, 0.0, True),
        ("learning_rate_init", est.learning_rate_init, 0.0, False),
        ("tol", est.tol, 0.0, True),
        ("epsilon", est.epsilon, 0.0, False),
    ]
    for name, value, low, allow_equal in checks:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not np.isfinite(value) or value < low or (value == low and not allow_equal):
            bound = ">=" if allow_equal else ">"
            raise ValueError(f"{name} must be {bound} {low:g}, got {value!r}")
    for name in ("momentum", "beta_1", "beta_2"):
        value = getattr(est, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 <= value < 1):
            raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    if not (isinstance(est.validation_fraction, numbers.Real) and 0 < est.validation_fraction < 1):
        raise ValueError(f"validation_fraction must lie in (0, 1), got {est.validation_fraction!r}")


def check_params(est: Any) -> None:
    """Every constructor parameter of ``est``, with a ValueError naming a bad one."""
    hidden_sizes(est)
    if est.activation not in ACTIVATION_NAMES:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATION_NAMES)}, got {est.activation!r}"
        )
    if est.solver not in SOLVERS:
        raise ValueError(
            f"solver must be one of {list(SOLVERS)} (mlplab has no 'lbfgs'), got {est.solver!r}"
        )
    _check_numbers(est)
    for name in ("max_iter", "n_iter_no_change"):
        value = getattr(est, name)
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not (est.batch_size == "auto" or (is_int(est.batch_size) and est.batch_size >= 1)):
        raise ValueError(f"batch_size must be 'auto' or an integer >= 1, got {est.batch_size!r}")
    if est.dtype not in ("float32", "float64", np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {est.dtype!r}")
    if est.init is not None:
        from mlplab.core import initializers

        initializers.get(est.init)  # raises a ValueError listing the valid names


def make_optimizer(est: Any) -> _opt.Optimizer:
    """The optimizer that ``solver`` names, with ``learning_rate_init`` and its rates."""
    lr = float(est.learning_rate_init)
    if est.solver in ("momentum", "nesterov"):
        return _opt.get(est.solver, lr=lr, beta=float(est.momentum))
    if est.solver == "adam":
        return _opt.adam(lr, float(est.beta_1), float(est.beta_2), float(est.epsilon))
    if est.solver == "adamw":
        from mlplab.sklearn import _lecture2

        return _lecture2.adamw(est, lr)
    return _opt.get(est.solver, lr=lr)


def batch_size(est: Any, n: int) -> int | None:
    """The trainer's batch size for n rows: "auto" is min(200, n); None is batch GD.

    Warns (at the user's ``fit`` call: ``fit`` → ``_fit`` → ``_train`` → here) when an
    explicit size exceeds n.
    """
    if est.batch_size == "auto":
        size = min(200, n)
    else:
        size = int(est.batch_size)
        if size > n:
            warnings.warn(
                f"batch_size={size} is larger than the {n} samples; using all of them "
                "(batch gradient descent)",
                UserWarning,
                stacklevel=5,
            )
            size = n
    return None if size >= n else size


def random_generator(random_state: Any) -> np.random.Generator:
    """A Generator from ``random_state`` (an int, None, a Generator or a RandomState)."""
    rs = random_state
    if isinstance(rs, np.random.Generator):
        return rs
    if isinstance(rs, np.random.RandomState):
        return np.random.default_rng(rs.randint(2**31 - 1))
    if rs is None or is_int(rs):
        return np.random.default_rng(rs)
    raise ValueError(
        f"random_state must be an int, None or a numpy Generator/RandomState, got {rs!r}"
    )
