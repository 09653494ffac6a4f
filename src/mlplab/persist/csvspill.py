"""A rank's float rows set aside on disk: what lets a rank of the sharded CSV route hold
no more than its share of the file's numbers.

A rank of :mod:`mlplab.persist.csvshard` needs only its block of the training rows in
memory to train: the test rows are read once an epoch (the held-out curve) and at the end
(the metrics), a block at a time. So its feature columns are parsed chunk by chunk into a
:class:`RowsFile` (:class:`~mlplab.persist.csvrows.Parsed` with a ``sink``), which is the
codes matrix when every cell of numbers was finite (or empty under a ``--missing``
policy that fills or drops), the codes of categories written into their columns in
place (:meth:`RowsFile.set_columns`); else (an infinite cell, an empty one under
``--missing error``) the rows are read back into memory only to name the problem. The
split is drawn with no rows in memory (the root then holds every row's label and the
split's indices beside its constant, not beside its share). Once the split is drawn,
one pass over the file (:meth:`RowsFile.deal`) reads the training block into one
in-memory matrix and copies the test rows, in the file's order, to a second
:class:`RowsFile` that training reads through :class:`FileRows` (one contiguous read a
block).

A :class:`RowsFile` is an unlinked temporary file (``tempfile.TemporaryFile``) in
``TMPDIR`` (:func:`tempfile.gettempdir`): it has no name, no other process can open or
change it, and the system frees its space when the process ends, however it ends. Its
pages live in the page cache, which the kernel may write out and drop: they are not the
process's memory. (A ``TMPDIR`` on a ``tmpfs`` keeps them in memory all the same: point
it to a disk.) Rows are written with ``write`` and read with ``preadv`` into the
caller's array, never through a memory map: a map's page faults bring in the pages
around them too (fault-around, large folios), which made a gather of 4096 scattered rows
of a 200 MiB file resident whole.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from typing import IO, Any

import numpy as np

from mlplab.persist.csvexact import CSVError
from mlplab.persist.npydata import complete_rows

__all__ = ["GAP_ROWS", "READ_ROWS", "FileRows", "RowsFile"]

READ_ROWS = 1 << 14
"""Rows read at a time (at most)."""

GAP_ROWS = 64
"""Rows gathered by :meth:`RowsFile.take` this close are read in one read."""


class RowsFile:
    """Float64 rows of one width in an unlinked temporary file, appended and read back.

    Parameters
    ----------
    width : int
        Columns of every row.
    folder : str, optional
        Where the file lies (default :func:`tempfile.gettempdir`: ``TMPDIR``).

    Examples
    --------
    >>> f = RowsFile(2)
    >>> f.append(np.arange(6.0).reshape(3, 2))
    >>> f.read(1, 3).tolist(), f.take(np.array([2, 0])).tolist()
    ([[2.0, 3.0], [4.0, 5.0]], [[4.0, 5.0], [0.0, 1.0]])
    """

    def __init__(self, width: int, folder: str | None = None) -> None:
        self.folder = folder or tempfile.gettempdir()
        self.width, self.dtype, self.n = int(width), np.dtype(np.float64), 0
        self.row_bytes = self.width * self.dtype.itemsize
        try:
            self._file: IO[bytes] = tempfile.TemporaryFile(dir=self.folder)  # noqa: SIM115 (lives as long as self)
        except OSError as exc:
            raise self._error(exc, 0) from exc
        self._closer = weakref.finalize(self, self._file.close)  # collected: closed

    def _error(self, exc: OSError, rows: int) -> CSVError:
        need = (self.n + rows) * self.row_bytes / 2**20
        return CSVError(
            f"{self.folder}: cannot set this rank's rows aside there ({exc.strerror or exc}; "
            f"{need:.0f} MiB of rows so far): point TMPDIR to a folder on a disk with room"
        )

    def append(self, rows: np.ndarray) -> None:
        """Write ``rows`` (n, width) after the rows written so far."""
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.ndim != 2 or rows.shape[1] != self.width:
            raise ValueError(f"rows of width {self.width} expected, got shape {rows.shape}")
        try:
            if rows.size:
                self._file.write(rows.data.cast("B"))
            self._file.flush()
        except OSError as exc:
            raise self._error(exc, rows.shape[0]) from exc
        self.n += rows.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (0 <= start <= stop <= n), in a new array."""
        if not 0 <= start <= stop <= self.n:
            raise IndexError(f"rows {start}:{stop} of a file of {self.n} rows")
        out = np.empty((stop - start, self.width), dtype=self.dtype)
        self.read_into(start, out)
        return out

    def read_into(self, start: int, out: np.ndarray) -> None:
        """Rows ``start:start + len(out)`` into ``out`` (float64, (m, width), C-contiguous)."""
        stop = start + out.shape[0]
        if not 0 <= start <= stop <= self.n:
            raise IndexError(f"rows {start}:{stop} of a file of {self.n} rows")
        if out.shape[1:] != (self.width,) or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise ValueError(f"a C-contiguous float64 array of width {self.width} expected")
        if not out.size:  # (a memoryview of no bytes cannot be cast)
            return
        buf, at = out.data.cast("B"), 0
        while at < len(buf):  # preadv may read less than asked
            got = os.preadv(self._file.fileno(), [buf[at:]], start * self.row_bytes + at)
            if got <= 0:
                raise OSError(f"{self.folder}: the rows set aside ended early")
            at += got

    def take(self, idx: Any) -> np.ndarray:
        """Rows ``idx`` (ints in [0, n), any order), in a new array: the rows sorted, each
        run of rows less than :data:`GAP_ROWS` apart read in one read (at most
        :data:`READ_ROWS` rows), the rows between them dropped."""
        idx = np.asarray(idx, dtype=np.int64)
        out = np.empty((idx.shape[0], self.width), dtype=self.dtype)
        if not idx.size:
            return out
        if idx.min() < 0 or idx.max() >= self.n:
            raise IndexError(f"rows outside a file of {self.n} rows")
        order = np.argsort(idx, kind="stable")
        srt = idx[order]
        a = 0
        for e in [*(np.flatnonzero(np.diff(srt) >= GAP_ROWS) + 1).tolist(), srt.shape[0]]:
            while a < e:  # rows srt[a:b]: a span of fewer than READ_ROWS rows
                b = min(e, int(np.searchsorted(srt, srt[a] + READ_ROWS)))
                block = self.read(int(srt[a]), int(srt[b - 1]) + 1)
                out[order[a:b]] = block[srt[a:b] - srt[a]]
                a = b
        return out

    def column(self, j: int) -> np.ndarray:
        """Column j of every row (float64, n), read a block of rows at a time."""
        out = np.empty(self.n, dtype=self.dtype)
        for s in range(0, self.n, READ_ROWS):
            out[s : s + READ_ROWS] = self.read(s, min(s + READ_ROWS, self.n))[:, j]
        return out

    def set_columns(self, columns: dict[int, np.ndarray]) -> None:
        """Write ``columns[j]`` (n values each) into column j of every row, in place: one
        pass over the file, a block of rows at a time."""
        if not columns:
            return
        for s in range(0, self.n, READ_ROWS):
            block = self.read(s, min(s + READ_ROWS, self.n))
            for j, x in columns.items():
                block[:, j] = x[s : s + READ_ROWS]
            buf, at = block.data.cast("B"), 0
            try:
                while at < len(buf):  # pwrite may write less than asked
                    at += os.pwrite(self._file.fileno(), buf[at:], s * self.row_bytes + at)
            except OSError as exc:
                raise self._error(exc, 0) from exc

    def complete_rows(self) -> np.ndarray:
        """Which rows hold no NaN (bool, n), read a block at a time."""
        out = np.empty(self.n, dtype=bool)
        for s in range(0, self.n, READ_ROWS):
            out[s : s + READ_ROWS] = complete_rows(self.read(s, min(s + READ_ROWS, self.n)))
        return out

    def deal(self, keep: np.ndarray, out: np.ndarray, aside: np.ndarray, to: RowsFile) -> None:
        """One pass over the file, a block at a time: the rows marked in ``keep`` (bool,
        n), in order, into ``out``; those marked in ``aside``, in order, appended to ``to``."""
        if keep.shape[0] != self.n or aside.shape[0] != self.n:
            raise ValueError(f"masks of {self.n} rows expected")
        at = 0
        for s in range(0, self.n, READ_ROWS):
            block = self.read(s, min(s + READ_ROWS, self.n))
            m = keep[s : s + READ_ROWS]
            k = int(np.count_nonzero(m))
            np.compress(m, block, axis=0, out=out[at : at + k])
            to.append(block[aside[s : s + READ_ROWS]])
            at += k

    def close(self) -> None:
        """Give the file's space back (also done when the object is collected)."""
        self._closer()


class FileRows:
    """Rows ``start:stop`` of a :class:`RowsFile` as an array-like of shape (n, width),
    read when asked: a part of :class:`~mlplab.train.rows.MappedRows`.

    A slice is another :class:`FileRows` (nothing read); ``numpy.asarray`` reads the
    rows in one contiguous read; indexing by an array of ints gathers them.

    Examples
    --------
    >>> f = RowsFile(1)
    >>> f.append(np.arange(5.0).reshape(5, 1))
    >>> part = FileRows(f)[1:4]
    >>> part.shape, np.asarray(part)[:, 0].tolist(), part[np.array([2, 0])][:, 0].tolist()
    ((3, 1), [1.0, 2.0, 3.0], [3.0, 1.0])
    """

    ndim = 2

    def __init__(self, source: RowsFile, start: int = 0, stop: int | None = None) -> None:
        self.source, self.start = source, int(start)
        self.stop = source.n if stop is None else int(stop)
        self.shape = (self.stop - self.start, source.width)
        self.dtype = source.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            a, b, step = key.indices(self.shape[0])
            if step != 1:
                raise TypeError("rows on disk are cut by slices of step 1")
            return FileRows(self.source, self.start + a, self.start + max(a, b))
        idx = np.asarray(key, dtype=np.int64)
        if idx.ndim != 1:
            raise TypeError("rows on disk are read by slices or a 1-D array of row numbers")
        idx = np.where(idx < 0, idx + self.shape[0], idx)
        if idx.size and (idx.min() < 0 or idx.max() >= self.shape[0]):
            raise IndexError(f"rows outside {self.shape[0]} rows")
        return self.source.take(idx + self.start)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.source.read(self.start, self.stop)
        return out if dtype is None else out.astype(dtype, copy=False)
