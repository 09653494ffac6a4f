"""``.npy`` files (or a folder of ``.npy`` shards) as training rows that stay on disk.

:func:`open_rows` memory-maps the arrays (``numpy.memmap``, read-only, never pickles:
a file holding Python objects is refused) and returns a
:class:`~mlplab.train.rows.MappedRows`, which ``mlplab.fit`` trains on out of core.
With ``rows=(lo, hi)`` (or ``comm``: the rank's contiguous rows, as
:func:`mlplab.train.mpi.shard_range` cuts them) only those rows are mapped: each shard's
mapping starts at its first needed row and ends at its last.

A folder is its ``*.npy`` files in name order, concatenated by rows; every file must be
a 2-D array of numbers with the same number of columns (a problem names the file).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mlplab.train.mpi import shard_range
from mlplab.train.rows import MappedRows

__all__ = ["NpyError", "file_blocks", "files_of", "one_process", "open_rows", "read_target"]

BLOCK_ROWS = 65536
"""File rows looked at a time when a rank lists its block of the training rows."""


class NpyError(ValueError):
    """A ``.npy`` file or folder that cannot be trained on, named in the message."""


def files_of(path: str | os.PathLike[str]) -> list[Path]:
    """The ``.npy`` file, or the ``*.npy`` files of a folder in name order."""
    p = Path(path)
    if p.is_dir():
        files = sorted(q for q in p.iterdir() if q.suffix == ".npy" and q.is_file())
        if not files:
            raise NpyError(f"{p}: a folder without .npy files")
        return files
    if not p.exists():
        raise NpyError(f"{p}: no such file")
    return [p]


def _header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of a .npy file, from its header alone."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else None
            shape, fortran, dtype = (read or np.lib.format.read_array_header_2_0)(f)
            offset = f.tell()
    except PermissionError as exc:
        raise NpyError(f"{path}: cannot be read ({(exc.strerror or str(exc)).lower()})") from None
    except (ValueError, OSError) as exc:
        raise NpyError(f"{path}: not a .npy file ({exc})") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise NpyError(f"{path}: holds {dtype} values; training needs numbers (no objects)")
    if len(shape) != 2:
        raise NpyError(f"{path}: a {len(shape)}-D array of shape {shape}; rows need 2-D")
    if fortran and shape[0] > 1 and shape[1] > 1:
        raise NpyError(
            f"{path}: stored in Fortran order; save it by rows: "
            "np.save(path, np.ascontiguousarray(X))"
        )
    size = os.path.getsize(path)
    if size < offset + shape[0] * shape[1] * dtype.itemsize:
        raise NpyError(f"{path}: cut short ({size} bytes for a {shape} {dtype} array)")
    return shape, dtype, offset


def layout(path: str | os.PathLike[str]) -> list[tuple[Path, int]]:
    """[(file, rows)] of a file or folder, every file checked to have the same width."""
    out, width = [], None
    for f in files_of(path):
        shape, _, _ = _header(f)
        if width is not None and shape[1] != width:
            raise NpyError(
                f"{f}: rows of {shape[1]} values, but {out[0][0].name} has {width}; every "
                "shard must have the same number of columns"
            )
        width = shape[1]
        out.append((f, shape[0]))
    return out


def open_rows(
    path: str | os.PathLike[str], rows: tuple[int, int] | None = None, comm: Any = None
) -> MappedRows:
    """Memory-mapped rows ``lo:hi`` (default all; with ``comm`` this rank's share) of a
    ``.npy`` file or folder of shards."""
    shards = layout(path)
    n = sum(r for _, r in shards)
    if comm is not None:
        rows = shard_range(n, comm.Get_rank(), comm.Get_size())
    lo, hi = (0, n) if rows is None else rows
    if not 0 <= lo <= hi <= n:
        raise NpyError(f"{path}: rows {lo}:{hi} out of its {n} rows")
    parts: list[np.ndarray] = []
    start = 0
    for f, m in shards:
        a, b = max(lo - start, 0), min(hi - start, m)
        if a < b:
            shape, dtype, offset = _header(f)
            row = shape[1] * dtype.itemsize
            off = offset + a * row
            parts.append(np.memmap(f, dtype, mode="r", offset=off, shape=(b - a, shape[1])))
        start += m
    if not parts:  # no rows: an empty part keeps the width
        shape, dtype, _ = _header(shards[0][0])
        parts.append(np.empty((0, shape[1]), dtype))
    out = MappedRows(parts)
    out.layout = [[f.name, m] for f, m in shards]
    return out


def one_process(
    path: str | os.PathLike[str],
    target: str | os.PathLike[str],
    task: str | None,
    test_size: float,
    seed: int,
) -> tuple[MappedRows, np.ndarray, MappedRows, np.ndarray, str, np.ndarray | None]:
    """(X_train, y_train, X_test, y_test, task, classes) of a ``.npy`` file for one
    process: the split of :func:`mlplab.core.data.train_test_split` over row indices, the
    training rows kept in the file's order (:func:`file_blocks`: ``relabel``), the test
    rows in the split's; the task inferred from the targets when not given (1-D
    integers of at most 20 values: classification). Under MPI each rank reads its own
    rows alone instead: :func:`mlplab.persist.npyshard.sharded_npy`."""
    from mlplab.core.data import train_test_split

    n = sum(m for _, m in layout(path))
    y = read_target(target, n)
    if task is None:
        few = np.unique(y).size <= 20 and np.all(y == np.round(y))
        task = "classification" if y.ndim == 1 and few else "regression"
    classes = None
    if task == "classification":
        classes, y = np.unique(y, return_inverse=True)
    split = train_test_split(np.arange(n), y, test_size, seed, task == "classification")
    i_tr, i_te = (np.asarray(a) for a in split[:2])
    _, tr, relabel = file_blocks(i_tr, n, 0, 1)
    X = open_rows(path)
    X_tr = X.select(tr)
    X_tr.relabel = relabel
    return X_tr, y[tr], X.select(i_te), y[i_te], task, classes


def file_blocks(
    train: np.ndarray, n_rows: int, rank: int, size: int
) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
    """Training rows kept in the file's order, in one contiguous part of the file per rank.

    ``train`` holds the training rows (file rows, in the split's order) of a file of
    ``n_rows`` rows. Rank ``rank`` of ``size`` keeps block ``shard_range(n_train, rank,
    size)`` of the training rows *sorted*: all of them lie in file rows ``a:b``, and the
    ranks' parts ``a:b`` cut the file into contiguous pieces (the test rows between
    them included). Returns ``((a, b), its training rows in file order, relabel)``;
    ``relabel[p]`` is the place in file order of the split's p-th training row, for
    :attr:`~mlplab.train.rows.MappedRows.relabel`, so the batches stay those of the split's order.

    Examples
    --------
    >>> (a, b), mine, relabel = file_blocks(np.array([7, 2, 5, 0]), 9, 1, 2)
    >>> (a, b), mine.tolist(), relabel.tolist()
    ((5, 9), [5, 7], [3, 1, 2, 0])
    """
    train = np.asarray(train)
    small = np.dtype(np.int32 if n_rows <= np.iinfo(np.int32).max else np.int64)
    held = np.zeros(n_rows, dtype=bool)  # a byte a row of the file, no sort of 8 bytes
    blocks = [train[s : s + BLOCK_ROWS] for s in range(0, train.shape[0], BLOCK_ROWS)]
    for part in blocks:  # (NumPy indexes through an intp copy of the index: a block's)
        held[part] = True
    count = np.empty(n_rows, dtype=small)  # count[r]: training rows up to file row r
    total = 0
    for s in range(0, n_rows, BLOCK_ROWS):  # (a cumsum casts all of held first: 4 bytes a row)
        part = count[s : s + BLOCK_ROWS]
        np.cumsum(held[s : s + BLOCK_ROWS], dtype=small, out=part)
        part += total
        total = int(part[-1])
    relabel = np.empty(train.shape[0], dtype=small)  # 4 bytes a training row
    for s, part in zip(range(0, train.shape[0], BLOCK_ROWS), blocks, strict=True):
        np.take(count, part, out=relabel[s : s + part.shape[0]])
    relabel -= 1  # its place in file order
    lo, hi = shard_range(int(train.shape[0]), rank, size)
    ends = np.array([lo + 1, hi + 1], dtype=small)  # (int64 ones: count cast to int64)
    first, end = np.searchsorted(count, ends).tolist()  # the lo-th, hi-th training rows
    del count
    a = 0 if rank == 0 else first
    b = n_rows if rank == size - 1 else end
    return (a, b), marked_rows(held, first, end, train.dtype), relabel


def complete_rows(R: np.ndarray) -> np.ndarray:
    """Which rows of R hold no NaN (bool, one a row), a block of rows at a time: not
    ``~np.isnan(R).any(axis=1)``, whose mask of every cell is 8 bytes a float.

    Examples
    --------
    >>> complete_rows(np.array([[1.0, 2.0], [np.nan, 0.0]])).tolist()
    [True, False]
    """
    out = np.empty(R.shape[0], dtype=bool)
    for s in range(0, R.shape[0], BLOCK_ROWS):
        out[s : s + BLOCK_ROWS] = ~np.isnan(R[s : s + BLOCK_ROWS]).any(axis=1)
    return out


def take_rows(a: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``a[index]`` of a 1-D array, :data:`BLOCK_ROWS` at a time: NumPy indexes through
    an intp copy of an int32 or uint8 index (8 bytes a row), here of one block.

    Examples
    --------
    >>> take_rows(np.array([10, 20, 30], dtype=np.uint8), np.array([2, 0], np.int32)).tolist()
    [30, 10]
    """
    out = np.empty(index.shape[0], dtype=a.dtype)
    for s in range(0, index.shape[0], BLOCK_ROWS):
        np.take(a, index[s : s + BLOCK_ROWS], out=out[s : s + BLOCK_ROWS])
    return out


def marked_rows(mask: np.ndarray, start: int, end: int, dtype: Any) -> np.ndarray:
    """``start + np.flatnonzero(mask[start:end])`` as ``dtype``, found :data:`BLOCK_ROWS`
    rows at a time (no array of 8 bytes a marked row).

    Examples
    --------
    >>> marked_rows(np.array([True, False, True, True]), 1, 4, np.int32).tolist()
    [2, 3]
    """
    out = np.empty(int(np.count_nonzero(mask[start:end])), dtype=dtype)
    at = 0
    for s in range(start, end, BLOCK_ROWS):
        rows = s + np.flatnonzero(mask[s : min(s + BLOCK_ROWS, end)])
        out[at : at + rows.shape[0]] = rows
        at += rows.shape[0]
    return out


def read_target(
    path: str | os.PathLike[str],
    n_rows: int,
    rows: tuple[int, int] | None = None,
    copy: bool = True,
) -> np.ndarray:
    """The targets of a ``.npy`` file or folder (one value per row), checked to have
    ``n_rows`` rows: all of them loaded, or with ``rows=(lo, hi)`` those rows alone,
    read through a memory map (an MPI rank's rows); ``copy=False``: rows of one file
    are the memory map's (read when used), not a copy of them."""
    parts = []
    for f in files_of(path):
        try:
            parts.append(np.load(f, allow_pickle=False, mmap_mode=None if rows is None else "r"))
        except (ValueError, OSError) as exc:
            raise NpyError(f"{f}: cannot be read as targets ({exc})") from None
        if parts[-1].ndim == 0:
            raise NpyError(f"{f}: a single value; targets need one value per row")
    got = sum(p.shape[0] for p in parts)
    if got != n_rows:
        raise NpyError(f"{path}: {got} targets for {n_rows} rows of data")
    if rows is not None:  # each file's part of lo:hi, copied out of its map
        lo, hi = rows
        starts = np.cumsum([0] + [p.shape[0] for p in parts])
        parts = [
            np.array(p[max(lo - s, 0) : max(min(hi - s, p.shape[0]), 0)], copy=copy)
            for p, s in zip(parts, starts[:-1].tolist(), strict=True)
        ]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]
