"""A memory-mapped ``.npy`` training file split between K MPI ranks, each touching only
its own rows.

``mpiexec -n K mlplab train --distributed --data X.npy --target y.npy`` (and
:func:`mlplab.recipes.train_npy` with ``comm``) comes here (:func:`sharded_npy`). It is
the sharded CSV route (:mod:`mlplab.persist.csvshard`) with the parsing left out, and
uses its pieces:

* rank k reads the targets of its rows ``shard_range(n, k, K)`` alone (a memory map of
  the targets' file); the ranks agree on the task and the sorted classes (each sends at
  most 20 distinct values when the task is inferred);
* the train/test split is drawn on rank 0 from all rows' labels
  (:func:`~mlplab.persist.csvsplit.split_on_root`): rank 0 keeps ``relabel`` (4 bytes a
  training row), every rank gets its test rows;
* block k of the training rows in the file's order is rank k's
  (:func:`~mlplab.persist.csvsplit.training_blocks`); it lies in file rows ``a:b``, which
  the ranks' parts cut into contiguous pieces. A rank learns the test rows in ``a:b``
  that other ranks hold (those near the edges, one ``alltoall``), maps rows ``a:b`` of the
  file alone (:func:`~mlplab.persist.npydata.open_rows`) and reads its training rows and
  the test rows among them from that map;
* each epoch's permutation is drawn on rank 0 and the batches cut on rank 1
  (:class:`mlplab.train.rootorder.RootOrder`): the batches, and the weights, are those of
  one process.

No rank but 0 (the split, ``relabel``) and 1 (``relabel`` during training) holds an array
over the whole file; every other array is of the rank's own rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlplab.persist.csvsplit import split_on_root, training_blocks
from mlplab.persist.npydata import (
    BLOCK_ROWS,
    layout,
    marked_rows,
    open_rows,
    read_target,
    take_rows,
)
from mlplab.train.mpi import DistributedError, agree, shard_range
from mlplab.train.rootorder import RootOrder
from mlplab.train.rows import MappedRows

__all__ = ["NpyShard", "sharded_npy"]

MAX_CLASSES = 20
"""An inferred task is classification for integer targets of at most this many values."""


@dataclass
class NpyShard:
    """This rank's part of a ``.npy`` training file, for :func:`mlplab.recipes.train_npy`."""

    X_train: MappedRows  # block k of the training rows, file order (batches: RootOrder)
    y_train: np.ndarray
    X_test: MappedRows  # the test rows in the rank's part of the file
    y_test: np.ndarray
    n_train: int
    n_test: int
    task: str
    classes: np.ndarray | None
    rows: tuple[int, int]
    """The file rows ``a:b`` this rank mapped."""


def sharded_npy(
    path: str | os.PathLike[str],
    target: str | os.PathLike[str],
    comm: Any,
    task: str | None = None,
    *,
    test_size: float = 0.25,
    seed: int = 0,
) -> NpyShard:
    """This rank's training block and test rows of ``path`` (see the module docstring)."""
    n = sum(m for _, m in agree(comm, lambda: layout(path)))
    rank, size = comm.Get_rank(), comm.Get_size()
    lo, hi = shard_range(n, rank, size)
    y = agree(comm, lambda: read_target(target, n, rows=(lo, hi), copy=False))  # mapped
    task, classes = _task(y, task, comm)
    y = _encoded(y, classes)
    counts = comm.allgather(hi - lo)
    stratify = task == "classification"
    relabel, test = split_on_root(y, counts, stratify, test_size, seed, comm)
    del y
    own = np.ones(hi - lo, dtype=bool)  # which of my rows are training rows
    own[test] = False
    starts, _, (a, b) = training_blocks(own, lo, n, comm)
    del own
    tests = _tests_in_parts(lo + test.astype(np.int64), (a, b), comm)  # file rows, in a:b
    del test
    small = np.dtype(np.int32 if b - a <= np.iinfo(np.int32).max else np.int64)
    tests = (tests - a).astype(small)  # rows of a:b (4 bytes a test row)
    keep = np.ones(b - a, dtype=bool)
    keep[tests] = False
    train = marked_rows(keep, 0, b - a, small)  # rows of a:b, file order
    if train.shape[0] != starts[rank + 1] - starts[rank]:  # pragma: no cover - a bug
        raise RuntimeError("the training rows of this rank's block did not add up")
    del keep
    X = agree(comm, lambda: open_rows(path, rows=(a, b)))  # this rank's part of the file
    y_ab = _encoded(agree(comm, lambda: read_target(target, n, (a, b), False)), classes)
    X_tr, X_te = X.select(train), X.select(tests)
    if size == 1:
        X_tr.relabel = relabel  # rows in the file's order, batches in the split's
    else:  # rank 0 draws the permutations, rank 1 maps them (relabel): no other rank
        X_tr.order_source, relabel = RootOrder(comm, starts, relabel), None
    n_test = sum(comm.allgather(int(tests.shape[0])))
    y_tr = take_rows(y_ab, train) if y_ab.ndim == 1 else y_ab[train]
    y_te = y_ab[tests]
    return NpyShard(X_tr, y_tr, X_te, y_te, starts[-1], n_test, task, classes, (a, b))


def _task(y: np.ndarray, task: str | None, comm: Any) -> tuple[str, np.ndarray | None]:
    """(the task, the sorted classes of all ranks' targets or None): a task not given is
    classification for 1-D integer targets of at most :data:`MAX_CLASSES` values, as
    one process infers it; each rank sends its distinct values (at most 20 of them
    when the task is inferred)."""
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be classification or regression, got {task!r}")
    if task == "regression":
        return task, None
    mine = _distinct(y, MAX_CLASSES if task is None else None)
    whole = mine is not None and bool(np.all(mine == np.round(mine)))  # (integers)
    few = y.ndim == 1 and whole and mine is not None and mine.size <= MAX_CLASSES
    got = comm.allgather(mine if task is not None or few else None)  # None: regression
    if task is None and any(u is None for u in got):
        return "regression", None
    classes = np.unique(np.concatenate(got))
    if task is None and classes.size > MAX_CLASSES:
        return "regression", None
    if classes.size == 0:
        raise DistributedError("the targets have no rows")
    return "classification", classes


def _distinct(y: np.ndarray, limit: int | None) -> np.ndarray | None:
    """``np.unique(y)``, :data:`~mlplab.persist.npydata.BLOCK_ROWS` rows at a time (no
    sorted copy of every row); None as soon as there are more than ``limit`` values.

    Examples
    --------
    >>> _distinct(np.array([3, 1, 3, 2]), None).tolist(), _distinct(np.arange(5), 3)
    ([1, 2, 3], None)
    """
    seen = np.unique(y[:0])
    for s in range(0, y.shape[0], BLOCK_ROWS):
        seen = np.union1d(seen, y[s : s + BLOCK_ROWS])
        if limit is not None and seen.size > limit:
            return None
    return seen


def _encoded(y: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    """Targets as they are (regression), or as the index of their class, in the smallest
    unsigned type that holds it (one byte a row for up to 256 classes), found
    :data:`~mlplab.persist.npydata.BLOCK_ROWS` rows at a time.

    Examples
    --------
    >>> _encoded(np.array([7, 3, 7]), np.array([3, 7])).tolist()
    [1, 0, 1]
    """
    if classes is None:
        return y
    out = np.empty(y.shape[0], dtype=np.min_scalar_type(max(classes.shape[0] - 1, 0)))
    for s in range(0, y.shape[0], BLOCK_ROWS):
        out[s : s + BLOCK_ROWS] = np.searchsorted(classes, y[s : s + BLOCK_ROWS])
    return out


def _tests_in_parts(tests: np.ndarray, part: tuple[int, int], comm: Any) -> np.ndarray:
    """The test rows (file rows) that lie in this rank's part ``a:b`` of the file, from
    the ranks that drew them (``tests``: this rank's, in the split's order): each rank
    sends every other one its test rows in that one's part (the rows near the edges)."""
    parts = comm.allgather(part)
    send = [tests[(tests >= a) & (tests < b)] for a, b in parts]
    got: list[np.ndarray] = comm.alltoall(send)
    return np.concatenate(got)
