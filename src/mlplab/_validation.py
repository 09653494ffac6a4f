"""Checks at the public boundary: clear errors that name the problem and echo the value.

Everything a user passes in goes through here once, so that nothing deeper ever raises
a NumPy traceback, and the caller's arrays are never modified (we copy on conversion).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal, cast, overload

import numpy as np

from mlplab._typing import Array

DTYPES = {"float32": np.float32, "float64": np.float64}


def shown(value: Any) -> str:
    """``repr(value)`` as Python writes it, for messages: a NumPy scalar shows as its
    Python value (``'k'``, ``3``, ``1e+39``), not as ``np.str_('k')`` or ``np.int64(3)``.

    >>> shown(np.str_("k")), shown(np.int64(3)), shown(np.float64(0.5)), shown("k")
    ("'k'", '3', '0.5', "'k'")
    """
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_dtype(dtype: Any) -> np.dtype:
    """Normalize ``"float32"``/``"float64"`` (or the NumPy types) to a ``np.dtype``."""
    try:
        dt: np.dtype[Any] = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt


def _is_sparse(obj: Any) -> bool:
    return hasattr(obj, "tocsr") and hasattr(obj, "nnz")


def as_array(obj: Any, name: str) -> np.ndarray:
    """``np.asarray(obj)``, with a clear error naming ``name`` for a ragged nested list."""
    try:
        return np.asarray(obj)
    except (ValueError, TypeError):
        raise ValueError(f"{name} {_ragged(obj)}") from None


def as_float_array(obj: Any, name: str, dtype: np.dtype) -> Array:
    """Convert to a floating array of ``dtype`` with clear errors (copying, never aliasing)."""
    if obj is None:
        raise TypeError(f"{name} is None; expected an array of numbers")
    if _is_sparse(obj):
        raise TypeError(
            f"{name} is a sparse matrix; mlplab needs dense input: pass {name}.toarray()"
        )
    if isinstance(obj, (str, bytes)):
        raise TypeError(f"{name} is a string; expected an array of numbers")
    try:
        arr = np.asarray(obj)
    except (ValueError, TypeError):
        raise ValueError(f"{name} {_ragged(obj)}") from None
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} has complex values; mlplab works with real numbers")
    if arr.dtype.kind == "O":
        missing = [i for i, v in enumerate(arr.ravel()) if v is None]
        if missing:
            where = np.unravel_index(missing[0], arr.shape)
            raise ValueError(
                f"{name} has missing values (None, first at index {tuple(map(int, where))}); "
                "clean or impute it first"
            )
    if arr.dtype.kind in "OUSV":
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            bad = _first_non_numeric(arr)
            raise TypeError(
                f"{name} has non-numeric values (for example {shown(bad)}); "
                "every entry must be a number"
            ) from None
    elif arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} has unsupported dtype {arr.dtype}; expected numbers")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.array(arr, dtype=dtype, copy=True, order="C")
    return out


def _ragged(obj: Any) -> str:
    """Say which rows of a nested sequence differ in length."""
    try:
        lengths = [len(row) if hasattr(row, "__len__") else None for row in obj]
    except TypeError:
        return "could not be read as an array of numbers"
    for i, n in enumerate(lengths):
        if n != lengths[0]:

            def say(k: int | None) -> str:
                return "a single value" if k is None else f"{k} value{'s' if k != 1 else ''}"

            return (
                f"is ragged: its rows have different lengths (row 0 has {say(lengths[0])}, "
                f"row {i} has {say(n)})"
            )
    return "could not be read as an array: its entries are not numbers of one shape"


def _first_non_numeric(arr: np.ndarray) -> Any:
    for v in arr.ravel():
        try:
            float(v)
        except (ValueError, TypeError):
            return v
    return None


def check_finite(arr: Array, name: str, original: Any = None) -> None:
    """Raise if ``arr`` has NaN or ±inf, saying where and whether it overflowed the dtype."""
    if np.isfinite(arr).all():
        return
    bad = np.argwhere(~np.isfinite(arr))[0]
    where = f"row {bad[0]}" + (f", column {bad[1]}" if len(bad) > 1 else "")
    value = arr[tuple(bad)]
    if original is not None:
        try:
            orig = np.asarray(original, dtype=np.float64)[tuple(bad)]
        except (ValueError, TypeError, IndexError):
            orig = value
        if np.isfinite(orig):
            raise ValueError(
                f"{name} has a value too large for {arr.dtype} at {where} ({shown(orig)}); "
                "rescale the data or use dtype='float64'"
            )
    kind = "NaN" if np.isnan(value) else "infinite values"
    raise ValueError(f"{name} contains {kind} (first at {where}); clean or impute it first")


def check_X(
    X: Any,
    dtype: np.dtype,
    n_features: int | None = None,
    name: str = "X",
    expected_by: str = "the network expects",
) -> Array:
    """Validate a 2-D design matrix, rows = samples; return a C-contiguous copy in dtype."""
    arr = as_float_array(X, name, dtype)
    if arr.ndim == 1:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got a 1-D array of shape "
            f"{arr.shape}; use {name}.reshape(-1, 1) for one feature or "
            f"{name}.reshape(1, -1) for one sample"
        )
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got {arr.ndim}-D shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has 0 samples (shape {arr.shape}); need at least 1")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has 0 features (shape {arr.shape}); need at least 1")
    check_finite(arr, name, X)
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features, but {expected_by} n[0]={n_features}")
    return arr


@overload
def check_positive(
    value: Any, name: str, *, integer: Literal[True], allow_zero: bool = False
) -> int: ...


@overload
def check_positive(
    value: Any, name: str, *, integer: Literal[False] = False, allow_zero: bool = False
) -> float: ...


def check_positive(
    value: Any, name: str, *, integer: bool = False, allow_zero: bool = False
) -> int | float:
    """A number > 0 (or >= 0), with bools and NaN rejected."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a number"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    number = cast(float, value)  # typeshed's numbers.Real has no arithmetic: a float to mypy
    if not np.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return int(number) if integer else float(number)


def check_unit_interval(value: Any, name: str) -> float:
    """A number in [0, 1) (momentum and decay rates)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1), got {value!r}")
    number = cast(float, value)  # typeshed's numbers.Real has no arithmetic: a float to mypy
    if not 0.0 <= number < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    return float(number)


def check_layer_sizes(layer_sizes: Any) -> list[int]:
    """``[n0, n1, ..., nL]`` with every n[l] an integer >= 1 and L >= 1."""
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(f"layer_sizes must be a list of integers, got {layer_sizes!r}")
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least [n0, n1] (inputs and outputs), got {sizes!r}")
    out = []
    for l, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"layer_sizes[{l}] must be an integer, got {n!r}")
        if n <= 0:
            raise ValueError(f"layer size n[{l}] must be >= 1, got {n}")
        out.append(int(n))
    return out


def check_y(
    y: Any, head_name: str, n_out: int, n_samples: int, dtype: np.dtype, name: str = "y"
) -> Array:
    """Validate targets for a head and return Y of shape (n_samples, n[L]) in dtype.

    binary: 0/1 (or booleans), shape (n,) or (n, n[L]); multiclass: integer labels
    0..n[L]-1 of shape (n,) or one-hot rows (n, n[L]); regression: finite numbers, shape
    (n,) or (n, n[L]).
    """
    if y is None:
        raise TypeError(f"{name} is None; expected targets")
    raw = as_float_array(y, name, np.dtype(np.float64))
    if raw.ndim == 0 or raw.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {raw.shape}")
    if raw.shape[0] != n_samples:
        raise ValueError(
            f"X and {name} have different lengths: {n_samples} samples in X, "
            f"{raw.shape[0]} in {name}"
        )
    check_finite(raw, name)
    if head_name == "multiclass":
        if raw.ndim == 1 or (raw.ndim == 2 and raw.shape[1] == 1 and n_out != 1):
            labels = raw.ravel()
            if np.any(labels != np.round(labels)):
                raise ValueError(f"{name} labels for the multiclass head must be integers")
            bad = (labels < 0) | (labels >= n_out)
            if bad.any():
                raise ValueError(
                    f"{name} has label {labels[bad][0]:g}; the multiclass head with "
                    f"n[L]={n_out} takes labels 0..{n_out - 1}"
                )
            Y = np.zeros((n_samples, n_out), dtype=dtype)
            Y[np.arange(n_samples), labels.astype(np.intp)] = 1
            return Y
        if raw.shape[1] != n_out:
            raise ValueError(f"one-hot {name} has {raw.shape[1]} columns, but n[L]={n_out}")
        if not np.isin(raw, (0.0, 1.0)).all() or not np.all(raw.sum(axis=1) == 1):
            raise ValueError(f"one-hot {name} must have exactly one 1 per row, zeros elsewhere")
        return raw.astype(dtype)
    Y = raw.reshape(n_samples, -1) if raw.ndim == 1 else raw
    if Y.shape[1] != n_out:
        raise ValueError(
            f"{name} has {Y.shape[1]} output column(s), but the network has n[L]={n_out}"
        )
    if head_name == "binary" and not np.isin(Y, (0.0, 1.0)).all():
        vals = np.unique(Y)
        shown = ", ".join(f"{v:g}" for v in vals[:6])
        raise ValueError(
            f"{name} for the binary head must hold only 0 and 1, got values {{{shown}}}"
            + (" ..." if len(vals) > 6 else "")
        )
    Y = Y.astype(dtype)
    if head_name in ("regression", "poisson"):
        check_finite(Y, name, raw)
    if head_name == "poisson" and (Y < 0).any():
        raise ValueError(f"{name} for the poisson head must be >= 0 (counts), got {Y.min():g}")
    return Y


def as_generator(seed: Any) -> np.random.Generator:
    """An int, None or a Generator, as a ``numpy.random.Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        return np.random.default_rng(cast("int | None", seed))  # an Integral, as NumPy takes
    raise TypeError(f"seed must be an int, None or numpy.random.Generator, got {seed!r}")


class InputScaleWarning(UserWarning):
    """Training inputs are far from normalized (values of order 1e5 or more)."""


SCALE_WARNING = 1e5
"""Largest |x| of the training inputs above which :func:`check_input_scale` warns."""


def finite_extremes(X: np.ndarray) -> tuple[float, float]:
    """(min, max) of X in one pass over memory; both are finite exactly when X is.

    NaN propagates through min and max, +inf becomes the max and −inf the min. Large
    arrays are read in blocks of about 1 MB of rows, each reduced twice while it is in
    the CPU's cache: one pass over memory instead of two (or three, with a separate
    finiteness check), which is what ``fit`` spends on 60000×784 floats before training.
    """
    rows = max(1, (1 << 20) // max(1, X.itemsize * int(np.prod(X.shape[1:]))))
    if X.ndim < 2 or X.shape[0] <= rows:
        return float(X.min()), float(X.max())
    lo, hi = math.inf, -math.inf
    for start in range(0, X.shape[0], rows):
        block = X[start : start + rows]
        b_lo, b_hi = float(block.min()), float(block.max())
        if b_lo != b_lo or b_hi != b_hi:  # NaN (Python's min and max would drop it)
            return math.nan, math.nan
        lo, hi = min(lo, b_lo), max(hi, b_hi)
    return lo, hi


def check_input_scale(
    X: Array,
    standardized: bool,
    name: str = "X",
    extremes: tuple[float, float] | None = None,
) -> None:
    """Warn once if X is unnormalized; refuse values whose squares overflow in training.

    Gradient descent on features of very different or very large scales converges
    slowly, and in float32 the products in backprop (x·δ, the optimizer's g²) overflow
    near 1e19. Values above √(dtype max)/1e4 (about 1.8e15 in float32, 1e150 in
    float64) are refused; values above 1e5 only warn.
    """
    # max and min without a temporary (|X| would allocate a copy of X: 0.1-0.3 s on
    # 60000×784); ``extremes`` when the caller already has them (finite_extremes)
    lo, hi = extremes if extremes is not None else finite_extremes(X)
    big = max(hi, -lo)
    if big <= SCALE_WARNING:
        return
    at = np.unravel_index(int(np.abs(X).argmax()), X.shape)
    where = f"row {at[0]}, column {at[1]}"
    how = (
        "the network's Standardizer leaves them this large; check it was fit on the training data"
        if standardized
        else "normalize them: net.standardizer = mlplab.Standardizer().fit(X_train)"
    )
    limit = float(np.sqrt(np.finfo(X.dtype).max)) / 1e4
    if big > limit:
        raise ValueError(
            f"{name} has values up to {big:.3g} in magnitude (at {where}): too large to "
            f"train on in {X.dtype} (squares and products overflow above {limit:.1e}); "
            f"{how}"
        )
    precision = " and loses precision in float32" if X.dtype == np.float32 else ""
    import warnings

    warnings.warn(
        f"{name} has values up to {big:.3g} in magnitude (at {where}): gradient descent "
        f"on unnormalized inputs converges slowly{precision}, and can overflow; {how}",
        InputScaleWarning,
        stacklevel=4,
    )


def check_two_classes(Y: Array, head_name: str, name: str = "y") -> None:
    """A classification target must hold at least two classes."""
    if head_name not in ("binary", "multiclass") or Y.shape[0] == 0:
        return
    if head_name == "multiclass":
        labels = Y.argmax(axis=1)
        if (labels == labels[0]).all():
            raise ValueError(
                f"{name} has a single class (every label is {int(labels[0])}); a "
                "classifier needs at least two classes to learn anything"
            )
        return
    first = Y.flat[0]
    if Y.min() == Y.max():
        raise ValueError(
            f"{name} has a single class (every label is {first:g}); a classifier "
            "needs at least two classes to learn anything"
        )
