r"""Backpropagation for an L-layer network, as functions of the parameters (the lecture).

Notation (the lecture's, see ``docs/notation.md``): layers l = 1..L, n[l] units in layer
l, n[0] input features; W[l] has shape (n[l], n[l-1]) and b[l] shape (n[l],). Rows of X
are samples, so for a batch ``Z = A_prev @ W.T + b`` is z[l] = W[l] a[l-1] + b[l] for
every row at once. The last layer outputs the logits z[L]; the head applies its link
(σ, softmax or identity) and owns the loss J. Python lists count from 0: ``params[l]``
holds the lecture's W[l+1], b[l+1].

Every function computes in the namespace of the arrays it is given: NumPy, PyTorch (CPU
or CUDA), CuPy, or any array API library (:mod:`mlplab._array_api`). Each call returns
new arrays. The trainer's NumPy fast path computes the same equations into buffers
allocated once (:mod:`mlplab.fast.workspace`; tests/test_performance_contracts.py
compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array, DenseParams, Grads, Params
from mlplab.core import activations as _act
from mlplab.core.activations import Activation
from mlplab.core.batchnorm import BatchNorm, BNParams, batchnorm_backward, batchnorm_forward
from mlplab.core.dropout import dropout_backward, dropout_forward
from mlplab.core.heads import Head
from mlplab.core.initializers import Initializer
from mlplab.core.layers import Cache, ExtendedCache, LayerCache, dense_backward, dense_forward


def init_params(
    layer_sizes: Sequence[int],
    inits: Sequence[Initializer],
    rng: np.random.Generator,
    dtype: Any = np.float32,
) -> Params:
    """Draw W[l] with ``inits[l-1]`` and set b[l] = 0, for l = 1..L.

    Parameters
    ----------
    layer_sizes : list of int
        ``[n0, n1, ..., nL]``.
    inits : list of L callables
        ``inits[l-1](rng, shape, dtype)`` draws W[l] of shape (n[l], n[l-1]).
    rng : numpy.random.Generator
    dtype : NumPy dtype, default=float32

    Returns
    -------
    params : list of L DenseParams
        W[l] of shape (n[l], n[l-1]), laid out column by column as a Network stores it
        (so that :func:`backward`'s dW[l] has W[l]'s layout), and b[l] = 0 of shape (n[l],).
    """
    params = []
    for l in range(1, len(layer_sizes)):
        shape = (layer_sizes[l], layer_sizes[l - 1])
        W = np.asarray(inits[l - 1](rng, shape, dtype), dtype=dtype, order="F")
        params.append(DenseParams(W, np.zeros(layer_sizes[l], dtype=dtype)))
    return params


def forward(
    params: Params,
    X: Array,
    hidden: Sequence[Activation],
    norms: Sequence[BatchNorm | None] | None = None,
    masks: Sequence[Array | None] | None = None,
    *,
    training: bool = False,
) -> tuple[Array, list[LayerCache]]:
    """Forward propagation through all L layers: a loop over :func:`dense_forward`.

    Parameters
    ----------
    params : list of L DenseParams
    X : ndarray of shape (n_samples, n[0])
    hidden : list of L − 1 Activations
        g[1], ..., g[L-1]; the last layer is linear (the head applies its link).
    norms : list of L − 1 BatchNorm or None, optional
        Batch normalization of hidden layer l (None: none), between z[l] and g
        (:mod:`mlplab.core.batchnorm`).
    masks : list of L − 1 arrays or None, optional
        d[l]/p of hidden layer l (:mod:`mlplab.core.dropout`), shape (n_samples, n[l]);
        None: no dropout. Only for training.
    training : bool, default=False
        Batch normalization with the batch's μ_B, σ²_B (True) or the running averages.

    Returns
    -------
    Z_L : ndarray of shape (n_samples, n[L])
        The logits z[L].
    caches : list of L Cache
        (a[l-1], z[l], a[l]) of every layer, for :func:`backward`; an
        :class:`~mlplab.core.layers.ExtendedCache` for a layer with batch norm or dropout.
    """
    if norms is None and masks is None:  # the lecture's network
        caches: list[LayerCache] = []
        A = X  # a[0] = x
        for l, p in enumerate(params):
            g = hidden[l] if l < len(hidden) else _act.identity
            A, cache = dense_forward(p, A, g)  # z[l] = W[l] a[l-1] + b[l], a[l] = g(z[l])
            caches.append(cache)
        return A, caches
    return _forward_extended(params, X, hidden, norms, masks, training)


def _forward_extended(
    params: Params,
    X: Array,
    hidden: Sequence[Activation],
    norms: Sequence[BatchNorm | None] | None,
    masks: Sequence[Array | None] | None,
    training: bool,
) -> tuple[Array, list[LayerCache]]:
    """:func:`forward` with batch normalization and/or dropout on hidden layers."""
    caches: list[LayerCache] = []
    A, L = X, len(params)
    for l, (W, b) in enumerate(params):
        A_prev = A
        Z: Array = A_prev @ W.T + b  # z[l] = W[l] a[l-1] + b[l]
        if l == L - 1:  # the output layer: logits, no batch norm, no dropout
            caches.append(Cache(A_prev, Z, Z))
            return Z, caches
        bn = norms[l] if norms is not None else None
        mask = masks[l] if masks is not None else None
        bn_cache = None
        if bn is not None:
            Z, bn_cache = batchnorm_forward(Z, bn, training)  # z̃ = γ ⊙ ẑ + β
        A = hidden[l].forward(Z)  # a[l] = g(z̃[l])
        caches.append(ExtendedCache(A_prev, Z, A, bn_cache, mask))
        if mask is not None:
            A = dropout_forward(A, mask)  # a[l] ⊙ d[l]/p
    raise AssertionError("unreachable")  # pragma: no cover


class Gradients(NamedTuple):
    """Every gradient backprop computes: dW[l], db[l]; dγ[l], dβ[l]; dJ/dX if asked."""

    dense: Grads
    norms: list[BNParams | None]
    dX: Array | None = None  # noqa: N815  (the lecture's name)


def backward(
    dZ_L: Array, params: Params, caches: Sequence[LayerCache], hidden: Sequence[Activation]
) -> Grads:
    r"""Backpropagation: the chain rule from dJ/dz[L] back to every dW[l], db[l].

    A loop over :func:`~mlplab.core.layers.dense_backward`, from layer L down to 1:

    .. math::
        dW^{[l]} = dZ^{[l]\top} A^{[l-1]}, \quad db^{[l]} = \textstyle\sum_i dZ^{[l]}_i,
        \quad dZ^{[l-1]} = (dZ^{[l]} W^{[l]}) \odot g'^{[l-1]}(z^{[l-1]})

    the lecture's :math:`W^{[3]T} * a^{[2]}(1-a^{[2]}) (a^{[3]} - y)` for every layer.
    With batch normalization or dropout see :func:`backward_all` (this returns its
    dW[l], db[l]).

    Parameters
    ----------
    dZ_L : ndarray of shape (n_samples, n[L])
        dJ/dz[L] from the head (already divided by n_samples).
    params : list of L DenseParams
    caches : list of L Cache
        What :func:`forward` returned.
    hidden : list of L − 1 Activations

    Returns
    -------
    grads : list of L DenseParams
        dW[l] of shape (n[l], n[l-1]) and db[l] of shape (n[l],), new arrays.
    """
    if any(type(c) is ExtendedCache for c in caches):
        return backward_all(dZ_L, params, caches, hidden).dense
    L = len(params)
    grads: list[DenseParams] = [None] * L  # type: ignore[list-item]
    dZ = dZ_L
    for l in reversed(range(L)):  # da[0] = dx is not needed: no dA for the first layer
        dA_prev, grads[l] = dense_backward(dZ, params[l], caches[l], need_dA_prev=l > 0)
        if l > 0:
            assert dA_prev is not None  # asked for: need_dA_prev
            prev = caches[l - 1]
            dZ = dA_prev * hidden[l - 1].derivative(prev.Z, prev.A)  # dA[l-1] ⊙ g'(z[l-1])
    return grads


def backward_all(
    dZ_L: Array,
    params: Params,
    caches: Sequence[Any],
    hidden: Sequence[Activation],
    *,
    need_dX: bool = False,
) -> Gradients:
    r"""Backpropagation through batch normalization and dropout too.

    Layer l (from L down to 1), given dJ/dz[l]: dW[l], db[l] and da[l-1] =
    :func:`~mlplab.core.layers.dense_backward`; then for hidden layer l − 1

    .. math::
        da \leftarrow da \odot d/p \;\text{(dropout)}, \qquad
        d\tilde z = da \odot g'(\tilde z), \qquad
        dz, d\gamma, d\beta = \text{BN backward}(d\tilde z)

    (:func:`~mlplab.core.dropout.dropout_backward`,
    :func:`~mlplab.core.batchnorm.batchnorm_backward`).

    Returns
    -------
    Gradients
        ``dense``: dW[l], db[l]; ``norms``: BNParams(dγ[l], dβ[l]) per hidden layer
        (None without batch norm); ``dX``: dJ/dx, shape (n_samples, n[0]), if
        ``need_dX``.
    """
    L = len(params)
    dense: list[DenseParams] = [None] * L  # type: ignore[list-item]
    norms: list[BNParams | None] = [None] * (L - 1)
    dZ = dZ_L
    for l in reversed(range(L)):
        dA_prev, dense[l] = dense_backward(dZ, params[l], caches[l], need_dA_prev=l > 0 or need_dX)
        if l == 0:
            return Gradients(dense, norms, dA_prev)
        assert dA_prev is not None  # asked for: need_dA_prev
        prev = caches[l - 1]
        mask = getattr(prev, "mask", None)
        if mask is not None:
            dA_prev = dropout_backward(dA_prev, mask)  # da[l-1] ⊙ d[l-1]/p
        dZ = dA_prev * hidden[l - 1].derivative(prev.Z, prev.A)  # dz̃ = da ⊙ g'(z̃)
        bn = getattr(prev, "bn", None)
        if bn is not None:
            dZ, norms[l - 1] = batchnorm_backward(dZ, bn)  # dz through μ_B and σ²_B
    raise AssertionError("unreachable")  # pragma: no cover


def l2_penalty(params: Params, lam: float, n_samples: float) -> float:
    r"""(λ / 2n) Σ_l ‖W[l]‖²_F (biases are not penalized).

    A float for NumPy parameters, a 0-D array on their device otherwise (like J).
    """
    total = sum(_xp.loss_value(_xp.sum(p.W * p.W)) for p in params)
    return _xp.loss_value(lam / (2 * n_samples) * total)


def loss_and_grads(
    params: Params,
    X: Array,
    Y: Array,
    hidden: Sequence[Activation],
    head: Head,
    l2: float = 0.0,
) -> tuple[float, Grads]:
    """J = (1/n) Σ L(i) (+ L2) and its gradient for every W[l], b[l], by backprop.

    Parameters
    ----------
    params : list of L DenseParams
    X : ndarray of shape (n_samples, n[0])
    Y : ndarray of shape (n_samples, n[L])
        Targets as the head expects them (one-hot rows for multiclass).
    hidden : list of L − 1 Activations
    head : Head
    l2 : float, default=0.0
        λ of the penalty (λ / 2n) Σ‖W[l]‖², whose gradient (λ/n) W[l] is added to dW[l].

    Returns
    -------
    J : float
        A float for NumPy and a 0-D array otherwise (``float(J)`` reads it).
    grads : list of L DenseParams
    """
    Z_L, caches = forward(params, X, hidden)
    J, dZ_L = head.loss_and_grad(Z_L, Y)  # dZ[L] = (a[L] − y) / n
    grads = backward(dZ_L, params, caches, hidden)
    if l2:
        J, grads = _add_l2(J, grads, params, l2, X.shape[0])
    return J, grads


def _add_l2(J: Any, grads: Grads, params: Params, l2: float, n_samples: int) -> tuple[Any, Grads]:
    J = J + l2_penalty(params, l2, n_samples)
    grads = [
        DenseParams(g.W + (l2 / n_samples) * p.W, g.b)  # dW[l] += (λ/n) W[l]
        for g, p in zip(grads, params, strict=True)
    ]
    return J, grads


def loss_and_all_grads(
    params: Params,
    X: Array,
    Y: Array,
    hidden: Sequence[Activation],
    head: Head,
    l2: float = 0.0,
    norms: Sequence[BatchNorm | None] | None = None,
    masks: Sequence[Array | None] | None = None,
    *,
    training: bool = True,
    need_dX: bool = False,
) -> tuple[float, Gradients]:
    """:func:`loss_and_grads` for a network with batch normalization and/or dropout.

    ``norms``, ``masks`` and ``training`` as in :func:`forward` (training: the batch's
    μ_B and σ²_B; the running averages are not updated here); the gradients of γ[l],
    β[l] (and of X with ``need_dX``) come back too (:class:`Gradients`).
    """
    Z_L, caches = forward(params, X, hidden, norms, masks, training=training)
    J, dZ_L = head.loss_and_grad(Z_L, Y)  # dZ[L] = (a[L] − y) / n
    grads = backward_all(dZ_L, params, caches, hidden, need_dX=need_dX)
    if l2:
        J, dense = _add_l2(J, grads.dense, params, l2, X.shape[0])
        grads = grads._replace(dense=dense)
    return J, grads
