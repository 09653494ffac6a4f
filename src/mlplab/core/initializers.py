r"""Weight initializers: ``init(rng, shape, dtype) -> W`` with shape = (n[l], n[l-1]).

The lecture's rules, each a variance-scaling draw Var(W) = scale / fan:

=========  ==========================  ==========================  ===============
name       variance                    use                          fan
=========  ==========================  ==========================  ===============
xavier     1 / n[l-1]                  sigmoid, tanh                n[l-1]
he         2 / n[l-1]                  ReLU                         n[l-1]
glorot     2 / (n[l] + n[l-1])         compromise fwd/backward      (n[l]+n[l-1])/2
=========  ==========================  ==========================  ===============

Normal draws use std = √Var; the ``*_uniform`` variants draw from U(−√(3Var), √(3Var)),
which has the same variance. The notes call 2/(n[l]+n[l-1]) "He"; the literature calls
it Glorot (Xavier) initialization, and so does this module, with the formula spelled out
in each docstring so there is no doubt which is which.

Biases always start at zero. The RNG is always passed in (a ``numpy.random.Generator``),
never NumPy's global state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from mlplab._typing import Array

# The Generator is named as a string: touching np.random here would import all of
# numpy.random (~15 ms) with mlplab; it is imported on first use instead.
DType = np.dtype[Any] | type
"""A NumPy dtype or scalar type (``np.float32``)."""

Initializer = Callable[["np.random.Generator", tuple[int, int], DType], Array]


def _fans(shape: tuple[int, int]) -> tuple[int, int]:
    n_out, n_in = shape  # (n[l], n[l-1])
    return n_in, n_out


def variance_scaling(
    scale: float,
    mode: Literal["fan_in", "fan_out", "fan_avg"] = "fan_in",
    distribution: Literal["normal", "uniform"] = "normal",
    name: str | None = None,
) -> Initializer:
    r"""Draw W with Var(W) = scale / fan.

    Parameters
    ----------
    scale : float
        Numerator of the variance.
    mode : {"fan_in", "fan_out", "fan_avg"}
        fan = n[l-1], n[l] or (n[l] + n[l-1]) / 2.
    distribution : {"normal", "uniform"}
        N(0, Var) or U(−√(3Var), √(3Var)).
    """
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"mode must be fan_in, fan_out or fan_avg, got {mode!r}")
    if distribution not in ("normal", "uniform"):
        raise ValueError(f"distribution must be normal or uniform, got {distribution!r}")

    def init(rng: np.random.Generator, shape: tuple[int, int], dtype: DType = np.float32) -> Array:
        n_in, n_out = _fans(shape)
        fan = {"fan_in": n_in, "fan_out": n_out, "fan_avg": (n_in + n_out) / 2}[mode]
        var = scale / fan
        if distribution == "normal":
            W = rng.standard_normal(shape) * np.sqrt(var)
        else:
            limit = np.sqrt(3.0 * var)
            W = rng.uniform(-limit, limit, size=shape)
        out: Array = W.astype(dtype, copy=False)
        return out

    init.__name__ = name or f"variance_scaling({scale}, {mode}, {distribution})"
    init.__doc__ = f"Var(W) = {scale} / {mode} ({distribution})."
    return init


xavier = variance_scaling(1.0, "fan_in", "normal", "xavier")
xavier.__doc__ = "Xavier (lecture): W ~ N(0, 1/n[l-1]), for sigmoid and tanh."
xavier_uniform = variance_scaling(1.0, "fan_in", "uniform", "xavier_uniform")
xavier_uniform.__doc__ = "W ~ U(±√(3/n[l-1])): variance 1/n[l-1]."
he = variance_scaling(2.0, "fan_in", "normal", "he")
he.__doc__ = "He (lecture): W ~ N(0, 2/n[l-1]), for ReLU."
he_uniform = variance_scaling(2.0, "fan_in", "uniform", "he_uniform")
he_uniform.__doc__ = "W ~ U(±√(6/n[l-1])): variance 2/n[l-1]."
glorot = variance_scaling(1.0, "fan_avg", "normal", "glorot")
glorot.__doc__ = "Glorot: W ~ N(0, 2/(n[l] + n[l-1])) (the notes' second formula)."
glorot_uniform = variance_scaling(1.0, "fan_avg", "uniform", "glorot_uniform")
glorot_uniform.__doc__ = "W ~ U(±√(6/(n[l] + n[l-1]))): variance 2/(n[l] + n[l-1])."


def zeros(rng: np.random.Generator, shape: tuple[int, int], dtype: DType = np.float32) -> Array:
    """W = 0: every unit of a layer computes the same thing (symmetry never breaks)."""
    return np.zeros(shape, dtype=dtype)


def normal(scale: float = 1.0) -> Initializer:
    """W ~ N(0, scale²): the lecture's "large weights" when scale is big (e.g. 10)."""
    scale = float(scale)
    if not np.isfinite(scale) or scale < 0:
        raise ValueError(f"normal(scale) needs a finite scale >= 0, got {scale!r}")

    def init(rng: np.random.Generator, shape: tuple[int, int], dtype: DType = np.float32) -> Array:
        return (rng.standard_normal(shape) * scale).astype(dtype, copy=False)

    init.__name__ = "normal" if scale == 1.0 else f"normal({scale!r})"
    init.__doc__ = f"W ~ N(0, {scale}²)."
    return init


def uniform(limit: float = 0.05) -> Initializer:
    """W ~ U(−limit, limit)."""
    limit = float(limit)
    if not np.isfinite(limit) or limit < 0:
        raise ValueError(f"uniform(limit) needs a finite limit >= 0, got {limit!r}")

    def init(rng: np.random.Generator, shape: tuple[int, int], dtype: DType = np.float32) -> Array:
        return rng.uniform(-limit, limit, size=shape).astype(dtype, copy=False)

    init.__name__ = "uniform" if limit == 0.05 else f"uniform({limit!r})"
    return init


def constant(value: float) -> Initializer:
    """Every weight equal to ``value`` (a symmetric start, for experiments)."""
    value = float(value)

    def init(rng: np.random.Generator, shape: tuple[int, int], dtype: DType = np.float32) -> Array:
        return np.full(shape, value, dtype=dtype)

    init.__name__ = f"constant({value!r})"
    return init


def identity(scale: float = 1.0) -> Initializer:
    """W = scale · I (rectangular shapes get the leading identity block).

    With identity activations and b = 0 this is the lecture's 1.5·I / 0.5·I example:
    ŷ = scale^L x.
    """
    scale = float(scale)

    def init(rng: np.random.Generator, shape: tuple[int, int], dtype: DType = np.float32) -> Array:
        return (np.eye(shape[0], shape[1]) * scale).astype(dtype)

    init.__name__ = f"identity({scale!r})"
    return init


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "normal": normal(1.0),
    "large": normal(10.0),
    "uniform": uniform(),
    "xavier": xavier,
    "xavier_uniform": xavier_uniform,
    "he": he,
    "he_uniform": he_uniform,
    "glorot": glorot,
    "glorot_uniform": glorot_uniform,
}
"""Every initializer by name. ``large`` is N(0, 10²), the lecture's "large weights"."""

DEFAULT_INIT: dict[str, str] = {
    "relu": "he",
    "leaky_relu": "he",
    "sigmoid": "xavier",
    "tanh": "xavier",
    "identity": "xavier",
}
"""The lecture's rule: He (2/n[l-1]) for ReLU-like units, Xavier (1/n[l-1]) otherwise."""


def default_for(activation_name: str) -> Initializer:
    """The documented default initializer for a layer whose activation is given."""
    base = activation_name.split("(")[0]
    return INITIALIZERS[DEFAULT_INIT.get(base, "xavier")]


def get(init: str | Initializer) -> Initializer:
    """Look an initializer up by name (``"he"``, ``"normal(10)"``, ...) or pass a callable.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    if callable(init):
        return init
    if not isinstance(init, str):
        raise TypeError(f"init must be a name or a callable, got {type(init).__name__}")
    key = init.strip().lower()
    if key in INITIALIZERS:
        return INITIALIZERS[key]
    factories: dict[str, Callable[[float], Initializer]] = {
        "normal": normal,
        "uniform": uniform,
        "constant": constant,
        "identity": identity,
    }
    if "(" in key and key.endswith(")"):
        fname, arg = key[:-1].split("(", 1)
        if fname in factories:
            try:
                value = float(arg) if arg else 1.0
            except ValueError:
                pass
            else:
                return factories[fname](value)
    raise ValueError(
        f"unknown initializer {init!r}; choose one of {sorted(INITIALIZERS)} "
        "or normal(s), uniform(limit), constant(c), identity(s)"
    )
