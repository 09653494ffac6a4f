r"""The epoch plan: which rows make up each mini-batch, and which of them are this process's.

Each epoch draws one permutation of the n *global* rows from the run's random stream and
cuts it into consecutive mini-batches B of ``batch_size`` rows (the last one smaller).
A single process owns all rows; under MPI, rank k owns the contiguous rows ``lo:hi`` and
computes only on the rows of each batch that fall there — the same batches as one
process, as PyTorch's ``DistributedSampler`` does it. Batch gradient descent
(``batch_size=None``) draws no permutation: each epoch is one batch of all rows, in order.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, overload

import numpy as np

from mlplab._validation import check_positive


class Batch(NamedTuple):
    """One global mini-batch as this process sees it."""

    rows: np.ndarray | None  # indices into this process's rows; None: all of them
    size: int  # |B|, the global batch size
    places: np.ndarray | None = None
    """With dropout (:attr:`EpochPlan.places`): row j of ``rows`` takes row ``places[j]``
    of the masks drawn for the whole batch, the place of its row among the batch's rows
    sorted in the drawn order, so every process, and one process holding the rows in
    that order, drops the same units of the same row. None: the rows are already held
    in the drawn order (``rows`` sorted gives the places)."""


def ranks(rows: np.ndarray) -> np.ndarray:
    """rank[i] = the place of rows[i] among the sorted rows.

    Examples
    --------
    >>> ranks(np.array([7, 2, 5])).tolist()
    [2, 0, 1]
    """
    rank = np.empty(rows.shape[0], dtype=np.intp)
    rank[np.argsort(rows, kind="stable")] = np.arange(rows.shape[0])
    return rank


class EpochPlan:
    """Mini-batches of ``n_global`` rows of which this process holds ``rows = (lo, hi)``.

    Parameters
    ----------
    n_global : int
        Training rows of all processes together.
    batch_size : int or None
        |B|; None for batch gradient descent.
    rows : (int, int), optional
        This process's rows of the global order; default all of them.
    order : callable, optional
        ``order(n_global)`` gives each epoch's order of the global rows (a permutation,
        called once per epoch, batch gradient descent included) instead of a permutation
        drawn from the run's random stream: e.g. scikit-learn's own shuffles, or
        ``arange`` for no shuffling.
    """

    def __init__(
        self,
        n_global: int,
        batch_size: int | None,
        rows: tuple[int, int] | None = None,
        order: Callable[[int], np.ndarray] | None = None,
    ) -> None:
        self.order = order
        self.n_global = int(n_global)
        self.batch_size = batch_size
        self.rows = (0, self.n_global) if rows is None else (int(rows[0]), int(rows[1]))
        self.everything = self.rows == (0, self.n_global)
        self.relabel: np.ndarray | None = None
        """Optional: ``relabel[p]`` is the place, in the processes' order of the rows, of
        row p of the order the permutation is drawn over. Rows held in a file's order (so
        that each process reads one contiguous part of the file) then make the batches of
        rows held in a split's order: the same rows, in the same order, as one process.
        The permutation (and a checkpoint's) stays in the drawn order; :meth:`split`
        maps one batch at a time."""
        self.places = False
        """Whether :meth:`split` gives each batch's :attr:`Batch.places` (dropout)."""
        self.source: Any = None
        """Optional: draws the permutation on one rank and hands each rank its rows of
        the batches (:class:`mlplab.train.rootorder.RootOrder`), for :attr:`relabel`
        held by that rank alone."""

    def draw(self, rng: np.random.Generator) -> np.ndarray | None:
        """This epoch's permutation of the global rows (None for batch GD)."""
        if self.source is not None and (self.batch_size is not None or self.order is not None):
            perm = np.asarray(self.source.draw(rng, self.n_global, self.order))
        elif self.order is not None:
            perm = np.asarray(self.order(self.n_global))
        elif self.batch_size is None:
            return None
        else:
            perm = permutation(rng, self.n_global, small=self.relabel is not None)
        return perm

    def split(self, order: np.ndarray | None) -> Sequence[Batch]:
        """The epoch's batches from its permutation ``order`` (in the drawn order)."""
        B, n, relabel = self.batch_size, self.n_global, self.relabel
        if self.source is not None:
            batches: Sequence[Batch] = self.source.split(order, B, self.places)
            return batches  # read in order
        if order is None or B is None:
            return [Batch(None, n, self._all_places())]
        if self.everything and relabel is None:  # one process: the slices are the batches
            cuts = range(0, n, B)
            return [Batch(order[s : s + B], B if s + B <= n else n - s) for s in cuts]
        return _Cut(self, order, B)

    def _all_places(self) -> np.ndarray | None:
        """Batch gradient descent's :attr:`Batch.places`: this process's rows ``lo:hi``
        in the drawn order (None where they are held in it)."""
        if not self.places or self.relabel is None:
            return None
        drawn = np.empty_like(self.relabel)
        drawn[self.relabel] = np.arange(self.n_global, dtype=drawn.dtype)
        lo, hi = self.rows
        return drawn[lo:hi].copy()


class BatchesWhenRead(Sequence[Batch]):
    """An epoch's ``ceil(n / B)`` batches, each made by ``_batch(b)`` when it is read
    (:class:`_Cut`; :class:`mlplab.train.rootorder.RootOrder`'s batches): indexing by
    ``b`` (negative from the end) or by a slice, as a list of them would be."""

    n: int  # the epoch's rows (over every process)
    B: int  # the batch size

    def __len__(self) -> int:
        return (self.n + self.B - 1) // self.B

    @overload
    def __getitem__(self, b: int) -> Batch: ...
    @overload
    def __getitem__(self, b: slice) -> Sequence[Batch]: ...
    def __getitem__(self, b: int | slice) -> Batch | Sequence[Batch]:
        if isinstance(b, slice):
            return [self[i] for i in range(len(self))[b]]
        if not -len(self) <= b < len(self):
            raise IndexError(f"batch {b} of {len(self)}")
        return self._batch(b % len(self))

    @abstractmethod
    def _batch(self, b: int) -> Batch:
        """Batch ``b``, 0 ≤ b < len(self)."""


class _Cut(BatchesWhenRead):
    """An epoch's batches of this process's rows ``lo:hi`` (:meth:`EpochPlan.split`),
    each cut from the permutation when it is read: no array of all the epoch's rows
    beside the permutation (4 or 8 bytes a row held by one process)."""

    def __init__(self, plan: EpochPlan, order: np.ndarray, B: int) -> None:
        self.plan, self.order, self.B, self.n = plan, order, B, plan.n_global

    def _batch(self, b: int) -> Batch:
        s = b * self.B
        (lo, hi), relabel = self.plan.rows, self.plan.relabel
        drawn = self.order[s : s + self.B]
        idx = drawn if relabel is None else relabel[drawn]  # the processes' order
        mine = (idx >= lo) & (idx < hi)
        places = ranks(drawn)[mine] if self.plan.places else None
        return Batch(idx[mine] - lo, drawn.shape[0], places)  # may be empty


def permutation(rng: np.random.Generator, n: int, small: bool = False) -> np.ndarray:
    """``rng.permutation(n)``; with ``small`` (and n < 2**31) the same values as int32.

    ``Generator.permutation(n)`` is ``shuffle(arange(n))``, and the shuffle of a 1-D
    array draws the same random numbers whatever its dtype: the order, and the state
    the generator is left in, do not depend on it (``tests/test_batches_int32.py``). Rows
    read by K ranks (:attr:`EpochPlan.relabel`) keep 4 bytes a row of all rows this way;
    one process draws the int64 array it always drew.
    """
    if not small or n >= 2**31:
        return rng.permutation(n)
    perm = np.arange(n, dtype=np.int32)
    rng.shuffle(perm)
    return perm


def resolve_batch_size(batch_size: Any, n: int, where: str = "training samples") -> int | None:
    """``batch_size`` checked against the n rows: an int < n, or None for batch GD.

    ``"auto"`` is min(32, n); n itself (or None) means batch gradient descent.
    """
    if isinstance(batch_size, str) and batch_size == "auto":
        batch_size = min(32, n)
    if batch_size is None:
        return None
    value = check_positive(batch_size, "batch_size", integer=True)
    if value > n:
        raise ValueError(
            f"batch_size={value} is larger than the {n} {where}; "
            "use batch_size=None for batch gradient descent"
        )
    return None if value == n else value
