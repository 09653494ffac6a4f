"""A rank's float block of a CSV file made contiguous in place: its training rows first, in
order, read as one slice (no index array over them).

A rank of the sharded CSV route (:mod:`mlplab.persist.csvshard`) parses its rows, in the
file's order, into one float matrix R; the train/test split marks some of them as test
rows, and the rows near the edges of the ranks' parts may belong to a neighbour's block of
training rows. :func:`partition` moves the rows the rank keeps for training to the front
of R, in their order, a block of :data:`BLOCK_ROWS` rows at a time, and the other rows
(its test rows, and the rows it sent away) behind them, in an order it records: the
displaced rows are moved as a queue (each block's training rows take the place of the
oldest rows behind the front part, which go to the end), so no row is copied more than a
block at a time and no array of a row per training row is made. :func:`make_room` then
puts the rows received from the neighbours before and after them, in the same buffer
(the last rows behind them copied out when it is short). A batch's rows are then the
scattered positions minus the rank's first training row: one ``take``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BLOCK_ROWS", "make_room", "partition"]

BLOCK_ROWS = 1 << 13
"""Rows moved at a time (each block makes two copies of at most this many rows)."""


def partition(
    R: np.ndarray, kept: np.ndarray, test: np.ndarray, lost: np.ndarray | None = None
) -> tuple[int, np.ndarray]:
    """Move the rows of R marked in ``kept`` to its front, in order; the others behind them.

    Parameters
    ----------
    R : ndarray of shape (n, width)
        The rows, changed in place.
    kept : ndarray of bool, shape (n,)
        The rows to move to the front (their order kept).
    test : ndarray of int, shape (n_test,)
        The rows not kept (e.g. the test rows, in the split's order) whose new place to
        return: every row not kept, but those of ``lost``.
    lost : ndarray of int, shape (n_lost,), optional
        The rows neither kept nor in ``test`` (sorted; e.g. rows sent to other ranks):
        their content is lost.

    Returns
    -------
    n_kept : int
        R[:n_kept] are the kept rows, in order.
    places : ndarray of int, shape (n_test,)
        R[n_kept + places[i]] is the row that was R[test[i]] (int32 below 2**31 rows).

    Examples
    --------
    >>> R = np.arange(6.0).reshape(6, 1)
    >>> n, places = partition(R, np.array([0, 1, 1, 0, 1, 0], bool), np.array([5, 0]), [3])
    >>> R[:n, 0].tolist(), R[n + places, 0].tolist()
    ([1.0, 2.0, 4.0], [5.0, 0.0])
    """
    n = R.shape[0]
    small = np.dtype(np.int32 if n <= np.iinfo(np.int32).max else np.int64)
    lost = np.asarray([] if lost is None else lost, dtype=np.int64)
    n_kept = int(np.count_nonzero(kept))
    cap = n - n_kept  # rows behind the kept ones: a queue, positions mod cap
    occupant = np.empty(cap, dtype=small)  # the test row there (its rank in file order), or -1
    w = seen = 0  # rows kept so far; test rows met so far
    for s in range(0, n, BLOCK_ROWS):
        e = min(s + BLOCK_ROWS, n)
        mine = kept[s:e]
        front, back = s + np.flatnonzero(mine), s + np.flatnonzero(~mine)
        k = front.shape[0]
        d = min(k, s - w)  # rows behind the front part, displaced by this block's
        moved, moved_ids = R[w : w + d].copy(), occupant[np.arange(w, w + d) % max(cap, 1)]
        ids = np.full(back.shape[0], -1, dtype=small)
        tests = ~np.isin(back, lost[np.searchsorted(lost, s) : np.searchsorted(lost, e)])
        m = int(np.count_nonzero(tests))
        ids[tests] = seen + np.arange(m, dtype=small)
        seen += m
        rest = R[back]  # (copies)
        R[w : w + k] = R[front]
        t = max(w + k, s)
        R[t : t + d], R[t + d : e] = moved, rest
        if cap:
            occupant[np.arange(t, t + d) % cap] = moved_ids
            occupant[np.arange(t + d, e) % cap] = ids
        w += k
    if seen != test.shape[0]:
        raise ValueError(f"{test.shape[0]} test rows given, {seen} rows neither kept nor lost")
    by_rank = _slots(occupant, n_kept, seen)
    del occupant
    return n_kept, _places(by_rank, test)


def _slots(occupant: np.ndarray, n_kept: int, n_test: int) -> np.ndarray:
    """The slot behind the kept rows of each test row, in file order (``occupant[(n_kept
    + j) % cap]``: the rank in file order of the test row in slot j), a block at a time."""
    cap = occupant.shape[0]
    by_rank = np.empty(n_test, dtype=occupant.dtype)
    for j in range(0, cap, BLOCK_ROWS):
        slots = np.arange(j, min(j + BLOCK_ROWS, cap))
        ranks = occupant[(n_kept + slots) % cap]
        held = ranks >= 0
        by_rank[ranks[held]] = slots[held]
    return by_rank


def _places(by_rank: np.ndarray, test: np.ndarray) -> np.ndarray:
    """``by_rank`` (file order) in the order of ``test``, a block at a time."""
    small = by_rank.dtype
    in_file_order = np.sort(test)
    places = np.empty(test.shape[0], dtype=small)
    for j in range(0, test.shape[0], BLOCK_ROWS):
        part = test[j : j + BLOCK_ROWS]
        places[j : j + part.shape[0]] = by_rank[np.searchsorted(in_file_order, part)]
    return places


def make_room(
    R: np.ndarray, n_kept: int, before: np.ndarray, after: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """R with ``before``'s rows put in front of its first ``n_kept`` rows and ``after``'s
    behind them; R's other rows follow, in their order, the last of them perhaps apart.

    R's buffer is used in place when R is the leading rows of an array that owns its
    data (the parsed matrix): the rows behind the kept ones move down (a block at a
    time, from the end) as far as that array's rows allow, and the last ones that no
    longer fit are copied out (``spill``: as many rows as the buffer is short, a few
    near the ranks' edges). The buffer is never grown: a ``realloc`` of it may copy it
    whole (measured: the peak RSS of a rank doubled). Otherwise the rows are copied.
    R itself must not be used afterwards.

    Returns
    -------
    F : ndarray (b + n_kept + a + r, width)
        ``before``, R's kept rows, ``after``, then the first r of R's other rows.
    spill : ndarray (n - n_kept - r, width)
        The rest of R's other rows: ``concatenate([F[b + n_kept + a:], spill])`` is
        ``R[n_kept:]`` as it was.

    Examples
    --------
    >>> M = np.arange(8.0).reshape(4, 2).copy()  # a buffer of 4 rows; R: its first 3
    >>> F, spill = make_room(M[:3], 2, np.full((1, 2), -1.0), np.full((1, 2), -2.0))
    >>> F[:, 0].tolist(), spill[:, 0].tolist(), F.base is M
    ([-1.0, 0.0, 2.0, -2.0], [4.0], True)
    """
    n, width = R.shape
    b, a = before.shape[0], after.shape[0]
    base = R.base
    if not (
        isinstance(base, np.ndarray)
        and base.flags.owndata
        and base.flags.c_contiguous
        and base.ndim == 2
        and base.shape[1] == width
        and R.flags.c_contiguous
        and R.ctypes.data == base.ctypes.data
        and n + a + b - base.shape[0] <= n - n_kept
    ):
        F = np.empty((n + a + b, width), dtype=R.dtype)
        F[b : b + n_kept], F[b + n_kept + a :] = R[:n_kept], R[n_kept:]
        F[:b], F[b + n_kept : b + n_kept + a] = before, after
        return F, F[:0]
    short = max(n + a + b - base.shape[0], 0)
    spill = base[n - short : n].copy()  # the last rows behind the kept ones
    n -= short
    F = base[: n + a + b]
    _shift(F, n_kept, n, a + b)  # the rows behind: to the end
    _shift(F, 0, n_kept, b)
    F[:b], F[b + n_kept : b + n_kept + a] = before, after
    return F, spill


def _shift(X: np.ndarray, start: int, stop: int, by: int) -> None:
    """Rows ``start:stop`` of X moved ``by`` rows down (to higher rows), from the end."""
    if by == 0:
        return
    for e in range(stop, start, -BLOCK_ROWS):
        s = max(e - BLOCK_ROWS, start)
        X[s + by : e + by] = X[s:e]  # (NumPy copies an overlapping block first)
