"""The train/test split of a CSV file read by K MPI ranks, drawn on rank 0 alone.

The split is a function of all rows' labels (stratified) or of their number alone, as one
process draws it (:func:`mlplab.core.split.split_rows`). Rank 0 (the root) gathers the
labels (one ``Gatherv`` of one byte a row for up to 256 classes), draws the split, sends
each rank its test rows (in the split's order) and keeps ``relabel``: each training row's
place in the file's order, written over the split's training indices (4 bytes a training
row, the root's only array over the whole file during training,
:class:`mlplab.train.rootorder.RootOrder`). The other ranks hold nothing proportional to
the whole file: their training rows are those of their rows that are not test rows, and
the blocks of the training rows in the file's order (:func:`training_blocks`) come from
per-rank counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab.persist.npydata import BLOCK_ROWS
from mlplab.train.mpi import shard_range

__all__ = ["split_on_root", "training_blocks"]


def split_on_root(
    y: np.ndarray, counts: list[int], stratify: bool, test_size: float, seed: int, comm: Any
) -> tuple[np.ndarray | None, np.ndarray]:
    """(``relabel`` on the root, None elsewhere; this rank's test rows, local indices in the
    split's order). ``y``: this rank's labels; ``counts``: every rank's rows.

    An error of the split (e.g. a class of one row) is raised on every rank as the root
    raised it."""
    rank = comm.Get_rank()
    labels = None
    if stratify:  # every rank's labels, in the smallest integer type that holds them
        small = np.min_scalar_type(max(comm.allgather(int(y.max()) if y.size else 0)))
        labels = _gather(y.astype(small), counts, comm)
    got: list[np.ndarray] = []
    err: Exception | None = None
    if rank == 0:
        try:
            got = list(_draw(sum(counts), labels, stratify, test_size, seed))
        except Exception as exc:  # raised below on every rank
            err = _sendable(exc)
    del labels
    err = comm.bcast(err, root=0)
    if err is not None:
        raise err
    if rank != 0:
        test: np.ndarray = comm.recv(source=0)
        return None, test
    test = _send_tests(got[1], counts, comm)
    return _relabel(got), test


def _sendable(exc: Exception) -> Exception:
    """``exc``, or a RuntimeError of its text where it cannot be pickled (sent)."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _gather(y: np.ndarray, counts: list[int], comm: Any) -> np.ndarray | None:
    """All ranks' labels on the root (one buffer), None elsewhere."""
    if comm.Get_size() == 1:
        return y
    out = np.empty(sum(counts), dtype=y.dtype) if comm.Get_rank() == 0 else None
    displ = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
    comm.Gatherv(y, None if out is None else [out, (list(counts), displ)], root=0)
    return out


def _draw(
    n: int, labels: np.ndarray | None, stratify: bool, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The one-process split's training and test rows (int32 for < 2**31 rows)."""
    from mlplab.core.data import train_test_split
    from mlplab.core.split import split_rows

    rows = np.broadcast_to(np.int8(0), (n,))  # n rows, without an array of n indices
    split = split_rows(rows, rows if labels is None else labels, test_size, seed, labels)
    if split is None:  # scikit-learn decides (and names what is wrong)
        idx = np.arange(n)
        by = idx if labels is None else labels
        split = train_test_split(idx, by, test_size=test_size, seed=seed, stratify=stratify)[:2]
    index = np.dtype(np.int32 if n <= np.iinfo(np.int32).max else np.int64)  # 4 bytes a row
    i_tr, i_te = (np.asarray(part).astype(index, copy=False) for part in split[:2])
    return i_tr, i_te


def _send_tests(i_te: np.ndarray, counts: list[int], comm: Any) -> np.ndarray:
    """Each rank's test rows (local indices, the split's order), sent from the root;
    returns the root's."""
    mine: np.ndarray | None = None
    lo = 0
    for r, c in enumerate(counts):
        part: np.ndarray = i_te[(i_te >= lo) & (i_te < lo + c)] - i_te.dtype.type(lo)
        if r == 0:
            mine = part
        else:
            comm.send(part, dest=r)
        lo += c
    assert mine is not None
    return mine


def _relabel(split: list[np.ndarray]) -> np.ndarray:
    """``relabel[p]``: the place in the file's order of training row ``i_tr[p]`` (the
    training rows before it in the file: itself less the test rows before it), written
    over ``i_tr``; the split's buffer is shrunk to the training rows where it can be
    (``split``: [i_tr, i_te], emptied: no other reference to the buffer may remain)."""
    i_tr = split.pop(0)
    i_te = np.sort(split.pop(0))  # (a copy: i_te may lie in the same buffer as i_tr)
    for s in range(0, i_tr.shape[0], BLOCK_ROWS):
        part = i_tr[s : s + BLOCK_ROWS]
        part -= np.searchsorted(i_te, part).astype(part.dtype)
        del part
    del i_te
    base = i_tr.base
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.owndata:
        return i_tr
    n, skip = i_tr.shape[0], (i_tr.ctypes.data - base.ctypes.data) // base.itemsize
    for s in range(0, n if skip else 0, BLOCK_ROWS):  # the training rows to the front
        e = min(s + BLOCK_ROWS, n)
        base[s:e] = base[skip + s : skip + e]
    del i_tr
    try:
        base.resize(n, refcheck=True)  # gives the test rows' part of the buffer back
    except ValueError:  # pragma: no cover - another reference to the buffer
        return base[:n].copy()
    return base


def training_blocks(
    own: np.ndarray, lo: int, n_rows: int, comm: Any
) -> tuple[list[int], list[int], tuple[int, int]]:
    """Block k of the training rows in the file's order is rank k's (``shard_range`` of
    their number), from every rank's count of its training rows (``own``: a mask of this
    rank's rows ``lo:lo + len(own)``): returns (the K + 1 block bounds, in training
    rows; where this rank's training rows go, K + 1 cuts of them; the file rows ``a:b``
    that this rank's block lies in, as :func:`~mlplab.persist.npydata.file_blocks`)."""
    rank, size = comm.Get_rank(), comm.Get_size()
    n_own = int(np.count_nonzero(own))
    per = comm.allgather(n_own)
    t0, n_train = sum(per[:rank]), sum(per)
    starts = [shard_range(n_train, r, size)[0] for r in range(size)] + [n_train]
    cut = [min(max(s - t0, 0), n_own) for s in starts[:-1]] + [n_own]
    firsts = {}  # file rows of the blocks' first training rows that are mine
    for r, s in enumerate(starts[:-1]):
        if t0 <= s < t0 + n_own:
            firsts[r] = lo + _nth_true(own, s - t0)
    found: dict[int, int] = {}
    for part in comm.allgather(firsts):
        found.update(part)
    a = 0 if rank == 0 else found.get(rank, n_rows)
    b = n_rows if rank == size - 1 else found.get(rank + 1, n_rows)
    return starts, cut, (a, b)


def _nth_true(mask: np.ndarray, k: int) -> int:
    """The index of the k-th (from 0) True of ``mask``, :data:`BLOCK_ROWS` at a time.

    Examples
    --------
    >>> _nth_true(np.array([False, True, True, False, True]), 2)
    4
    """
    seen = 0
    for s in range(0, mask.shape[0], BLOCK_ROWS):
        block = mask[s : s + BLOCK_ROWS]
        c = int(np.count_nonzero(block))
        if seen + c > k:
            return s + int(np.flatnonzero(block)[k - seen])
        seen += c
    raise IndexError(f"the mask has {seen} marked rows, not {k + 1}")
