r"""Inverted dropout of a hidden layer's activations, in the lecture's notation.

During training each unit of hidden layer l is kept with probability p (``keep_prob``)
and dropped otherwise, a fresh draw for every row of every mini-batch:

.. math::
    d^{[l]} \sim \text{Bernoulli}(p), \qquad a^{[l]} \leftarrow a^{[l]} \odot d^{[l]} / p

Dividing by p ("inverted" dropout) keeps the expected value of a[l] unchanged, so
prediction uses the network as it is, with nothing dropped and nothing rescaled. The
backward pass multiplies by the same mask: da[l] ← da[l] ⊙ d[l] / p. The mask is drawn
once per step and is a constant for backprop (a gradient check fixes it).

The trainer draws the masks from its own random stream (:mod:`mlplab.train.regularize`),
so a run is reproducible bit for bit and resumes exactly from a checkpoint.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab._typing import Array


def dropout_mask(
    rng: np.random.Generator, shape: tuple[int, int], keep: float, dtype: Any
) -> Array:
    r"""d/p: a (m, n[l]) array of 1/p (kept, probability p) and 0 (dropped).

    The draw: ``rng.random(shape) < p`` (float64 uniforms; the trainer's fast path draws
    exactly these).

    Examples
    --------
    >>> mask = dropout_mask(np.random.default_rng(0), (1000, 10), 0.8, np.float64)
    >>> sorted(set(mask.ravel().tolist())), round(float(mask.mean()), 1)
    ([0.0, 1.25], 1.0)
    """
    kept = rng.random(shape) < keep  # d ~ Bernoulli(p)
    mask: Array = kept.astype(dtype) * np.asarray(1.0 / keep, dtype=dtype)  # d / p
    return mask


def dropout_forward(A: Array, mask: Array) -> Array:
    """a[l] ⊙ d[l]/p (``mask`` is d/p, as :func:`dropout_mask` returns it)."""
    return A * mask


def dropout_backward(dA: Array, mask: Array) -> Array:
    """da[l] ⊙ d[l]/p: the gradient flows only through the units that were kept."""
    return dA * mask
