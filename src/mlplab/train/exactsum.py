r"""Exact column sums, so that means over processes do not depend on how rows are split.

A float64 x is m·2^(e−53) with m an integer, |m| < 2⁵³ (``numpy.frexp``). Scaled by 2¹¹²⁶
(the smallest subnormal is 2⁻¹⁰⁷⁴) every x is an integer, and so is any sum of them:
:func:`column_sums` returns, per column, the exact sum as a Python int. Sums from several
processes add exactly, and :func:`mean` divides once, correctly rounded (``Fraction``).
So the μ and σ of a standardizer, or a column's mean fill value, are the same bits
whichever number of MPI ranks holds the rows, and whatever their order (a sum in
floating point would change in its last bits with K, and with them a checkpoint's
digest of the standardized data).

The work is vectorized: per block of rows, ``frexp`` and two ``bincount`` over the
exponents (the mantissa split in 27-bit halves, whose sums over at most 2²⁴ rows stay
exact in float64).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

SCALE = 1126
"""x·2^SCALE is an integer for every finite float64."""
_BLOCK = 1 << 16
_BINS = 2 * 1075  # frexp exponents of finite float64: -1073 ... 1024


def column_sums(X: Any) -> list[int]:
    """Σ_i X[i, j]·2^SCALE, exactly, for each column j of the finite 2-D array X.

    >>> import math
    >>> x = np.array([[0.1], [0.2], [-0.3]])
    >>> 0.1 + 0.2 - 0.3  # floating point: two roundings
    5.551115123125783e-17
    >>> mean(column_sums(x)[0], 1), math.fsum([0.1, 0.2, -0.3])  # exact, rounded once
    (2.7755575615628914e-17, 2.7755575615628914e-17)
    """
    X = np.asarray(X, dtype=np.float64)
    width = X.shape[1]
    hi = np.zeros((width, _BINS))
    lo = np.zeros((width, _BINS))
    totals = [0] * width
    for s in range(0, X.shape[0], _BLOCK):
        f, e = np.frexp(X[s : s + _BLOCK])
        m = (f * 2.0**53).astype(np.int64)  # exact: |f| < 1 has 53 bits
        bins = e + 1073
        for j in range(width):
            hi[j] += np.bincount(bins[:, j], (m[:, j] >> 26).astype(np.float64), _BINS)
            lo[j] += np.bincount(bins[:, j], (m[:, j] & 0x3FFFFFF).astype(np.float64), _BINS)
        if (s // _BLOCK) % 256 == 255:  # 2²⁴ rows: move the sums to Python ints
            _flush(hi, lo, totals)
    _flush(hi, lo, totals)
    return totals


def _flush(hi: np.ndarray, lo: np.ndarray, totals: list[int]) -> None:
    for j in range(hi.shape[0]):
        for k in np.flatnonzero((hi[j] != 0) | (lo[j] != 0)).tolist():
            totals[j] += ((int(hi[j, k]) << 26) + int(lo[j, k])) << k
    hi[...] = 0
    lo[...] = 0


def mean(total: int, n: int) -> float:
    """total·2^−SCALE / n, correctly rounded to float64."""
    return float(Fraction(total, n << SCALE))


def moments(X: Any, total: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(μ, σ) of the columns of X over the rows of every process: μ = Σx/n and
    σ = √(Σ(x − μ)²/n), each sum exact. X is an array, or a function returning an
    iterable of blocks of rows (called twice: two streaming passes). ``total`` adds a
    list of Python ints over the processes (None: one process)."""

    def add(values: list[int]) -> list[int]:
        return values if total is None else total(values)

    def blocks() -> Any:
        if callable(X):
            return X()
        A = np.asarray(X, dtype=np.float64)
        return (A[s : s + _BLOCK] for s in range(0, max(A.shape[0], 1), _BLOCK))

    n, sums = 0, None
    for b in blocks():
        part = column_sums(b)
        sums = part if sums is None else [a + c for a, c in zip(sums, part, strict=True)]
        n += b.shape[0]
    n = add([n])[0]
    mu = np.array([mean(t, n) for t in add(sums or [])])
    sq = [0] * mu.shape[0]
    for b in blocks():
        part = column_sums((np.asarray(b, dtype=np.float64) - mu) ** 2)
        sq = [a + c for a, c in zip(sq, part, strict=True)]
    var = np.array([mean(t, n) for t in add(sq)])
    return mu, np.sqrt(var)
