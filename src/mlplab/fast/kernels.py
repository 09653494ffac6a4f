r"""In-place twins of core's activations, for the NumPy fast path.

The functions of :mod:`mlplab.core.activations` are what a reader meets: each returns new
arrays. Training repeats them on arrays of one shape thousands of times, so the fast path
(:class:`mlplab.fast.workspace.Workspace`) runs the same formulas through the kernels
below, which write into buffers allocated once. Each kernel computes the values its pure
twin computes (tests/test_performance_contracts.py compares them).

Built-ins are recognised by their functions, never by their names, so that a user's
Activation called "relu" runs its own code: :func:`inplace_kernels` looks an activation
up by ``(g.forward, g.derivative)``; any other activation gets a generic pair that calls
``g``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array
from mlplab.core import activations as _act

# ------------------------------------------------------------------ activations


def _relu_into(Z: Array, out: Array) -> Array:
    # a = max(z, 0) as z ⊙ 1[z > 0]: the mask goes into ``out`` and stays there for
    # backprop (it is g'(z)), a overwrites z in place. np.maximum is slow for float32
    # here; with the comparison, the multiply, and a backprop of one multiply, forward +
    # backward took 18 µs against 29 on 128×256 (benchmarks/RESULTS.md). Same values as
    # max(z, 0) for finite z and NaN (a negative z gives −0.0), but z = −inf (which only
    # an overflowed product makes) gives NaN, which the trainer reports as divergence.
    np.greater(Z, 0, out=out)
    np.multiply(Z, out, out=Z)
    return Z


def _relu_backward_into(dA: Array, Z: Array, out: Array) -> Array:
    dA *= out  # dZ = dA ⊙ g'(z), g'(z) = 1[z > 0] kept by _relu_into
    return dA


def _sigmoid_into(Z: Array, out: Array) -> Array:
    return _xp._expit()(Z, out=out)  # a = σ(z), scipy's expit as core's stable_sigmoid


def _sigmoid_backward_into(dA: Array, Z: Array, A: Array) -> Array:
    np.subtract(1.0, A, out=Z)  # 1 − a, written over the dead z buffer
    Z *= A  # σ'(z) = a(1 − a)
    dA *= Z  # dZ = dA ⊙ σ'(z)
    return dA


def _tanh_into(Z: Array, out: Array) -> Array:
    return np.tanh(Z, out=out)  # a = tanh(z)


def _tanh_backward_into(dA: Array, Z: Array, A: Array) -> Array:
    np.multiply(A, A, out=Z)
    np.subtract(1.0, Z, out=Z)  # tanh'(z) = 1 − a²
    dA *= Z  # dZ = dA ⊙ tanh'(z)
    return dA


def _identity_into(Z: Array, out: Array) -> Array:
    return Z  # a = z: no copy


def _identity_backward_into(dA: Array, Z: Array, A: Array) -> Array:
    return dA  # g' = 1


class InPlaceKernels(NamedTuple):
    """In-place twins of an Activation, used by the training fast path.

    ``forward_into(Z, out)`` returns a = g(z), written into ``out`` or over Z (ReLU, the
    identity). ``backward_into(dA, Z, out)``, given the same two buffers after a was
    used, multiplies dA by g'(z) in place and returns it (dZ = dA ⊙ g'(z)); it may
    overwrite Z. Whatever of Z and ``out`` forward_into did not return is its own (ReLU
    keeps g'(z) there). All arrays have the shape (n_samples, n[l]).
    """

    forward_into: Callable[[Array, Array], Array]
    backward_into: Callable[[Array, Array, Array], Array]


def _key(g: _act.Activation) -> tuple[Callable, Callable]:
    return (g.forward, g.derivative)


# (forward, derivative) of each built-in activation -> its in-place kernels.
_KERNELS: dict[tuple[Callable, Callable], InPlaceKernels] = {
    _key(_act.relu): InPlaceKernels(_relu_into, _relu_backward_into),
    _key(_act.sigmoid): InPlaceKernels(_sigmoid_into, _sigmoid_backward_into),
    _key(_act.tanh): InPlaceKernels(_tanh_into, _tanh_backward_into),
    _key(_act.identity): InPlaceKernels(_identity_into, _identity_backward_into),
}


def inplace_kernels(g: _act.Activation) -> InPlaceKernels:
    """The in-place kernels of ``g``: the built-in ones, or a generic pair that calls g.

    Looked up by g's functions, not its name, so that a user's Activation that happens
    to be called "relu" still runs its own code.
    """
    kernels = _KERNELS.get(_key(g))
    if kernels is not None:
        return kernels

    def forward_into(Z: Array, out: Array) -> Array:
        out[...] = g.forward(Z)  # a = g(z)
        return out

    def backward_into(dA: Array, Z: Array, A: Array) -> Array:
        dA *= g.derivative(Z, A)  # dZ = dA ⊙ g'(z)
        return dA

    return InPlaceKernels(forward_into, backward_into)
