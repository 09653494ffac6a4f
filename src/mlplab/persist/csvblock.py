"""A rank's block of the training rows of a CSV file, read back from its rows set aside on
disk (:mod:`mlplab.persist.csvspill`), for :mod:`mlplab.persist.csvshard`.

Rank k keeps block k of the training rows in the file's order
(:func:`~mlplab.persist.csvsplit.training_blocks`), which lies in the rows it read give or
take those near the edges of the ranks' parts. :func:`training_block` reads the rows it
keeps from its file into one matrix in one pass, which also copies its test rows to a
second file (:meth:`~mlplab.persist.csvspill.RowsFile.deal`), and exchanges the edge rows
(one ``Alltoallv``), put before and after them. Rows dropped for an empty cell stay in the
file and are left out by a mask (:class:`Aside`).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from mlplab.persist.csvspill import RowsFile
from mlplab.persist.npydata import marked_rows
from mlplab.train.mpi import agree, exchange_rows

__all__ = ["Aside", "training_block"]


class Aside:
    """A rank's rows set aside (all it read), seen as its kept rows: ``--missing drop``
    leaves out those with an empty cell (``keep``), by masks and indices of the kept rows."""

    def __init__(self, rows: RowsFile, keep: np.ndarray) -> None:
        self.rows, self.keep, self.width = rows, keep, rows.width
        self.all = bool(keep.all())

    def take(self, idx: np.ndarray) -> np.ndarray:
        """Kept rows ``idx`` (sorted), from the file."""
        if self.all:
            return self.rows.take(idx)
        kept = marked_rows(self.keep, 0, self.keep.shape[0], idx.dtype)  # (a few rows: edges)
        return self.rows.take(kept[idx])

    def _on_file(self, mask: np.ndarray) -> np.ndarray:
        if self.all:
            return mask
        out = np.zeros(self.keep.shape[0], dtype=bool)
        out[self.keep] = mask
        return out

    def deal(self, own: np.ndarray, out: np.ndarray, tests: np.ndarray, to: RowsFile) -> None:
        """:meth:`~mlplab.persist.csvspill.RowsFile.deal` by masks of the kept rows."""
        self.rows.deal(self._on_file(own), out, self._on_file(tests), to)


def training_block(
    aside: Aside,
    y: np.ndarray,
    lo: int,
    own: np.ndarray,
    cut: list[int],
    comm: Any,
    tests: tuple[np.ndarray, RowsFile],
) -> tuple[np.ndarray, np.ndarray]:
    """This rank's block of the training rows in file order, read from ``aside`` (its
    rows, file order) into one matrix, and the block's labels (``own``: which of its
    rows are training rows, changed; ``cut``: rows ``cut[r]:cut[r + 1]`` of its training
    rows go to rank r, :func:`~mlplab.persist.csvsplit.training_blocks`; ``tests``: a
    mask of its test rows and the file they are copied to, in the same pass).

    The block lies in file rows near the rank's own (``lo:lo + n``): the rank reads the
    rows it keeps, and the few around the edges of the ranks' parts are exchanged (one
    ``Alltoallv``) and put before and after them."""
    n = own.shape[0]
    small = np.dtype(np.int32 if lo + n <= np.iinfo(np.int32).max else np.int64)
    local = marked_rows(own, 0, n, small)  # my training rows, file order
    me, mine = cut[comm.rank], cut[comm.rank + 1]  # no array of destinations: sorted
    if comm.size == 1 or not any(comm.allgather(mine - me != local.shape[0])):
        F = np.empty((local.shape[0], aside.width))
        del local
        agree(comm, lambda: aside.deal(own, F, *tests))
        return F, y[own]
    counts = [0 if r == comm.rank else b - a for r, (a, b) in enumerate(itertools.pairwise(cut))]
    send = np.concatenate([local[:me], local[mine:]])  # grouped by destination
    ends = local[[me, mine - 1]] + lo if mine - me > 1 else local[me:mine] + lo
    del local
    got = exchange_rows(comm, aside.take(send), counts)
    cuts = np.cumsum([0, *counts])
    parts = comm.alltoall([(send[a:b] + lo, y[send[a:b]]) for a, b in itertools.pairwise(cuts)])
    below = sum(len(p[0]) for p in parts[: comm.rank])
    pieces = [p[0] for p in parts[: comm.rank]] + [ends] + [p[0] for p in parts[comm.rank :]]
    if not _increasing(pieces):  # pragma: no cover - a bug
        raise RuntimeError("the training rows did not arrive complete")
    own[send] = False  # the rows that stay
    ys = [p[1] for p in parts[: comm.rank]] + [y[own]] + [p[1] for p in parts[comm.rank :]]
    k = int(np.count_nonzero(own))
    F = np.empty((got.shape[0] + k, aside.width))
    F[:below], F[below + k :] = got[:below], got[below:]
    del got
    agree(comm, lambda: aside.deal(own, F[below : below + k], *tests))
    return F, np.concatenate(ys)


def _increasing(pieces: list[np.ndarray]) -> bool:
    """Whether the pieces' values, one after another, increase strictly."""
    last = -1
    for p in pieces:
        if p.shape[0] and (p[0] <= last or not (np.diff(p) > 0).all()):
            return False
        last = int(p[-1]) if p.shape[0] else last
    return True
