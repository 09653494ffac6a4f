"""scikit-learn's ``train_test_split`` rows, drawn with NumPy alone.

:func:`mlplab.core.data.train_test_split` gives the rows of scikit-learn's
``train_test_split(X, y, test_size=..., random_state=seed, stratify=...)``; importing
scikit-learn takes longer than many whole training runs (benchmarks/RESULTS.md, time to a
trained model), so the common case — NumPy arrays, an integer seed, a split scikit-learn
accepts — is drawn here: the same ``RandomState`` draws in the same order
(``ShuffleSplit`` and ``StratifiedShuffleSplit._iter_indices``, ``_approximate_mode``).
tests/test_fast_cli_imports.py compares the two row for row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

BLOCK_ROWS = 65536
"""Rows sorted at a time when the rows are grouped by class."""


def split_rows(
    X: Any, y: np.ndarray, test_size: Any, seed: Any, strat: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """scikit-learn's (train, test) row indices, or None where scikit-learn must decide."""
    if type(X) is not np.ndarray or X.ndim < 1 or y.shape[:1] != X.shape[:1]:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        return None
    n = X.shape[0]
    if isinstance(test_size, (float, np.floating)) and 0 < test_size < 1:
        n_test = math.ceil(test_size * n)
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        return None
    n_train = n - n_test
    if not (0 < n_test < n and n_train > 0):
        return None
    rng = np.random.RandomState(seed)
    index = np.dtype(np.int32 if n <= np.iinfo(np.int32).max else np.intp)  # 4 bytes a row
    if strat is None:  # ShuffleSplit: one permutation, the test rows first
        perm = _shuffled(np.arange(n, dtype=index), rng)  # rng.permutation(n), draw for draw
        return perm[n_test:], perm[:n_test]
    classes, counts = np.unique(strat, return_counts=True)
    if counts.min() < 2 or min(n_train, n_test) < classes.shape[0]:
        return None
    order = _by_class(strat, classes, counts, index)  # a stable sort of the labels: 4 bytes a row
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    test = np.empty(n_test, dtype=index)
    start, at_train, at_test = 0, 0, 0
    for i in range(classes.shape[0]):
        rows = order[start : start + counts[i]]  # the class's rows, in place
        rng.shuffle(rows)  # rows.take(rng.permutation(counts[i])), draw for draw
        test[at_test : at_test + t_i[i]] = rows[n_i[i] : n_i[i] + t_i[i]]
        order[at_train : at_train + n_i[i]] = rows[: n_i[i]]  # moved forward: at_train <= start
        start, at_train, at_test = start + counts[i], at_train + n_i[i], at_test + t_i[i]
    return _shuffled(order[:n_train], rng), _shuffled(test, rng)


def _by_class(
    strat: np.ndarray, classes: np.ndarray, counts: np.ndarray, index: np.dtype[Any]
) -> np.ndarray:
    """The rows of class ``classes[0]``, then of ``classes[1]``, ..., each class's in
    increasing order: ``np.argsort(strat, kind="stable")``, as ``index``, sorted
    :data:`BLOCK_ROWS` rows at a time (no array of 8 bytes a row)."""
    order = np.empty(strat.shape[0], dtype=index)
    at = np.cumsum(counts) - counts  # where each class starts
    for s in range(0, strat.shape[0], BLOCK_ROWS):
        block = strat[s : s + BLOCK_ROWS]
        inner = np.argsort(block, kind="stable")
        ends = np.searchsorted(block[inner], classes, side="right").tolist()
        for i, (a, b) in enumerate(zip([0, *ends[:-1]], ends, strict=True)):
            order[at[i] : at[i] + b - a] = inner[a:b] + s
            at[i] += b - a
    return order


def _shuffled(rows: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """``rng.permutation(rows)`` in place, draw for draw: no second array of the rows."""
    rng.shuffle(rows)
    return rows


def _approximate_mode(counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Rows to draw per class: the floors of counts·n_draws/n, then the largest remainders
    (ties broken at random): scikit-learn's ``_approximate_mode``, draw for draw."""
    continuous = counts / counts.sum() * n_draws
    floored: NDArray[np.float64] = np.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need -= add_now
            if need == 0:
                break
    return floored.astype(int)
