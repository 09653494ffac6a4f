"""A digest of the training rows, so that a resumed run can check it has the same data.

Each row is hashed with its global index and the hashes are summed modulo 2⁶⁴: processes
that hold different rows add their partial sums, and the digest is the one a single
process computes from all of them, for any number of MPI ranks.
"""

from __future__ import annotations

import numpy as np


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, in place on a uint64 array (arithmetic modulo 2**64)."""
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def _row_bytes(a: np.ndarray, m: int) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(m, -1).view(np.uint8).reshape(m, -1)


def row_hash_sum(X: np.ndarray, Y: np.ndarray, first_row: int = 0) -> int:
    r"""Σ_i h(i, x_i, y_i) mod 2⁶⁴ over the rows of (X, Y), the first being global row
    ``first_row``.

    h mixes the row's bytes (word by word, keyed by position) with its global index i,
    so the sum sees every value and the order of the rows, while a data set split into
    contiguous shards gives partial sums that add up (mod 2⁶⁴) to the whole set's:
    :func:`data_digest` does not depend on how many MPI ranks hold the data.
    """
    total = 0
    n = X.shape[0]
    chunk = 1 << 15  # bounded temporaries: a few MB per chunk whatever n is
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        parts = [_row_bytes(X[s : s + m], m), _row_bytes(Y[s : s + m], m)]
        width = sum(p.shape[1] for p in parts)
        parts.append(np.zeros((m, -width % 8), dtype=np.uint8))
        words = np.concatenate(parts, axis=1).view(np.uint64)  # (m, ⌈bytes/8⌉)
        keys = _mix64(np.arange(words.shape[1], dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15))
        h = _mix64(words ^ keys).sum(axis=1, dtype=np.uint64)
        index = np.arange(first_row + s, first_row + s + m, dtype=np.uint64)
        h ^= _mix64(index + np.uint64(0x632BE59BD9B4E019))
        total = (total + int(_mix64(h).sum(dtype=np.uint64))) % (1 << 64)
    return total


def data_digest(
    X: np.ndarray, Y: np.ndarray, n_rows: int | None = None, row_sum: int | None = None
) -> str:
    """Digest of the (prepared) training data, so a resume can check it is the same.

    The rows' shape and dtype and :func:`row_hash_sum`; a distributed run passes the
    global ``n_rows`` and ``row_sum`` (its ranks' partial sums added up), which makes
    the digest the one a single process computes from the whole data.
    """
    n = X.shape[0] if n_rows is None else int(n_rows)
    total = row_hash_sum(X, Y) if row_sum is None else int(row_sum) % (1 << 64)
    x_shape, y_shape = list(X.shape[1:]), list(Y.shape[1:])
    return f"rows-v1:{n}:X{x_shape}{X.dtype.str}:Y{y_shape}{Y.dtype.str}:{total:016x}"
