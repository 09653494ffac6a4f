r"""Batch normalization of a layer's z[l], forward and backward, in the lecture's notation.

For a mini-batch of m rows, batch normalization replaces z[l] by

.. math::
    \mu_B = \frac1m \sum_i z^{(i)}, \qquad
    \sigma^2_B = \frac1m \sum_i (z^{(i)} - \mu_B)^2, \qquad
    \hat z^{(i)} = \frac{z^{(i)} - \mu_B}{\sqrt{\sigma^2_B + \varepsilon}}, \qquad
    \tilde z^{(i)} = \gamma \odot \hat z^{(i)} + \beta

unit by unit (every operation is per column of Z), and a[l] = g(z̃[l]). γ[l] and β[l]
(shape (n[l],)) are trained like W[l] and b[l]; γ = 1, β = 0 at the start. b[l] is
then redundant (μ_B subtracts it again, so dJ/db[l] = 0); it is kept so that z[l] =
W[l] a[l-1] + b[l] stays the lecture's, as PyTorch's ``Linear`` + ``BatchNorm1d`` keeps it.

At inference there is no batch: μ and σ² are running averages taken during training,
the lecture's exponentially weighted averages with β_bn (PyTorch's momentum is 1 − β_bn):

.. math::
    \mu \leftarrow \beta_{bn}\,\mu + (1 - \beta_{bn})\,\mu_B, \qquad
    \sigma^2 \leftarrow \beta_{bn}\,\sigma^2 + (1 - \beta_{bn})\,\tfrac{m}{m-1}\,\sigma^2_B

(the running variance takes the unbiased batch variance, as PyTorch does; for m = 1 the
batch variance itself).

Every function works on the arrays of any array API library, in that library, and
returns new arrays. The trainer's NumPy fast path (:mod:`mlplab.fast.regularized`) runs
the same equations into buffers, with the batch's sums taken over every MPI rank.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mlplab import _array_api as _xp
from mlplab._typing import Array


class BNParams(NamedTuple):
    """γ[l] and β[l] of shape (n[l],) (or their gradients dγ, dβ)."""

    gamma: Array
    beta: Array


class BNStats(NamedTuple):
    """Running averages μ[l] and σ²[l] of shape (n[l],), used at inference."""

    mean: Array
    var: Array


class BatchNorm(NamedTuple):
    """What batch normalization of layer l needs: γ, β, the running averages and ε."""

    params: BNParams
    running: BNStats
    eps: float = 1e-5


class BNCache(NamedTuple):
    """What the backward pass needs from the forward pass of one normalized layer.

    ``Z_hat`` is ẑ; ``centered`` z − μ; ``inv_std`` 1/√(σ² + ε); ``mean`` and ``var``
    the μ and σ² used (the batch's in training, the running averages at inference);
    ``training`` says which.
    """

    Z_hat: Array
    centered: Array
    inv_std: Array
    gamma: Array
    mean: Array
    var: Array
    training: bool


def batch_moments(Z: Array) -> tuple[Array, Array]:
    r"""μ_B and σ²_B of every column of Z (shape (m, n[l])): the mean and the *biased*
    variance (1/m) Σ (z − μ_B)², computed in two passes."""
    xp = _xp.namespace(Z)
    mean = xp.mean(Z, axis=0)
    return mean, xp.mean((Z - mean) ** 2, axis=0)


def batchnorm_forward(Z: Array, bn: BatchNorm, training: bool) -> tuple[Array, BNCache]:
    r"""z̃ = γ ⊙ (z − μ)/√(σ² + ε) + β for every row of Z.

    Parameters
    ----------
    Z : ndarray of shape (m, n[l])
        z[l] = W[l] a[l-1] + b[l] for the batch's rows.
    bn : BatchNorm
    training : bool
        True: μ, σ² are the batch's (:func:`batch_moments`); False: the running averages.

    Returns
    -------
    Z_tilde : ndarray of shape (m, n[l])
    cache : BNCache

    Examples
    --------
    >>> import numpy as np
    >>> bn = BatchNorm(BNParams(np.ones(1), np.zeros(1)), BNStats(np.zeros(1), np.ones(1)), 0.0)
    >>> Zt, _ = batchnorm_forward(np.array([[1.0], [3.0]]), bn, training=True)
    >>> Zt.ravel().tolist()  # μ = 2, σ² = 1
    [-1.0, 1.0]
    """
    xp = _xp.namespace(Z)
    if training:
        mean, var = batch_moments(Z)
    else:
        mean, var = bn.running
    centered = Z - mean  # z − μ
    inv_std = 1.0 / xp.sqrt(var + bn.eps)  # 1/√(σ² + ε)
    Z_hat = centered * inv_std  # ẑ
    gamma, beta = bn.params
    Z_tilde = gamma * Z_hat + beta  # z̃ = γ ⊙ ẑ + β
    return Z_tilde, BNCache(Z_hat, centered, inv_std, gamma, mean, var, training)


def batchnorm_backward(dZ_tilde: Array, cache: BNCache) -> tuple[Array, BNParams]:
    r"""From dJ/dz̃ to dJ/dγ, dJ/dβ and dJ/dz, through μ_B and σ²_B.

    Parameters
    ----------
    dZ_tilde : ndarray of shape (m, n[l])
        dJ/dz̃[l] (already divided by m by the head).
    cache : BNCache

    Returns
    -------
    dZ : ndarray of shape (m, n[l])
    grads : BNParams
        dγ and dβ of shape (n[l],).

    Notes
    -----
    The chain rule through the forward pass's lines, one per line (sums over the m
    rows of the batch; σ stands for √(σ²_B + ε)):

    .. math::
        d\beta &= \textstyle\sum_i d\tilde z_i, \qquad
        d\gamma = \textstyle\sum_i d\tilde z_i \odot \hat z_i, \qquad
        d\hat z_i = d\tilde z_i \odot \gamma \\
        d\sigma^2_B &= \textstyle\sum_i d\hat z_i \odot (z_i - \mu_B)
            \cdot (-\tfrac12)(\sigma^2_B + \varepsilon)^{-3/2} \\
        d\mu_B &= -\textstyle\sum_i d\hat z_i / \sigma
            + d\sigma^2_B \cdot (-\tfrac2m) \textstyle\sum_i (z_i - \mu_B) \\
        dz_i &= d\hat z_i / \sigma + d\sigma^2_B \cdot \tfrac2m (z_i - \mu_B)
            + d\mu_B / m

    (the last term of dμ_B is 0, since Σ (z − μ_B) = 0; it is the lecture's chain rule
    written in full). Collected, dz = (γ/σ)(dz̃ − dβ/m − ẑ ⊙ dγ/m), the form
    :mod:`mlplab.fast.regularized` computes. At inference (running averages, which do not
    depend on z) only the first path is left: dz = dẑ / σ.
    """
    xp = _xp.namespace(dZ_tilde)
    c = cache
    d_beta = xp.sum(dZ_tilde, axis=0)  # dβ = Σ_i dz̃
    d_gamma = xp.sum(dZ_tilde * c.Z_hat, axis=0)  # dγ = Σ_i dz̃ ⊙ ẑ
    dZ_hat = dZ_tilde * c.gamma  # dẑ = dz̃ ⊙ γ
    if not c.training:  # μ, σ² are constants: ẑ = (z − μ)/σ
        return dZ_hat * c.inv_std, BNParams(d_gamma, d_beta)
    m = dZ_tilde.shape[0]
    # dσ² = Σ_i dẑ (z − μ) · (−½)(σ² + ε)^(−3/2)
    d_var = xp.sum(dZ_hat * c.centered, axis=0) * (-0.5) * c.inv_std**3
    # dμ = −Σ_i dẑ/σ + dσ² · (−2/m) Σ_i (z − μ)
    d_mean = -xp.sum(dZ_hat, axis=0) * c.inv_std + d_var * (-2.0 / m) * xp.sum(c.centered, axis=0)
    # dz = dẑ/σ + dσ² · 2(z − μ)/m + dμ/m
    dZ = dZ_hat * c.inv_std + d_var * (2.0 / m) * c.centered + d_mean / m
    return dZ, BNParams(d_gamma, d_beta)


def update_running(running: BNStats, mean: Array, var: Array, m: int, momentum: float) -> BNStats:
    r"""The running averages after a training batch of m rows with moments (μ_B, σ²_B).

    .. math::
        \mu \leftarrow \beta\,\mu + (1-\beta)\,\mu_B, \qquad
        \sigma^2 \leftarrow \beta\,\sigma^2 + (1-\beta)\,\tfrac{m}{m-1}\,\sigma^2_B

    β = ``momentum`` (PyTorch's ``momentum`` is 1 − β). For m = 1, σ²_B itself.
    """
    unbiased = var * (m / (m - 1)) if m > 1 else var
    return BNStats(
        momentum * running.mean + (1 - momentum) * mean,
        momentum * running.var + (1 - momentum) * unbiased,
    )


def init_bn(n: int, dtype: Any) -> tuple[BNParams, BNStats]:
    """γ = 1, β = 0 and running averages μ = 0, σ² = 1 for a layer of n units (NumPy)."""
    import numpy as np

    return (
        BNParams(np.ones(n, dtype=dtype), np.zeros(n, dtype=dtype)),
        BNStats(np.zeros(n, dtype=dtype), np.ones(n, dtype=dtype)),
    )
