r"""Each epoch's batches drawn on one rank and sent to the others: no rank but the root
holds an array over all training rows.

K ranks holding a CSV file's training rows in the file's order (rank k: block k of them,
:mod:`mlplab.persist.csvshard`) train the batches of one process: each epoch's
permutation p of the split's training rows (``Generator.permutation(n)``, drawn whole),
mapped to the file's order by ``relabel`` (:attr:`mlplab.train.batches.EpochPlan.relabel`),
cut into batches of B rows. Here rank 0 (the root) alone holds p and rank 1 (the
mapper; rank 0 when alone) alone holds ``relabel``, 4 bytes a training row each: the
root draws p, sends the generator's state to the other ranks (their random stream goes
on as if they had drawn it: dropout masks come from it) and p to the mapper,
:data:`GROUP_ROWS` rows at a time, as the batches are read; the mapper sends each rank
the positions of its own rows in each batch of the group (``Scatterv``): a rank holds its
rows of one group, not of the epoch. The root keeps p (a
checkpoint written in the epoch saves it, as one process does). A rank's batches are
those :meth:`EpochPlan.split` gives it when every rank holds p and ``relabel``: the same
rows in the same order, so the weights are the same bits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from mlplab.train.batches import Batch, BatchesWhenRead, permutation, ranks

__all__ = ["GROUP_ROWS", "RootOrder"]

GROUP_ROWS = 16384
"""Rows of the permutation mapped and sent at a time (whole batches, at least one)."""


class RootOrder:
    """The epoch plan's permutation, drawn on rank 0 of ``comm``, and its batches, cut
    on the mapper (rank 1, or 0 when alone).

    Parameters
    ----------
    comm : MPI communicator
    starts : list of int
        K + 1 bounds: rank k holds the training rows ``starts[k]:starts[k + 1]`` of the
        file's order.
    relabel : ndarray of int (n_train,) or None
        On rank 0: ``relabel[p]`` is the place in the file's order of the split's p-th
        training row (None on the other ranks). It is sent to the mapper: rank 0 must
        keep no other reference to it.
    """

    def __init__(self, comm: Any, starts: list[int], relabel: np.ndarray | None) -> None:
        self.comm, self.starts = comm, [int(s) for s in starts]
        rank, size = comm.Get_rank(), comm.Get_size()
        self.root, self.mapper = rank == 0, min(1, size - 1)
        if self.root and relabel is None:
            raise ValueError("rank 0 needs relabel")
        self.relabel: np.ndarray | None = relabel if rank == self.mapper else None
        if self.mapper != 0:  # rank 0 hands relabel to rank 1
            dtype = comm.bcast(None if relabel is None else relabel.dtype.str, root=0)
            if self.root:
                assert relabel is not None
                comm.Send(np.ascontiguousarray(relabel), dest=1)
            elif rank == 1:
                self.relabel = np.empty(self.starts[-1], dtype=np.dtype(dtype))
                comm.Recv(self.relabel, source=0)

    def draw(
        self, rng: np.random.Generator, n: int, order: Callable[[int], np.ndarray] | None
    ) -> np.ndarray:
        """The epoch's permutation on the root (an empty array elsewhere); every rank's
        ``rng`` is left in the root's state."""
        perm = np.empty(0, dtype=np.int32)
        if self.root:
            perm = np.asarray(order(n)) if order is not None else permutation(rng, n, True)
        state = self.comm.bcast(rng.bit_generator.state if self.root else None, root=0)
        if not self.root:
            rng.bit_generator.state = state
        return perm

    def split(self, order: np.ndarray | None, B: int | None, places: bool) -> Sequence[Batch]:
        """This rank's part of each batch of the epoch with permutation ``order`` (read on
        the root only; None: batch gradient descent).

        The batches are cut :data:`GROUP_ROWS` rows of the permutation at a time, when
        the first batch of each group is read (:class:`_Batches`): every rank must read
        them in order, as the training loop does, and a rank holds its rows of one
        group, not of the whole epoch."""
        rank = self.comm.Get_rank()
        lo, hi = self.starts[rank], self.starts[rank + 1]
        n = self.starts[-1]
        if order is None or B is None:
            return [Batch(None, n, self._all_places(lo, hi) if places else None)]
        return _Batches(self, order, B, places)

    def _group(self, order: np.ndarray | None, B: int, places: bool, s: int, e: int) -> list[Batch]:
        """This rank's part of the batches of the permutation's rows ``s:e``."""
        got = self._map(self._drawn(order, s, e), B, places)
        sizes = np.asarray(self.comm.scatter(got[0], root=self.mapper), dtype=np.int64)
        m = int(sizes.sum())
        rows = np.empty(m, dtype=np.int32)  # my rows, batch after batch
        self._scatterv(got[1], rows, got[3])
        where = None
        if places:
            where = np.empty(m, dtype=np.intp)
            self._scatterv(got[2], where, got[3])
        out, at, n = [], 0, self.starts[-1]
        for b, k in enumerate(sizes.tolist()):
            place = None if where is None else where[at : at + k]
            out.append(Batch(rows[at : at + k], min(B, n - s - b * B), place))
            at += k
        return out

    def _drawn(self, order: np.ndarray | None, s: int, e: int) -> np.ndarray | None:
        """Rows ``s:e`` of the permutation on the mapper (sent by the root), else None."""
        rank = self.comm.Get_rank()
        if self.mapper == 0:
            return None if order is None or not self.root else order[s:e]
        if self.root:
            assert order is not None
            self.comm.Send(np.ascontiguousarray(order[s:e], dtype=np.int64), dest=1)
            return None
        if rank != 1:
            return None
        drawn = np.empty(e - s, dtype=np.int64)
        self.comm.Recv(drawn, source=0)
        return drawn

    def _map(self, drawn: np.ndarray | None, B: int, places: bool) -> Any:
        """On the mapper: for the permutation's rows ``drawn``, each rank's row counts per
        batch, its rows (local indices), their places, and each rank's total."""
        if drawn is None:
            return None, None, None, None
        assert self.relabel is not None
        K = len(self.starts) - 1
        idx = self.relabel[drawn]  # the file's order
        owner = np.searchsorted(np.asarray(self.starts[1:-1]), idx, side="right")
        nb = (drawn.shape[0] + B - 1) // B
        batch = np.arange(drawn.shape[0]) // B
        per = np.bincount(owner * nb + batch, minlength=K * nb).reshape(K, nb)
        sel = np.argsort(owner, kind="stable")  # grouped by rank, the drawn order kept
        local = (idx[sel] - np.asarray(self.starts)[owner[sel]]).astype(np.int32)
        where = None
        if places:
            pl = np.concatenate([ranks(drawn[a : a + B]) for a in range(0, drawn.shape[0], B)])
            where = pl[sel].astype(np.intp)
        return list(per), local, where, per.sum(axis=1).tolist()

    def _scatterv(self, send: np.ndarray | None, recv: np.ndarray, counts: Any) -> None:
        if self.comm.Get_size() == 1:
            assert send is not None
            recv[...] = send
            return
        spec = None
        if self.comm.Get_rank() == self.mapper:
            displ = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
            spec = [send, (list(counts), displ)]
        self.comm.Scatterv(spec, recv, root=self.mapper)

    def _all_places(self, lo: int, hi: int) -> np.ndarray:
        """Batch gradient descent with dropout: the place of each of my rows in the
        drawn order (:meth:`EpochPlan._all_places`), computed on the mapper."""
        parts = None
        if self.relabel is not None:
            drawn = np.empty_like(self.relabel)
            drawn[self.relabel] = np.arange(self.relabel.shape[0], dtype=drawn.dtype)
            parts = [drawn[a:b].copy() for a, b in zip(self.starts, self.starts[1:], strict=False)]
        got: np.ndarray = self.comm.scatter(parts, root=self.mapper)
        return got


class _Batches(BatchesWhenRead):
    """An epoch's batches on one rank (:meth:`RootOrder.split`), cut a group of
    :data:`GROUP_ROWS` rows at a time (whole batches) when its first batch is read.

    Batches are read in order (a resumed epoch may begin at any batch); cutting a
    group is collective, so every rank reads the same batches in the same order, as
    the training loop does. Reading a batch of a group already left raises.
    """

    def __init__(self, source: RootOrder, order: np.ndarray | None, B: int, places: bool):
        self.source, self.order, self.B, self.places = source, order, B, places
        self.n = source.starts[-1]
        self.group = max(1, GROUP_ROWS // B)  # batches per group
        self.first, self.held = -1, list[Batch]()  # the group held: batches first..
        self.covered = 0  # this rank's rows received, from the epoch's first group on

    def _batch(self, b: int) -> Batch:
        g = b // self.group * self.group
        if g != self.first:
            if g < self.first:
                raise RuntimeError(f"batch {b} was read before: read the batches in order")
            if self.first == -1 and g != 0:
                self.covered = -1  # a resumed epoch: no count to check
            s, e = g * self.B, min((g + self.group) * self.B, self.n)
            self.held = []  # free the group left before cutting the next
            self.held = self.source._group(self.order, self.B, self.places, s, e)
            self.first = g
            self._check(e)
        return self.held[b - g]

    def __iter__(self) -> Iterator[Batch]:
        return (self[b] for b in range(len(self)))

    def _check(self, e: int) -> None:
        if self.covered < 0:
            return
        self.covered += sum(int(x.rows.shape[0]) for x in self.held if x.rows is not None)
        rank = self.source.comm.Get_rank()
        own = self.source.starts[rank + 1] - self.source.starts[rank]
        if e == self.n and self.covered != own:  # pragma: no cover - a bug
            raise RuntimeError("the epoch's batches did not cover this rank's rows")
