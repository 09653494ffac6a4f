"""Fast CSV reading: pandas' C parser, over byte ranges of the file, in threads.

:func:`read_frame` returns a :class:`Frame`: the header's names and, for each column, one
NumPy array. pandas parses; everything pandas would guess is decided here instead:

* the separator (``sep=None``: ``,`` ``;`` tab or ``|``, whichever splits the header and
  the first rows into the same number of fields, see :func:`detect_sep`);
* the header is read by the exact reader (:mod:`mlplab.persist.csvexact`: quotes, BOM,
  blank lines, names checked), pandas reads the rows after it;
* only an empty cell is missing: ``NA``, ``null`` or ``nan`` are text, never missing;
* a column of numbers is ``float64`` with NaN where a cell is empty; any other column is
  an ``object`` array of ``str`` (``None`` where a cell is empty; a float where pandas
  read a number in one part of a column that holds text elsewhere).

Rows are counted from 0; to name a problem (:meth:`Frame.where`), one pass of the exact
reader finds the line. When pandas cannot read the file, or a row might be short (pandas
fills missing trailing cells, the exact reader refuses such a row), the exact reader
decides and names the problem: the errors are the exact reader's.

Large files (``SPLIT_BYTES`` and more) are cut at record boundaries (a newline outside
quotes; cut again if the quotes before it are odd) into one range per worker thread (pandas
releases the GIL while it parses), each read in chunks of about ``CHUNK_CELLS`` cells.
"""

from __future__ import annotations

import io
import itertools
import os
import warnings
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlplab.persist import csvsmall
from mlplab.persist.csvexact import CSVError, check_file, iter_records, locate, no_column
from mlplab.persist.csvheader import Header, cut_points, newline_cuts, read_header

__all__ = ["Frame", "Header", "cut_points", "from_dataframe", "newline_cuts", "read_frame",
           "read_header"]  # fmt: skip

SPLIT_BYTES = 16 * 2**20
"""Files from this size on are read by several threads, one byte range each."""
CHUNK_CELLS = 2**18
"""pandas reads a range in chunks of about this many cells: the tokenizer's buffers, kept
from chunk to chunk (:func:`_keep_buffers`), and the chunk's arrays stay small (400,000
× 21 cells, two threads: peak RSS 147 / 164 / 196 MB with 2**18 / 2**19 / 2**20, X 61 MB)."""
MAX_WORKERS = 4


@dataclass
class Frame:
    """A table read from a CSV file (or a DataFrame): names and one array per column.

    ``data[k]`` is ``None`` for a column that was not asked for (``keep`` of
    :func:`read_frame`). Rows are numbered from 0; :meth:`where` names their lines.
    """

    path: Path | str
    columns: list[str]
    data: list[np.ndarray | None] = field(repr=False)
    sep: str = ","
    header_line: int = 1
    locator: Callable[[int], str] | None = field(default=None, repr=False)
    """For a DataFrame: the name of row i in messages (instead of a file line)."""
    _lines: np.ndarray | None = field(default=None, repr=False)
    row_offset: int = 0
    """The file's data rows before row 0 (a part of a file read by one MPI rank)."""

    @property
    def n_rows(self) -> int:
        """The number of data rows."""
        for a in self.data:
            if a is not None:
                return len(a)
        return 0 if self._lines is None else len(self._lines)

    @property
    def has_index_column(self) -> bool:
        """Whether the first column is unnamed: the row index pandas writes."""
        return bool(self.columns) and self.columns[0] == ""

    def index(self, name: str, what: str = "column") -> int:
        """Position of column ``name``, or a CSVError listing the columns."""
        if name not in self.columns or name == "":
            raise no_column(self.path, name, self.columns, what)
        return self.columns.index(name)

    def column(self, name: str) -> np.ndarray:
        """The array of column ``name`` (read it with ``keep`` including it)."""
        values = self.data[self.index(name)]
        if values is None:  # pragma: no cover - a caller that did not ask for it
            raise ValueError(f"column {name!r} was not read")
        return values

    def line(self, row: int) -> int:
        """The file line of data row ``row`` (one pass of the exact reader, then kept)."""
        if self._lines is None:
            self._lines = locate(self.path, self.sep)[0]
        at = row + self.row_offset
        if at >= len(self._lines) or (self.row_offset == 0 and len(self._lines) != self.n_rows):
            raise CSVError(  # a safety net: no such line is known (a line of only "" once was)
                f"{self.path}: pandas and the exact reader count this file's rows "
                f"differently (at data row {row + 1}); please report the file"
            )
        return int(self._lines[at])

    def check_structure(self) -> None:
        """Refuse, with the exact reader's message, a row whose cell count is not the
        header's (pandas fills the missing cells of a short row)."""
        if self.locator is None and self._lines is None:
            self._lines = locate(self.path, self.sep)[0]

    def where(self, row: int | None = None, col: int | None = None) -> str:
        """``"file, line N, column 'name' (column k)"`` for error messages."""
        out = str(self.path)
        if row is not None:
            out += f", {self.locator(row)}" if self.locator else f", line {self.line(row)}"
        elif col is not None:
            out += ", line 1" if self.locator is None else ""
        if col is not None:
            out += f", column {self.columns[col]!r} (column {col + 1})"
        return out

    def cell(self, row: int, col: int) -> str:
        """The text of one cell, as the file has it (for messages)."""
        if self.locator is not None:
            value = self.data[col][row]  # type: ignore[index]
            return "" if value is None else str(value)
        return locate(self.path, self.sep, row + self.row_offset)[1][col]  # type: ignore[index]


# ---------------------------------------------------------------------- the ranges
class _Range(io.RawIOBase):
    """Bytes ``start`` to ``end`` of a file, as a file.

    pandas' parser calls :meth:`read` (about 256 KiB at a time); the bytes it gets are
    searched for ``"`` (``bytes.find``: memchr) and counted only where there is one, so
    a file without quotes costs no count.
    """

    def __init__(self, path: Path, start: int, end: int) -> None:
        self._f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._f.seek(start)
        self._left = end - start
        self.quotes = 0
        """The number of ``"`` read so far (to check that a cut was a record boundary)."""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        n = self._left if size is None or size < 0 else min(size, self._left)
        if n <= 0:
            return b""
        data = self._f.read(n) or b""
        self._left -= len(data)
        if data.find(b'"') >= 0:
            self.quotes += data.count(b'"')
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        memoryview(b)[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


def _piece(values: Any) -> np.ndarray:
    """One chunk of one column, as float64 (numbers) or an object array of str (None where
    a cell is empty). ``values``: the parser's array (NumPy, or pandas' for text)."""
    import pandas as pd

    kind = getattr(values.dtype, "kind", "O")
    if kind in "iuf":
        return np.asarray(values, dtype=np.float64)
    if kind == "b":
        out = np.where(np.asarray(values, dtype=bool), "True", "False").astype(object)
        return out
    if not isinstance(values, np.ndarray):
        return np.asarray(values.to_numpy(dtype=object, na_value=None))
    out = values.astype(object, copy=False)  # the parser's own array: changed in place
    if not _all_text(out):
        out[pd.isna(out)] = None
    return out


def _all_text(values: np.ndarray) -> bool:
    """Whether every entry of an object array is a str (one C pass, 5× faster than
    ``pd.isna``): then no cell is empty."""
    from pandas.api.types import infer_dtype

    return bool(infer_dtype(values, skipna=False) == "string")


def _has_empty(values: Any) -> bool:
    import pandas as pd

    if isinstance(values, np.ndarray) and values.dtype == object and _all_text(values):
        return False
    return bool(pd.isna(values).any())


DECODE_ERRORS = (UnicodeDecodeError, ValueError, OverflowError)  # and pandas' ParserError


def _read_range(
    path: Path, start: int, end: int, hdr: Header, keep: list[int], text: Collection[int]
) -> tuple[dict[int, list[np.ndarray]], int, Exception | None]:
    """The pieces of the kept columns in bytes start..end, the number of quotes there, and
    the error pandas raised (None): the caller decides, knowing whether the cuts held."""
    import pandas as pd

    pieces: dict[int, list[np.ndarray]] = {k: [] for k in keep}
    pieces[-1] = []  # a short row leaves the last column empty: one flag per chunk
    if end <= start:
        return pieces, 0, None
    raw = _Range(path, start, end)
    try:
        for chunk in range_chunks(raw, hdr, text):
            for k in keep:
                pieces[k].append(_piece(chunk[k]))
            pieces[-1].append(np.array([_has_empty(chunk[len(hdr.columns) - 1])]))
    except (pd.errors.ParserError, pd.errors.ParserWarning, *DECODE_ERRORS) as exc:
        return pieces, raw.quotes, exc
    return pieces, raw.quotes, None


def range_chunks(raw: _Range, hdr: Header, text: Collection[int]) -> Iterator[dict[int, Any]]:
    """The columns of a byte range, chunk by chunk, as pandas' parser returns them
    (``{column: array}``; columns ``text`` as text, empty cells NaN; no DataFrame is
    built): the reading set-up of this reader and the sharded one (``csvrows``)."""
    import pandas as pd

    options: dict[str, Any] = dict(sep=hdr.sep, header=None, names=list(range(len(hdr.columns))))
    # No usecols: with it pandas drops the extra cells of a long row without a word.
    # low_memory=False: each chunk is typed whole (no DtypeWarning for a column typed
    # differently within a chunk); the chunks are small already.
    options.update(dtype={k: str for k in text}, index_col=False, low_memory=False)
    options.update(keep_default_na=False, na_values=[""], quotechar='"', encoding="utf-8")
    rows = chunk_rows(len(hdr.columns))
    try:
        with raw, pd.read_csv(raw, engine="c", chunksize=rows, **options) as chunks:
            reader = _keep_buffers(chunks)
            if reader is None:  # pragma: no cover - a pandas without the parser's reader
                for frame in chunks:
                    yield {int(k): frame[k].array for k in frame.columns}
                return
            while True:
                try:
                    columns = reader.read(rows)
                except StopIteration:
                    return
                yield _width_checked(columns, len(hdr.columns))
    except pd.errors.EmptyDataError:
        return


def chunk_rows(n_columns: int) -> int:
    """The rows of one chunk that pandas reads (and types) at a time."""
    return max(1024, CHUNK_CELLS // n_columns)


def _width_checked(columns: dict[int, Any], n: int) -> dict[int, Any]:
    """The chunk's columns, refused (ParserError) when its rows are all longer than the
    header (pandas' DataFrame would drop the extra cells with a ParserWarning) except for
    one empty last field on every row, which pandas allows (and drops)."""
    import pandas as pd

    if len(columns) == n + 1 and _all_empty(columns[n]):
        del columns[n]
    if len(columns) != n:
        raise pd.errors.ParserError(f"rows of {len(columns)} cells after a header of {n}")
    return columns


def _all_empty(values: Any) -> bool:
    import pandas as pd

    if getattr(values.dtype, "kind", "O") == "O":
        return bool((pd.isna(values) | (np.asarray(values, dtype=object) == "")).all())
    return bool(pd.isna(values).all())


def _keep_buffers(chunks: Any) -> Any:
    """pandas' C reader under the chunked reader (None: not found), set to keep the
    tokenizer's buffers from chunk to chunk (freed when the reader closes) where its parser
    has the switch (pandas 3.1's ``trim_after_read``, which its own threaded reader sets):
    freeing and faulting them in again for every chunk was half of the page faults and
    0.1 s of CPU on the benchmark's 96 MB file."""
    reader: Any = getattr(getattr(chunks, "_engine", None), "_reader", None)
    if hasattr(reader, "trim_after_read"):
        reader.trim_after_read = False
    return reader if hasattr(reader, "read") else None


def _join(parts: list[np.ndarray]) -> np.ndarray:
    if all(p.dtype == np.float64 for p in parts):
        return np.concatenate(parts) if parts else np.empty(0)
    return np.concatenate([p.astype(object) for p in parts])


def _workers(size: int) -> int:
    if size < SPLIT_BYTES:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, cpus or 1))


def _fast(
    path: Path, hdr: Header, keep: list[int], text: set[int]
) -> tuple[list[np.ndarray | None], bool]:
    """The kept columns, and whether the last column has an empty cell."""
    workers = _workers(os.path.getsize(path) - hdr.start)
    results = _read_ranges(path, newline_cuts(path, hdr.start, workers), hdr, keep, text)
    if any(q % 2 for q in itertools.accumulate(r[1] for r in results[:-1])):
        # a cut fell inside a quoted field: cut where the quotes say, and read again
        results = _read_ranges(path, cut_points(path, hdr.start, workers), hdr, keep, text)
    for _, _, error in results:
        if error is not None:
            raise error
    parts = [r[0] for r in results]
    data: list[np.ndarray | None] = [None] * len(hdr.columns)
    for k in keep:
        data[k] = _join([p for part in parts for p in part.pop(k)])
    return data, any(bool(p[0]) for part in parts for p in part[-1])


def _read_ranges(
    path: Path, cuts: list[int], hdr: Header, keep: list[int], text: set[int]
) -> list[tuple[dict[int, list[np.ndarray]], int, Exception | None]]:
    ranges = list(itertools.pairwise(cuts))
    if len(ranges) == 1:
        return [_read_range(path, *ranges[0], hdr, keep, text)]
    from concurrent.futures import ThreadPoolExecutor  # large files only: not at import

    with ThreadPoolExecutor(len(ranges)) as pool:
        return list(pool.map(lambda r: _read_range(path, r[0], r[1], hdr, keep, text), ranges))


def _exact(path: Path, sep: str, keep: list[int], text: set[int]) -> Frame:
    """The whole file through the exact reader (slow; for files pandas cannot read)."""
    records = iter_records(path, sep)
    header_line, columns = next(records)
    cells: dict[int, list[Any]] = {k: [] for k in keep}
    lines = []
    for line, row in records:
        lines.append(line)
        for k in keep:
            cells[k].append(row[k] if row[k] != "" else None)
    data: list[np.ndarray | None] = [None] * len(columns)
    for k in keep:
        data[k] = _as_numbers(cells[k]) if k not in text else np.array(cells[k], dtype=object)
    frame = Frame(path, columns, data, sep, header_line)
    frame._lines = np.asarray(lines, dtype=np.int64)
    return frame


def _as_numbers(cells: list[Any]) -> np.ndarray:
    """float64 when every cell is empty or a number as pandas reads it, else the text."""
    out = np.empty(len(cells))
    for i, c in enumerate(cells):
        try:
            out[i] = np.nan if c is None else float(c)
        except ValueError:
            return np.array(cells, dtype=object)
        if c is not None and c.strip().lower().lstrip("+-") in ("nan", "infinity"):
            return np.array(cells, dtype=object)  # text pandas leaves as text
    return out


def _may_have_short_rows(path: Path, hdr: Header, n: int) -> bool:
    """Whether the file may hold a row with too few cells, given that its last column has
    an empty cell: False when there are no quotes and the separators count exactly
    n·(columns − 1) (pandas refuses long rows, so then no row is short)."""
    seps = 0
    with open(path, "rb") as f:
        f.seek(hdr.start)
        while block := f.read(8 * 2**20):
            if b'"' in block:
                return True
            seps += block.count(hdr.sep.encode())
    return seps != n * (len(hdr.columns) - 1)


def read_frame(
    path: str | os.PathLike[str],
    sep: str | None = None,
    *,
    keep: Collection[str] | None = None,
    text: Collection[str] = (),
) -> Frame:
    """Read a CSV file fast into a :class:`Frame` (see the module docstring).

    ``sep``: the separator, or None to detect it. ``keep``: the columns to read (names
    that are not in the header are ignored here; None: all). ``text``: columns to keep as
    text even when they hold numbers (ids, categories, labels).
    """
    path = check_file(path)
    if sep is not None and len(sep) != 1:
        raise ValueError(f"--sep must be one character, got {sep!r}")
    hdr = read_header(path, sep)
    if hdr is None:  # let the exact reader name the problem, or read the file
        names = next(iter_records(path, sep or ","))[1]
        idx = [k for k, c in enumerate(names) if keep is None or c in keep]
        frame = _exact(path, sep or ",", idx, {k for k, c in enumerate(names) if c in text})
        return _checked_rows(frame)
    idx = [k for k, c in enumerate(hdr.columns) if keep is None or c in keep]
    text_idx = {k for k, c in enumerate(hdr.columns) if c in text and k in idx}
    if (small := _small(path, hdr, idx, text_idx)) is not None:
        return small
    import pandas as pd

    try:
        with warnings.catch_warnings():
            # Rows all longer than the header: pandas drops their extra cells with a
            # ParserWarning. An error here, so that the exact reader names the line.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            data, last_empty = _fast(path, hdr, idx, text_idx)
    except (pd.errors.ParserError, pd.errors.ParserWarning, UnicodeDecodeError, ValueError,
            OverflowError):  # fmt: skip
        frame = _exact(path, hdr.sep, idx, text_idx)  # raises the exact error, or reads
        return _checked_rows(frame)
    frame = Frame(path, hdr.columns, data, hdr.sep, hdr.line)
    if last_empty and _may_have_short_rows(path, hdr, frame.n_rows):
        frame.check_structure()
    return _checked_rows(frame)


def _small(path: Path, hdr: Header, keep: list[int], text: set[int]) -> Frame | None:
    """A small file read without pandas (:mod:`~mlplab.persist.csvsmall`), or None."""
    if os.path.getsize(path) - hdr.start >= csvsmall.SMALL_BYTES:
        return None
    n = len(hdr.columns)
    got = csvsmall.read_small(path, hdr.start, hdr.line, hdr.sep, n, keep, text, chunk_rows(n))
    if got is None:
        return None
    return _checked_rows(Frame(path, hdr.columns, got[0], hdr.sep, hdr.line, _lines=got[1]))


def read_small_frame(path: Path, sep: str | None, text: Collection[str] = ()) -> Frame | None:
    """:func:`read_frame` of every column of a small file without pandas, or None (then
    :func:`read_frame` or a faster reader of large files reads it with pandas)."""
    if (sep is not None and len(sep) != 1) or os.path.getsize(path) >= csvsmall.SMALL_BYTES:
        return None
    hdr = read_header(path, sep)
    if hdr is None:
        return None
    return _small(
        path,
        hdr,
        list(range(len(hdr.columns))),
        {k for k, c in enumerate(hdr.columns) if c in text},
    )


def _checked_rows(frame: Frame) -> Frame:
    if frame.n_rows == 0:
        if frame._lines is None and not any(a is not None for a in frame.data):
            frame.check_structure()  # no column kept: count the rows
        if frame.n_rows == 0:
            raise CSVError(
                f"{frame.path}: no data rows after the header (line {frame.header_line})"
            )
    return frame


def from_dataframe(df: Any, name: str = "DataFrame") -> Frame:
    """A pandas DataFrame as a Frame: numeric columns float64, the others text."""
    columns = [str(c) for c in df.columns]
    if len(set(columns)) != len(columns):
        raise ValueError(f"{name}: column names must be unique, got {columns}")
    data: list[np.ndarray | None] = []
    for c in df.columns:
        s = df[c]
        if s.dtype.kind in "iufb" and s.dtype.kind != "b":
            data.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            values = s.to_numpy(dtype=object, na_value=None)
            data.append(np.array([None if v is None else str(v) for v in values], dtype=object))
    labels = list(df.index)
    return Frame(name, columns, data, locator=lambda i: f"row {labels[i]!r}")
