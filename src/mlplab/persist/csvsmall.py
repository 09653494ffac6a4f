"""Small CSV files without pandas: the stdlib ``csv`` module and Python's ``float``.

Importing pandas takes 0.2–0.5 s on a 2-core machine, as long as reading and training on
a small file. :func:`read_small` reads the rows after the header of a file below
:data:`SMALL_BYTES` into exactly the columns that pandas' C parser gives
:mod:`mlplab.persist.csvfast` — the same dtypes, values, bits and empty cells, column by
column and chunk by chunk (a chunk is typed on its own, as pandas types it) — or returns
None, and the file is read by pandas as before. So the errors, warnings and messages of a
file are those of the pandas route whichever route reads it.

It returns None (pandas decides) for anything where the two might differ:

* a byte that is not UTF-8, a NUL, a bare carriage return, a ``"`` anywhere after the
  header (pandas' and Python's quoting rules differ at the edges), a line of only spaces
  or tabs, a row whose cell count is not the header's, no data rows;
* a column chunk that is neither all numbers this module converts exactly nor text for
  certain (it holds a cell that is not one of the numbers below, such as ``1e400``,
  ``1.5 `` with a space, ``inf``, ``True``, or more than 15 digits).

**Numbers.** A cell is converted here only when it is ``[+-]``, digits with at most one
``.`` (15 characters at most, so at most 15 digits: the integer N of its digits is exact in
a float64), then an optional exponent, such that the value is N·10^k with |k| ≤ 22 (10^k
exact too). Then pandas' converter (the fast path of its ``precise_xstrtod``: N times or
divided by 10^k, one rounding; or its correctly rounded ``fast_float``) and Python's
``float`` (correctly rounded) give the same float64, bit for bit. Outside this set they
may differ (pandas' older converter rounds 17 and more digits, subnormals and huge
exponents differently), so such a cell sends a numeric column to pandas. A chunk of whole
numbers is pandas' ``int64`` (``-0`` becomes ``0.0``, not ``-0.0``); any other all-number
chunk is ``float64``. An empty cell is NaN.

**Text.** A chunk with a cell that neither parser reads as a number (no ASCII digit
sequence in number form, not ``inf``/``infinity``/``true``/``false`` in any case) is
text, every cell as it is (``None`` where empty), as pandas keeps it.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

import numpy as np

SMALL_BYTES = 2 * 2**20
"""Files below this size (bytes after the header) are read without pandas when they can
be. Measured (fresh processes, ``mlplab.read_csv`` of a file of 31 numeric columns,
2-core Xeon): stdlib / pandas route 0.19 / 0.37 s at 0.26 MiB, 0.30 / 0.41 s at 2.1 MiB,
0.59 / 0.49 s at 4.4 MiB (``benchmarks/RESULTS.md``, 2026-12-06 16:44)."""

_WS = " \t\n\x0b\x0c\r"  # what pandas' parser skips around a number (isspace_ascii)
_NOT_SHORT_NUMBERS = re.compile(r"[^0-9.+\-eE\n]|[^\n]{16}")
"""In a chunk's cells joined by newlines: a character no number here has, or a cell of 16
characters or more."""
_MAYBE_NUMBER = re.compile(
    rf"[{_WS}]*[+-]?(?:[0-9.]*[0-9][0-9.]*(?:[eE][+-]?[0-9]*)?|inf|infinity|true|false)[{_WS}]*",
    re.IGNORECASE,
)
"""A cell one of the parsers might read as a number or a boolean (a superset)."""
_NAN = float("nan")


def _scale_ok(cell: str) -> bool:
    """Whether a number cell's value is N·10^k with |k| ≤ 22 (N its digits)."""
    mantissa, _, exponent = cell.lower().partition("e")
    if not exponent:
        return True  # at most 14 decimals: k >= -14
    return -22 <= int(exponent) - len(mantissa.partition(".")[2]) <= 22


def _numbers(cells: list[str]) -> np.ndarray | None:
    """The chunk as float64 when every cell is empty or a number of at most 15 characters
    (so at most 15 digits; Python's ``float`` accepts no other text of these characters
    than ``[+-]digits[.digits][e[+-]digits]``) of scale |k| ≤ 22; None otherwise."""
    joined = "\n".join(cells)
    if _NOT_SHORT_NUMBERS.search(joined):
        return None
    try:
        if "" in cells:
            values = np.array([_NAN if c == "" else float(c) for c in cells])
        else:
            values = np.array(list(map(float, cells)), dtype=np.float64)
    except ValueError:  # e.g. "1-2", "1e": text for both
        return None
    if "." not in joined and "e" not in joined and "E" not in joined:
        return values + 0.0  # whole numbers: pandas' int64, so -0 is 0.0 (exact below 2**53)
    if ("e" in joined or "E" in joined) and not all(map(_scale_ok, cells)):
        return None  # not text: the caller returns None for the whole file
    return values


def _chunk(cells: list[str], as_text: bool) -> np.ndarray | None:
    """One chunk of one column as pandas' parser and ``csvfast._piece`` give it: float64
    (NaN where empty) or an object array of the cells (None where empty); None when this
    module cannot be sure (see the module docstring)."""
    if not as_text:
        numbers = _numbers(cells)
        if numbers is not None:
            return numbers
        distinct = set(cells)
        distinct.discard("")
        if all(_MAYBE_NUMBER.fullmatch(c) for c in distinct):
            return None  # numbers not converted here, inf, booleans: pandas decides
    out = np.empty(len(cells), dtype=object)
    out[:] = [None if c == "" else c for c in cells]
    return out


def _rows(text: str, sep: str, n_columns: int) -> tuple[list[list[str]], list[int]] | None:
    """The data rows and their line numbers (counted from the header's last line); None
    where pandas must decide."""
    rows: list[list[str]] = []
    lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    try:
        for cells in reader:
            if not cells:
                continue  # an empty line: skipped by both
            if len(cells) != n_columns or (len(cells) == 1 and not cells[0].strip(_WS)):
                return None  # a short or long row, a line of blanks: pandas decides
            rows.append(cells)
            lines.append(reader.line_num)
    except csv.Error:  # a NUL, a field over the csv module's size limit
        return None
    return rows, lines


def read_small(
    path: Path, start: int, header_line: int, sep: str, n_columns: int, keep: list[int],
    text: set[int], chunk_rows: int,
) -> tuple[list[np.ndarray | None], np.ndarray] | None:  # fmt: skip
    """The kept columns of the data after byte ``start`` and the file line of every row,
    as :func:`~mlplab.persist.csvfast.read_frame` reads them with pandas (chunks of
    ``chunk_rows`` rows typed one by one); None where pandas must read the file.

    ``keep``: the column positions to return (the others are None); ``text``: those to
    keep as text even when they hold numbers.
    """
    with open(path, "rb") as f:
        f.seek(start)
        raw = f.read()
    if b'"' in raw or raw.count(b"\r") != raw.count(b"\r\n"):
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    found = _rows(decoded, sep, n_columns)
    if found is None or not found[0]:
        return None
    rows, lines = found
    data: list[np.ndarray | None] = [None] * n_columns
    columns = list(zip(*rows, strict=True))
    for k in keep:
        column = list(columns[k])
        pieces = []
        for lo in range(0, len(column), chunk_rows):
            piece = _chunk(column[lo : lo + chunk_rows], k in text)
            if piece is None:
                return None
            pieces.append(piece)
        data[k] = _joined(pieces)
    return data, np.asarray(lines, dtype=np.int64) + header_line


def _joined(pieces: list[np.ndarray]) -> np.ndarray:
    """``csvfast._join``: float64 when every chunk is numbers, else one object array."""
    if all(p.dtype == np.float64 for p in pieces):
        return np.concatenate(pieces)
    return np.concatenate([p.astype(object) for p in pieces])


FACTORIZE_ROWS = 1 << 16
"""Rows :func:`factorize` gives pandas at a time."""


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pandas.factorize(values, use_na_sentinel=True)`` of an object array of str,
    floats and None: (codes, uniques), codes (n,) intp in order of first appearance, −1
    for None and NaN; ``uniques`` an object array. pandas' (hashing in C) once pandas is
    imported, else :func:`factorize_py` (the same result: tests/test_csv_small.py).

    pandas sizes its hash table for every value it is given (about 40 bytes a row, a
    whole column of them), so a long column goes through it :data:`FACTORIZE_ROWS` at a
    time, each block's uniques merged in order of first appearance: the same result.
    """
    if "pandas" not in sys.modules:
        return factorize_py(values)
    import pandas as pd

    if len(values) <= FACTORIZE_ROWS:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        return codes, uniques
    index: dict[object, int] = {}
    codes = np.empty(len(values), dtype=np.intp)
    for s in range(0, len(values), FACTORIZE_ROWS):
        block, uniq = pd.factorize(values[s : s + FACTORIZE_ROWS], use_na_sentinel=True)
        lut = np.array([index.setdefault(u, len(index)) for u in uniq.tolist()] + [-1])
        codes[s : s + block.shape[0]] = lut[block]  # (−1: the last entry, −1)
    uniques = np.empty(len(index), dtype=object)
    uniques[:] = list(index)
    return codes, uniques


def factorize_py(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`factorize` in Python: one dict, each value hashed once."""
    index: dict[object, int] = {}
    codes = np.empty(len(values), dtype=np.intp)
    for i, v in enumerate(values.tolist()):
        if v is None or v != v:
            codes[i] = -1
        else:
            codes[i] = index.setdefault(v, len(index))
    uniques = np.empty(len(index), dtype=object)
    uniques[:] = list(index)
    return codes, uniques
