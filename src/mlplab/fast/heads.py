r"""In-place twins of core's heads (link + loss, dZ[L]) for the NumPy fast path.

:mod:`mlplab.core.heads` is what a reader meets: ``loss_and_grad(Z, Y)`` returns J and a
new dZ[L] = (a[L] − y)/n, and allocates every intermediate array on the way. The
training step (:class:`mlplab.fast.workspace.Workspace`) calls it once per mini-batch,
so it runs the built-in heads through the kernels below instead: the same ufuncs, in the
same order, on the same values, written into buffers allocated once — so J and dZ[L] are
bit for bit those of the pure head (tests/test_fast_heads.py compares them).

Built-ins are recognised by their functions, never by their names, so that a user's Head
called "binary" runs its own code: :func:`head_kernel` returns None for any other head,
and the workspace calls that head's pure ``loss_and_grad``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array
from mlplab.core import heads as _heads

HeadKernel = Callable[[Array, Array, Array, Array, Array], float]
"""``kernel(Z, Y, dZ, T1, T2) -> J``: dZ[L] written into ``dZ``; T1, T2 scratch of Z's shape."""


def _binary_into(Z: Array, Y: Array, dZ: Array, T1: Array, T2: Array) -> float:
    n = Z.shape[0]
    _xp._expit()(Z, out=dZ)  # a[L] = σ(z[L]), scipy's expit as core's stable_sigmoid
    dZ -= Y  # a − y
    dZ *= 1.0 / n  # dJ/dz[L] = (a − y)/n
    np.logaddexp(0, Z, out=T1)  # log(1 + e^z) − yz: no log(0), no overflow
    np.multiply(Y, Z, out=T2)
    T1 -= T2
    return float(T1.sum() / n)


def _multiclass_into(Z: Array, Y: Array, dZ: Array, T1: Array, T2: Array) -> float:
    n = Z.shape[0]
    np.subtract(Z, Z.max(axis=1, keepdims=True), out=T1)  # max-shifted: every e^z ≤ 1
    np.exp(T1, out=T2)
    T1 -= np.log(T2.sum(axis=1, keepdims=True))  # log softmax(z)
    np.multiply(Y, T1, out=T2)
    J = -float(T2.sum() / n)
    np.exp(T1, out=dZ)  # a[L] = softmax(z[L])
    dZ -= Y
    dZ *= 1.0 / n
    return J


def _regression_into(Z: Array, Y: Array, dZ: Array, T1: Array, T2: Array) -> float:
    n = Z.shape[0]
    np.subtract(Z, Y, out=dZ)  # a − y with a = z
    np.multiply(dZ, dZ, out=T1)
    J = float(T1.sum() / (2 * n))
    dZ *= 1.0 / n
    return J


# The pure loss_and_grad of each built-in head -> its in-place twin.
_KERNELS: dict[Callable[..., Any], HeadKernel] = {
    _heads.binary.loss_and_grad: _binary_into,
    _heads.multiclass.loss_and_grad: _multiclass_into,
    _heads.regression.loss_and_grad: _regression_into,
}


def _multiclass_columns_into(ZT: Array, YT: Array, dZT: Array, T1: Array, T2: Array) -> float:
    """:func:`_multiclass_into` on z[L]ᵀ, one column per sample (shapes (n[L], m)).

    The same ufuncs on the same values, but the max and the sum over the classes run
    down the columns, row after contiguous row, where on (m, n[L]) rows of a few classes
    each they cost several times more (digits, 200 × 10: 11 µs against 2 µs for the
    max). Equal to the pure head up to rounding (the sum over the classes adds in
    another order), so only the estimators' step uses it (:class:`Workspace` with
    ``blocks``).
    """
    n = ZT.shape[1]
    # the reductions as ufunc reduce calls: ndarray.max/sum run the same ones through
    # a Python wrapper (NumPy's _methods), about 0.7 µs a call more on these sizes
    np.subtract(ZT, np.maximum.reduce(ZT, axis=0), out=T1)  # max-shifted: every e^z ≤ 1
    np.exp(T1, out=dZT)
    s = np.add.reduce(dZT, axis=0)
    T1 -= np.log(s)  # log softmax(z)
    np.multiply(YT, T1, out=T2)
    J = -float(np.add.reduce(T2, axis=None) / n)
    np.divide(1.0 / n, s, out=s)
    dZT *= s  # a[L]/n = softmax(z[L])/n
    np.multiply(YT, 1.0 / n, out=T2)
    dZT -= T2  # dJ/dz[L] = (a − y)/n
    return J


def head_kernel(head: _heads.Head) -> HeadKernel | None:
    """The in-place twin of a built-in head's ``loss_and_grad``, or None for any other.

    Examples
    --------
    >>> import numpy as np
    >>> from mlplab.core import heads
    >>> Z, Y = np.array([[0.0], [2.0]]), np.array([[1.0], [0.0]])
    >>> dZ, T1, T2 = np.empty_like(Z), np.empty_like(Z), np.empty_like(Z)
    >>> J = head_kernel(heads.binary)(Z, Y, dZ, T1, T2)
    >>> J_pure, dZ_pure = heads.binary.loss_and_grad(Z, Y)
    >>> J == J_pure, bool((dZ == dZ_pure).all())
    (True, True)
    """
    return _KERNELS.get(head.loss_and_grad)


def columns_kernel(head: _heads.Head) -> HeadKernel | None:
    """The kernel of a built-in head for z[L]ᵀ and yᵀ of shape (n[L], m), one column per
    sample, where the column layout pays (the multiclass head); None for any other.

    Equal to :func:`head_kernel`'s up to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from mlplab.core import heads
    >>> Z, Y = np.array([[0.0, 1.0], [2.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> dZT, T1, T2 = (np.empty((2, 2)) for _ in range(3))
    >>> J = columns_kernel(heads.multiclass)(Z.T.copy(), Y.T.copy(), dZT, T1, T2)
    >>> J_pure, dZ_pure = heads.multiclass.loss_and_grad(Z, Y)
    >>> bool(np.isclose(J, J_pure)), bool(np.allclose(dZT.T, dZ_pure))
    (True, True)
    >>> columns_kernel(heads.binary) is None
    True
    """
    if head.loss_and_grad is _heads.multiclass.loss_and_grad:
        return _multiclass_columns_into
    return None
