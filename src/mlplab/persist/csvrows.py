"""Byte ranges of a CSV file, parsed straight into one float matrix.

Two readers keep their numbers small this way: an MPI rank's part of a file
(:mod:`mlplab.persist.csvshard`), and a training file in one process
(:func:`read_for_plan`, the path of :func:`~mlplab.persist.csvdata.training_data`). The
feature columns are known from the header alone (the table plan's columns:
``--features``, ``--drop``, the target and id column left out), so the float64 matrix
``M`` of (rows, features) is known before parsing. pandas parses a range in chunks (the
options of :mod:`mlplab.persist.csvfast`); each chunk's feature columns of numbers are
written into their rows of ``M`` and the chunk is freed. A rank allocates ``M`` with
rows an upper bound (the range's newlines; pages of rows never written are never
touched); threads, whose ranges' row counts are not known before they are read, write
one block of rows per chunk (:class:`Blocks`, filled while the chunk is in cache),
copied in order into ``M`` once all are read (:func:`joined`). Then ``M`` is the codes
matrix of :meth:`~mlplab.persist.tableplan.TablePlan.codes` (:func:`encode` writes the
category indices and the numbers read as text into their columns, and checks nothing
when every block was numbers, all finite): the numbers exist once, as the float64 the
network needs, never as pandas columns, their concatenation and an encoded copy.

The other kept columns (the target of one process; a feature column that is text in
some chunk) are arrays as :mod:`~mlplab.persist.csvfast` makes them; a rank's target is
encoded chunk by chunk instead (:class:`TextCodes`: one small integer a row and a table
of its distinct texts, never a column of Python strings). The frame's columns of numbers are
views of ``M``'s columns, so every check and message of the plan works unchanged.
:func:`keep_rows` drops rows in place.

A rank of the sharded route gives :func:`read_into` a ``sink``
(:class:`~mlplab.persist.csvspill.RowsFile`): each chunk's rows go there instead of into
``M``, and :meth:`Parsed.settle` keeps them there when every cell of numbers was finite,
or empty under a ``--missing`` policy that fills or drops (the frame's columns of numbers
are then stand-ins of their length, holding nothing; a column with text is its numbers
read back from the file and its text cells; :func:`encode_on_disk` writes the codes of
categories into the file), else reads them back into ``M``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from mlplab.persist import csvfast
from mlplab.persist.cells import raise_first, text_of
from mlplab.persist.csvexact import CSVError
from mlplab.persist.csvfast import (
    DECODE_ERRORS,
    Frame,
    _checked_rows,
    _has_empty,
    _join,
    _may_have_short_rows,
    _piece,
    _Range,
    range_chunks,
)
from mlplab.persist.csvheader import Header, cut_points, newline_cuts, read_header
from mlplab.persist.csvspill import RowsFile
from mlplab.persist.tableplan import TablePlan

BLOCK_ROWS = 65536
"""Rows moved at a time when rows are dropped in place."""


def _newlines(path: Path, start: int, end: int) -> int:
    """The number of ``\\n`` in bytes start..end: with one, an upper bound on the rows."""
    n, left = 0, end - start
    with open(path, "rb") as f:
        f.seek(start)
        while left > 0 and (block := f.read(min(left, 8 * 2**20))):
            n += block.count(b"\n")
            left -= len(block)
    return n


class TextCodes:
    """A column encoded chunk by chunk as pandas parses it, so that no column of Python
    strings exists whole: per chunk, its float64 numbers as they are, or for text one
    small integer a row indexing :attr:`texts` (each distinct text stripped, once; an
    empty cell is ``""``), the chunk's own codes (``pandas.factorize``) remapped into the
    growing table."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.text: list[bool] = []  # per part: codes (True) or float64 numbers
        self.index: dict[str, int] = {}  # text → code

    def add(self, piece: np.ndarray) -> None:
        """One chunk's cells (:func:`~mlplab.persist.csvfast._piece`)."""
        import pandas as pd

        if piece.dtype == np.float64:
            self.parts.append(piece)
            self.text.append(False)
            return
        codes, uniq = pd.factorize(piece, use_na_sentinel=True)  # an empty cell: −1
        self.parts.append(self.remap(codes, [text_of(u) for u in uniq]))
        self.text.append(True)

    def remap(self, codes: np.ndarray, texts: list[str]) -> np.ndarray:
        """Codes into ``texts + [""]`` (−1: the ``""``) as codes into :attr:`texts`, in
        the smallest unsigned type that holds the table so far."""
        lut = [self.index.setdefault(t, len(self.index)) for t in [*texts, ""]]
        small = np.min_scalar_type(len(self.index) - 1)
        out: np.ndarray = np.asarray(lut, dtype=small)[codes]
        return out

    @property
    def texts(self) -> np.ndarray:
        """The table: ``texts[code]`` is a cell's stripped text (object array)."""
        return np.array(list(self.index), dtype=object)

    def numbers(self) -> np.ndarray:
        """The column when every part is numbers (float64)."""
        return np.concatenate(self.parts) if self.parts else np.empty(0)

    def codes(self, text_of: Callable[[float], str]) -> tuple[np.ndarray, np.ndarray]:
        """(codes, table) of every part, numbers as ``text_of`` writes them; the parts
        are freed as they are joined."""
        for i, part in enumerate(self.parts):
            if not self.text[i]:
                uniq, inverse = np.unique(part, return_inverse=True)
                self.parts[i] = self.remap(inverse, [text_of(v) for v in uniq.tolist()])
                self.text[i] = True
        small = np.min_scalar_type(max(len(self.index) - 1, 0))
        out = np.empty(sum(p.shape[0] for p in self.parts), dtype=small)
        at = 0
        self.parts.reverse()
        while self.parts:
            part = self.parts.pop()
            out[at : at + part.shape[0]] = part
            at += part.shape[0]
        return out, self.texts


class Parsed:
    """A range's columns: ``M`` (upper bound rows, features), the other kept columns'
    pieces (``pieces[k]``: (first row, array) per chunk) and the columns encoded as
    they are parsed (``coded[k]``: :class:`TextCodes`)."""

    def __init__(
        self,
        rows: int,
        slots: dict[int, int],
        keep: Collection[int],
        coded: Collection[int] = (),
        sink: RowsFile | None = None,
        empty_ok: bool = False,
    ) -> None:
        self.sink, self.empty_ok = sink, empty_ok
        """Where the rows of M go as they are parsed, when not into M (:meth:`settle`); and
        whether empty cells (NaN) may stay there (a ``--missing`` policy that fills or drops)."""
        self.M = np.empty((0 if sink is not None else rows, len(slots)))
        self.slots = slots  # file column → column of M
        self.coded = {k: TextCodes() for k in coded}
        self.pieces: dict[int, list[tuple[int, np.ndarray]]] = {
            k: [] for k in keep if k not in self.coded
        }
        self.n = 0
        self.last_empty = False
        self.finite = True
        """Whether every feature cell was a finite number (then :func:`encode` checks nothing)."""
        self.numbers_finite = True
        """Whether every cell of a chunk's columns of numbers was finite (text cells aside)."""
        self.no_inf = True
        """Whether no cell of a chunk's columns of numbers was infinite (text cells aside)."""
        self.has_number = np.zeros(len(slots), dtype=bool)
        """Per column of M: whether a cell held a number (its stand-in, :meth:`column`)."""

    def _rows(self, m: int) -> np.ndarray:
        """Where the next chunk's m rows of features go."""
        if self.sink is not None:  # a chunk's rows, written to the sink once filled
            return np.empty((m, len(self.slots)))
        return self.M[self.n : self.n + m]

    def settle(self) -> None:
        """With a sink: keep the rows there if :meth:`on_disk` (the codes matrix is then
        the rows as parsed, with the codes of categories written in by
        :func:`encode_on_disk`), else read them back into M (infinities, empty cells under
        ``--missing error``: encoded, or named, in memory) and drop the sink."""
        if self.sink is None or self.on_disk():
            return
        self.M = np.empty((self.n, len(self.slots)))
        self.sink.read_into(0, self.M)
        self.sink.close()
        self.sink = None

    def on_disk(self) -> bool:
        """Whether the rows stay on disk: a sink, and every cell of numbers finite (or empty,
        when :attr:`empty_ok`). Columns with text in a chunk hold NaN there on disk, their
        text cells aside (:attr:`pieces`): :func:`encode_on_disk` writes their codes."""
        numbers = self.numbers_finite or (self.empty_ok and self.no_inf)
        return self.sink is not None and numbers

    def add(self, chunk: dict[int, Any], n_columns: int) -> None:
        m = len(chunk[0])
        rows, text = self._rows(m), []
        for k, j in self.slots.items():
            piece = _piece(chunk[k])
            if piece.dtype == np.float64:
                rows[:, j] = piece
            else:  # text in this chunk: kept aside (a mixed column, or categories)
                self.pieces.setdefault(k, []).append((self.n, piece))
                rows[:, j] = np.nan  # its place, until encoded
                text.append(j)
        for k in self.pieces.keys() - self.slots.keys():
            self.pieces[k].append((self.n, _piece(chunk[k])))
        for k, coded in self.coded.items():
            coded.add(_piece(chunk[k]))
        self.last_empty |= _has_empty(chunk[n_columns - 1])
        nums = np.delete(rows, text, axis=1) if text else rows  # the cells of numbers
        finite = bool(np.isfinite(nums).all())  # (in cache)
        self.finite = self.finite and not text and finite
        self.numbers_finite = self.numbers_finite and finite
        self.no_inf = self.no_inf and (finite or not bool(np.isinf(nums).any()))
        if m and not self.has_number.all():
            self.has_number |= True if finite else ~np.isnan(rows).all(axis=0)
        if self.sink is not None:
            self.sink.append(rows)
        self.n += m

    def column(self, k: int) -> np.ndarray:
        """Column k of the range: a view of M, or an array of its pieces."""
        j, parts = self.slots.get(k), self.pieces.get(k, [])
        if j is not None and not parts and self.on_disk():  # on disk: n stand-ins, none
            held = 0.0 if self.has_number[j] else np.nan  # held; a number where one was
            return np.broadcast_to(np.float64(held), (self.n,))
        if j is not None and not parts:
            return self.M[: self.n, j]
        if j is None:
            return _join([p for _, p in parts])
        if sum(len(p) for _, p in parts) == self.n:  # text in every chunk
            return _join([p for _, p in parts])
        x = self.sink.column(j) if self.sink is not None else self.M[: self.n, j]
        out: list[np.ndarray] = []  # the column's numbers between the text pieces, the piece
        at = 0
        for r, p in parts:
            out += [x[at:r], p] if r > at else [p]
            at = r + len(p)
        out += [x[at : self.n]] if at < self.n else []
        return _join(out)


P = TypeVar("P", bound=Parsed)


def read_into(
    path: Path, start: int, end: int, hdr: Header, features: list[int], keep: list[int],
    text: Collection[int], coded: Collection[int] = (), sink: RowsFile | None = None,
    empty_ok: bool = False,
) -> tuple[Parsed, int, Exception | None]:  # fmt: skip
    """Parse bytes start..end: ``features`` (file columns, in the plan's order) into M
    (or, with ``sink``, into that file chunk by chunk: :meth:`Parsed.settle`), the other
    ``keep`` columns aside, those of them in ``coded`` encoded chunk by chunk
    (:class:`TextCodes`); the number of quotes read and pandas' error."""
    rows = 0 if sink is not None or end <= start else _newlines(path, start, end) + 1
    out = Parsed(rows, {k: j for j, k in enumerate(features)}, keep, coded, sink, empty_ok)
    return _parse(out, path, start, end, hdr, text)


def _parse(
    out: P, path: Path, start: int, end: int, hdr: Header, text: Collection[int]
) -> tuple[P, int, Exception | None]:
    import pandas as pd

    if end <= start:
        return out, 0, None
    raw = _Range(path, start, end)
    try:
        for chunk in range_chunks(raw, hdr, text):
            out.add(chunk, len(hdr.columns))
    except (pd.errors.ParserError, pd.errors.ParserWarning, *DECODE_ERRORS) as exc:
        return out, raw.quotes, exc
    return out, raw.quotes, None


class Blocks(Parsed):
    """A range parsed into one block of rows per chunk (its row count is not known before
    the range is read): :func:`joined` copies the blocks of all ranges into one ``M``."""

    def __init__(self, slots: dict[int, int], keep: Collection[int]) -> None:
        super().__init__(0, slots, keep)
        self.blocks: list[np.ndarray] = []

    def _rows(self, m: int) -> np.ndarray:
        self.blocks.append(np.empty((m, len(self.slots))))
        return self.blocks[-1]


def joined(parts: list[Blocks]) -> Parsed:
    """The ranges, in order, as one :class:`Parsed`: each block is freed once copied into
    ``M`` (whose pages are touched only as they are written), so the numbers are held
    about once, not twice."""
    out = Parsed(sum(p.n for p in parts), parts[0].slots, [])
    out.pieces = {}
    for p in parts:
        for k, pieces in p.pieces.items():
            out.pieces.setdefault(k, []).extend((out.n + r, a) for r, a in pieces)
        p.blocks.reverse()
        while p.blocks:
            block = p.blocks.pop()
            out.M[out.n : out.n + len(block)] = block
            out.n += len(block)
        out.last_empty |= p.last_empty
        out.finite = out.finite and p.finite
    return out


def read_ranges(
    path: Path, hdr: Header, features: list[int], keep: list[int], text: Collection[int],
    workers: int,
) -> Parsed:  # fmt: skip
    """The rows after the header, cut into ``workers`` byte ranges parsed in as many
    threads (pandas' parser releases the GIL), joined (:func:`joined`); pandas' error
    raised as such (the caller lets the exact reader name the problem)."""
    slots = {k: j for j, k in enumerate(features)}

    def one(r: tuple[int, int]) -> tuple[Blocks, int, Exception | None]:
        return _parse(Blocks(slots, keep), path, r[0], r[1], hdr, text)

    def parse(cuts: list[int]) -> list[tuple[Blocks, int, Exception | None]]:
        ranges = list(itertools.pairwise(cuts))
        if len(ranges) == 1:
            return [one(ranges[0])]
        with ThreadPoolExecutor(len(ranges)) as pool:
            return list(pool.map(one, ranges))

    results = parse(newline_cuts(path, hdr.start, workers))
    if any(q % 2 for q in itertools.accumulate(r[1] for r in results[:-1])):
        results = []  # a cut fell inside a quoted field: cut where the quotes say, again
        results = parse(cut_points(path, hdr.start, workers))
    for _, _, error in results:
        if error is not None:
            raise error
    return joined([r[0] for r in results])


def read_for_plan(
    path: Path, sep: str | None, target: str, text: Collection[str], options: dict[str, Any]
) -> tuple[Frame, Parsed] | None:
    """A training file for :func:`~mlplab.persist.csvdata.training_data`, fast: the plan's
    feature columns (known from the header alone) parsed by threads straight into one
    float matrix, the target beside (the id column and other columns are not kept).

    None where :func:`~mlplab.persist.csvfast.read_frame` must read the file instead:
    a header the exact reader must read, an option the header refutes, a file pandas
    cannot parse (they then raise their errors, in their order, or read the file).
    """
    import pandas as pd

    hdr = None if sep is not None and len(sep) != 1 else read_header(path, sep)
    if hdr is None:
        return None
    empty = Frame(path, hdr.columns, [np.empty(0)] * len(hdr.columns), hdr.sep, hdr.line)
    try:
        empty.index(target)
        names = TablePlan.choose(empty, target, **options).features
    except (CSVError, ValueError):
        return None
    features = [hdr.columns.index(n) for n in names]
    text_idx = {k for k, c in enumerate(hdr.columns) if c in set(text)}
    workers = csvfast._workers(os.path.getsize(path) - hdr.start)  # (tests patch it there)
    keep = [hdr.columns.index(target)]
    try:
        parsed = read_ranges(path, hdr, features, keep, text_idx, workers)
    except (pd.errors.ParserError, pd.errors.ParserWarning, *DECODE_ERRORS):
        return None
    frame = frame_of(parsed, path, hdr)
    if parsed.last_empty and _may_have_short_rows(path, hdr, parsed.n):
        frame.check_structure()
    return _checked_rows(frame), parsed


def frame_of(parsed: Parsed, path: Path, hdr: Header) -> Frame:
    """The range as a :class:`Frame`: its kept columns (numbers: views of ``M``)."""
    data: list[np.ndarray | None] = [None] * len(hdr.columns)
    for k in parsed.slots.keys() | parsed.pieces.keys():
        data[k] = parsed.column(k)
    return Frame(path, hdr.columns, data, hdr.sep, hdr.line)


def encode(plan: TablePlan, frame: Frame, parsed: Parsed, allow_missing: bool) -> np.ndarray:
    """:meth:`TablePlan.codes` of the frame, written into ``M``: the codes matrix
    (n_rows, n_features) is ``M``'s first rows, with the same errors as ``codes``."""
    problems: list[tuple[int, int, Any]] = []
    M = parsed.M[: parsed.n]
    checked = parsed.finite and all(c.kind == "number" for c in plan.columns)
    for j, c in enumerate([] if checked else plan.columns):  # else: nothing to report
        k = frame.index(c.name, "model's feature")
        if parsed.slots.get(k) != j:  # pragma: no cover - read_into's order is the plan's
            raise RuntimeError(f"column {c.name!r} was not read into place")
        x = plan.column_codes(frame, k, c, allow_missing, problems)
        if not np.shares_memory(x, M):  # codes of text, or numbers read as text
            M[:, j] = x
    raise_first(frame, problems)
    for c in plan.columns:
        frame.data[frame.index(c.name)] = None  # M holds them now
    return M


def encode_on_disk(plan: TablePlan, frame: Frame, parsed: Parsed, allow_missing: bool) -> None:
    """:func:`encode` for rows left on disk (:meth:`Parsed.on_disk`): a column of numbers
    parsed as numbers in every chunk is already codes there (finite, or empty under a
    policy that fills or drops); every other column (categories; numbers read as text in
    a chunk, such as ``" 7 "``) is coded from the frame's column and written into its
    place in the file, with ``encode``'s errors."""
    sink = parsed.sink
    assert sink is not None  # (settled: on disk)
    problems: list[tuple[int, int, Any]] = []
    columns = {}
    for j, c in enumerate(plan.columns):
        k = frame.index(c.name, "model's feature")
        if c.kind != "number" or k in parsed.pieces:  # else: on disk as parsed
            columns[j] = plan.column_codes(frame, k, c, allow_missing, problems)
    raise_first(frame, problems)
    sink.set_columns(columns)
    for c in plan.columns:
        frame.data[frame.index(c.name)] = None  # the file holds them now
        parsed.pieces.pop(frame.index(c.name), None)  # (their text cells)


def keep_rows(R: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``R[keep]`` in place (rows move forward, a block at a time): a view of R's rows."""
    if keep.all():
        return R
    at = 0
    for s in range(0, R.shape[0], BLOCK_ROWS):
        rows = s + np.flatnonzero(keep[s : s + BLOCK_ROWS])
        R[at : at + rows.shape[0]] = R[rows]  # a copy of the block first: at <= s
        at += rows.shape[0]
    return R[:at]
