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
    # the rows by class: a stable sort of the labels is one of their class indices
    order = np.argsort(strat, kind="stable").astype(index)
    by_class = np.split(order, np.cumsum(counts)[:-1])
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    train: list[np.ndarray] = []  # arrays, not lists of ints: 8 bytes a row, not 40
    test: list[np.ndarray] = []
    for i in range(classes.shape[0]):
        rows = by_class[i].take(rng.permutation(counts[i]), mode="clip")
        train.append(rows[: n_i[i]])
        test.append(rows[n_i[i] : n_i[i] + t_i[i]])
    return _shuffled(np.concatenate(train), rng), _shuffled(np.concatenate(test), rng)


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
