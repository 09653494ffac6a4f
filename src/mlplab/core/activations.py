r"""Element-wise activations g and their derivatives g'.

Each :class:`Activation` pairs ``forward(Z) = g(Z)`` with ``derivative(Z, A) = g'(Z)``,
where ``A = g(Z)`` is passed too so that sigmoid and tanh can reuse it:

* sigmoid  :math:`\sigma(z) = 1/(1+e^{-z})`,  :math:`\sigma'(z) = \sigma(z)(1-\sigma(z))`
* tanh     :math:`\tanh'(z) = 1 - \tanh(z)^2`
* relu     :math:`\max(0, z)`, derivative 1 for z > 0 and 0 for z <= 0 (as in the notes)
* leaky_relu(slope) :math:`z` for z > 0, slope·z otherwise
* identity :math:`z`, derivative 1 (the lecture's vanishing/exploding example)

Softmax is not here: it is not element-wise and lives inside the multiclass head.
The trainer's NumPy fast path runs the same formulas in place, into buffers:
:mod:`mlplab.fast.kernels` (tests/test_performance_contracts.py compares the two).

Every function computes in the namespace of its input (``xp``, see
:mod:`mlplab._array_api`): NumPy arrays with NumPy, PyTorch tensors with PyTorch, and so
on. For NumPy, ``xp`` is :mod:`numpy` itself, so ``xp.tanh(Z)`` is ``np.tanh(Z)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array


class Activation(NamedTuple):
    """An element-wise non-linearity g with its derivative g'.

    ``derivative(Z, A)`` receives both z[l] and a[l] = g(z[l]); sigmoid and tanh use A
    (σ' = a(1 − a), tanh' = 1 − a²), ReLU and leaky ReLU use Z.
    """

    name: str
    forward: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array]


def stable_sigmoid(Z: Array) -> Array:
    r"""σ(z) = 1 / (1 + e^{-z}), finite and warning-free for every z.

    The bare ``1/(1+np.exp(-z))`` overflows for z ≪ 0 (e^{1000} = inf); scipy's
    ``expit`` evaluates the same function in one ufunc, accurate in both tails.
    Arrays of other libraries (no expit there) use their own sigmoid or the two-branch
    form of :func:`mlplab._array_api.sigmoid`.

    Parameters
    ----------
    Z : array of any shape

    Returns
    -------
    array of Z's shape, dtype and namespace
    """
    if type(Z) is np.ndarray:  # NumPy: scipy's expit directly
        return _xp._expit()(Z)
    return _xp.sigmoid(Z)


def _sigmoid(Z: Array) -> Array:
    """σ(z) = 1 / (1 + e^{-z})."""
    return stable_sigmoid(Z)


def _sigmoid_derivative(Z: Array, A: Array) -> Array:
    """σ'(z) = σ(z)(1 − σ(z)) = a(1 − a)."""
    return A * (1.0 - A)


def _tanh(Z: Array) -> Array:
    """tanh(z) = (e^z − e^{-z}) / (e^z + e^{-z})."""
    return _xp.namespace(Z).tanh(Z)


def _tanh_derivative(Z: Array, A: Array) -> Array:
    """tanh'(z) = 1 − tanh(z)² = 1 − a²."""
    return 1.0 - A * A


def _relu(Z: Array) -> Array:
    """ReLU(z) = z if z > 0 else 0."""
    return _xp.namespace(Z).maximum(Z, _xp.scalar(0, Z))


def _relu_derivative(Z: Array, A: Array) -> Array:
    """ReLU'(z) = 1 if z > 0 else 0 (the notes put z = 0 on the zero side)."""
    return _xp.astype(Z > 0, Z.dtype)


def _identity(Z: Array) -> Array:
    """id(z) = z."""
    return Z


def _identity_derivative(Z: Array, A: Array) -> Array:
    """id'(z) = 1."""
    return _xp.namespace(Z).ones_like(Z)


sigmoid = Activation("sigmoid", _sigmoid, _sigmoid_derivative)
tanh = Activation("tanh", _tanh, _tanh_derivative)
relu = Activation("relu", _relu, _relu_derivative)
identity = Activation("identity", _identity, _identity_derivative)


def leaky_relu(slope: float = 0.01) -> Activation:
    """Leaky ReLU: g(z) = z for z > 0, slope·z otherwise; g'(z) = 1 or slope.

    Parameters
    ----------
    slope : float, default=0.01
        The slope for z <= 0; must lie in [0, 1).
    """
    slope = float(slope)
    if not 0.0 <= slope < 1.0:
        raise ValueError(f"leaky_relu slope must lie in [0, 1), got {slope!r}")

    def forward(Z: Array) -> Array:
        return _xp.namespace(Z).where(Z > 0, Z, Z * slope)

    def derivative(Z: Array, A: Array) -> Array:
        # 1 and slope as scalars of Z's dtype: np.where(Z > 0, 1.0, slope) would build a
        # float64 array from a float32 Z (and the array API takes one number, not two).
        one, s = _xp.scalar(1, Z, typed=True), _xp.scalar(slope, Z, typed=True)
        return _xp.namespace(Z).where(Z > 0, one, s)

    forward.__doc__ = f"leaky_relu(z) = z if z > 0 else {slope}·z."
    derivative.__doc__ = f"leaky_relu'(z) = 1 if z > 0 else {slope}."
    name = "leaky_relu" if slope == 0.01 else f"leaky_relu({slope!r})"
    return Activation(name, forward, derivative)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu(),
    "identity": identity,
}
"""Every activation by name (``leaky_relu`` with its default slope 0.01)."""


def get(activation: str | Activation) -> Activation:
    """Look an activation up by name, or pass an :class:`Activation` through.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    TypeError
        For anything that is neither a string nor an Activation.
    """
    if isinstance(activation, Activation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(
            f"activation must be a name or an Activation, got {type(activation).__name__}"
        )
    key = activation.strip().lower()
    if key in ACTIVATIONS:
        return ACTIVATIONS[key]
    if key.startswith("leaky_relu(") and key.endswith(")"):
        try:
            return leaky_relu(float(key[len("leaky_relu(") : -1]))
        except ValueError:
            pass
    raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
