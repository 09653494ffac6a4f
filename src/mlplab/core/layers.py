r"""One dense layer, forward and backward, in the lecture's notation.

For a batch whose rows are samples (A_prev of shape (n_samples, n[l-1])), the lecture's
z[l] = W[l] a[l-1] + b[l] for one column-vector sample becomes ``Z = A_prev @ W.T + b``:
the same equation applied to every row. Both functions work on the arrays of any array
API library (NumPy, PyTorch, CuPy, ...), in that library.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mlplab import _array_api as _xp
from mlplab._typing import Array, DenseParams
from mlplab.core.activations import Activation


class Cache(NamedTuple):
    """What the backward pass of layer l needs from its forward pass."""

    A_prev: Array  # a[l-1], shape (n_samples, n[l-1])
    Z: Array  # z[l],   shape (n_samples, n[l])
    A: Array  # a[l] = g(z[l]), shape (n_samples, n[l])


class ExtendedCache(NamedTuple):
    """The cache of a hidden layer with batch normalization or dropout (the next lecture).

    ``Z`` is the input of g: z̃[l] with batch normalization, whose other values ``bn``
    holds (:class:`~mlplab.core.batchnorm.BNCache`), else z[l]. With dropout ``mask`` is
    d[l]/p and the next layer's a[l-1] is ``A * mask`` (``A`` stays g(z), which g'
    needs). Plain layers keep the three-field :class:`Cache`.
    """

    A_prev: Array  # a[l-1], shape (n_samples, n[l-1])
    Z: Array  # z̃[l] (or z[l]), shape (n_samples, n[l])
    A: Array  # a[l] = g(z̃[l]), shape (n_samples, n[l]), before dropout
    bn: Any  # BNCache, or None
    mask: Array | None  # d[l]/p, or None


LayerCache = Cache | ExtendedCache
"""The cache of one layer: :class:`Cache`, or :class:`ExtendedCache` (batch norm, dropout)."""


def dense_forward(params: DenseParams, A_prev: Array, g: Activation) -> tuple[Array, Cache]:
    r"""Forward pass of one dense layer.

    Parameters
    ----------
    params : DenseParams
        W[l] of shape (n[l], n[l-1]) and b[l] of shape (n[l],).
    A_prev : ndarray of shape (n_samples, n[l-1])
        a[l-1] (X itself for l = 1).
    g : Activation
        The layer's activation.

    Returns
    -------
    A : ndarray of shape (n_samples, n[l])
    cache : Cache

    Notes
    -----
    .. math:: z^{[l]} = W^{[l]} a^{[l-1]} + b^{[l]}, \qquad a^{[l]} = g(z^{[l]})

    Examples
    --------
    >>> import numpy as np
    >>> from mlplab.core.activations import identity
    >>> p = DenseParams(np.array([[1.0, 2.0]]), np.array([0.5]))
    >>> A, _ = dense_forward(p, np.array([[1.0, 1.0], [2.0, 0.0]]), identity)
    >>> A.ravel().tolist()
    [3.5, 2.5]
    """
    W, b = params
    Z = A_prev @ W.T + b  # z[l] = W[l] a[l-1] + b[l], one row per sample
    A = g.forward(Z)  # a[l] = g(z[l])
    return A, Cache(A_prev, Z, A)


def dense_backward(
    dZ: Array, params: DenseParams, cache: LayerCache, *, need_dA_prev: bool = True
) -> tuple[Array | None, DenseParams]:
    r"""Backward pass of one dense layer: from dJ/dz[l] to dJ/dW[l], dJ/db[l], dJ/da[l-1].

    Parameters
    ----------
    dZ : ndarray of shape (n_samples, n[l])
        dJ/dz[l]; already divided by n_samples by the head.
    params : DenseParams
        W[l] of shape (n[l], n[l-1]) and b[l].
    cache : Cache
        What ``dense_forward`` returned for this layer.
    need_dA_prev : bool, default=True
        False for the first layer: a[0] = x, and dJ/dx is not needed, so that product
        is skipped and ``dA_prev`` is None.

    Returns
    -------
    dA_prev : ndarray of shape (n_samples, n[l-1]), or None
    grads : DenseParams
        dW[l] of shape (n[l], n[l-1]) and db[l] of shape (n[l],).

    Notes
    -----
    The chain rule of the notes, summed over the batch (the 1/n is inside dZ):

    .. math::
        dW^{[l]} = dZ^{[l]\top} A^{[l-1]}, \quad db^{[l]} = \textstyle\sum_i dZ^{[l]}_i,
        \quad dA^{[l-1]} = dZ^{[l]} W^{[l]}

    dW is computed as (A[l-1]ᵀ dZ[l])ᵀ, the same sums: for NumPy that lays dW out column
    by column, as a :class:`~mlplab.core.network.Network` stores W[l], so that an
    optimizer's W − α dW runs on arrays of one layout (mixed layouts made the pure
    training loop twice as slow on a wide network).

    Examples
    --------
    >>> import numpy as np
    >>> from mlplab.core.activations import identity
    >>> p = DenseParams(np.array([[1.0, 2.0]]), np.array([0.5]))
    >>> _, cache = dense_forward(p, np.array([[1.0, 1.0], [2.0, 0.0]]), identity)
    >>> dA_prev, (dW, db) = dense_backward(np.array([[1.0], [0.5]]), p, cache)
    >>> dW.tolist(), db.tolist(), dA_prev.tolist()
    ([[2.0, 1.0]], [1.5], [[1.0, 2.0], [0.5, 1.0]])
    """
    dW = (cache.A_prev.T @ dZ).T  # ∂J/∂W[l] = dZ[l]ᵀ A[l-1] = Σ_i dz[l](i) a[l-1](i)ᵀ
    db = _xp.sum(dZ, axis=0)  # ∂J/∂b[l] = Σ_i dz[l](i)
    dA_prev = dZ @ params.W if need_dA_prev else None  # ∂J/∂a[l-1] = W[l]ᵀ dz[l], per row
    return dA_prev, DenseParams(dW, db)
