"""The exact CSV reader: Python's ``csv`` module, line by line, every cell a string.

It is the reference for what a valid file is and names every problem precisely;
:mod:`mlplab.persist.csvfast` reads large files fast and asks this module where a
problem lies. (``mlplab.persist.csvdata`` is the public face of both.)

Every problem is reported as a :class:`CSVError` naming the file, the line (1-based, the
header is line 1) and the column (by name and 1-based position), e.g.::

    iris.csv, line 7, column 'petal_width' (column 4): 'abc' is not a number

Files must be UTF-8 (a BOM is accepted), comma-separated, with a header row; blank lines
(spaces and tabs only) are skipped and fields may be quoted. A line of only ``""`` is not
blank: it is a row of one empty cell, as pandas reads it and Python's ``csv`` writes it.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlplab._validation import shown

MAX_CLASSES_FOR_INTEGERS = 20
"""Integer targets with at most this many distinct values are taken as class labels."""


class CSVError(ValueError):
    """A CSV file that cannot be used; the message names the file, line and column."""


@dataclass
class Table:
    """A CSV file's header and rows of raw cells, with the file line of every row."""

    path: Path
    columns: list[str]
    rows: list[list[str]] = field(repr=False)
    lines: list[int] = field(repr=False)

    def where(self, row: int | None = None, col: int | None = None) -> str:
        """``"file, line N, column 'name' (column k)"`` for error messages."""
        out = str(self.path)
        if row is not None:
            out += f", line {self.lines[row]}"
        elif col is not None:
            out += ", line 1"
        if col is not None:
            out += f", column {self.columns[col]!r} (column {col + 1})"
        return out

    def index(self, name: str) -> int:
        """Position of column ``name``, or a CSVError listing the columns."""
        if name not in self.columns:
            raise no_column(self.path, name, self.columns)
        return self.columns.index(name)


def one_class_error(where: str, label: Any) -> CSVError:
    """The error of a classification target with a single class ``label`` (a NumPy scalar
    shows as its Python value: ``'k'``, ``3``); ``where`` names the file and column."""
    return CSVError(
        f"{where}: the target has only one class ({shown(label)}); "
        "classification needs at least two"
    )


SEPARATORS = (",", ";", "\t", "|")
"""The separators ``sep=None`` detects, in order of preference."""


def no_column(path: Path | str, name: str, columns: list[str], what: str = "column") -> CSVError:
    """ "no column NAME in the header", with the columns, and a hint when the header looks
    like one column holding several names (a separator other than the one used)."""
    shown = ", ".join(columns[:20]) + (" ..." if len(columns) > 20 else "")
    msg = f"{path}, line 1: no {what} {name!r} in the header; columns: {shown}"
    return CSVError(msg + one_column_hint(columns))


def one_column_hint(columns: list[str]) -> str:
    """ " (the header looks like one column ...: pass --sep ';')" when it does, else ""."""
    found = [s for s in SEPARATORS if len(columns) == 1 and s in columns[0]]
    if not found:
        return ""
    return (
        f" (the header looks like one column holding several names separated by "
        f"{found[0]!r}: pass --sep {found[0]!r})"
    )


def check_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, or a CSVError when it is missing or a directory."""
    path = Path(path)
    if path.is_dir():
        raise CSVError(f"{path}: is a directory, not a CSV file")
    if not path.exists():
        raise CSVError(f"{path}: no such file")
    return path


def blank_record(cells: list[str], line: str | None = None) -> bool:
    """Whether a record is a blank line, skipped as pandas' parser (csvfast) skips it: no
    cell, or one cell of spaces and tabs (a line of "\x0b" is a row) not quoted in
    ``line``, the record's text (None: before the header, where quotes do not matter).
    A line of only ``""`` or ``"  "`` is a row of one empty cell, as pandas reads it (in a
    file of several columns, a row with too few cells)."""
    if not cells:
        return True
    if len(cells) > 1 or cells[0].strip(" \t"):
        return False
    return line is None or (cells[0] != "" and '"' not in line)  # [""]: always quoted


def _cell_count_error(
    path: Path, line: int, cells: list[str], header_line: int, header: list[str]
) -> CSVError:
    """The error of a row whose cell count is not the header's (a line of only ``""``:
    a row of one empty cell, said so)."""
    if len(cells) == 1 and not cells[0].strip(" \t"):
        hint = (
            ' (a line of only "" is a row of one empty cell, not a blank line: delete '
            "the line, or give it a cell for every column)"
        )
    else:
        hint = one_column_hint(header)
    return CSVError(
        f"{path}, line {line}: {len(cells)} cells, but the header (line {header_line}) "
        f"has {len(header)} columns{hint}"
    )


def _remember(lines: Iterator[str], last: list[str]) -> Iterator[str]:
    """``lines``, each kept in ``last[0]`` as it is handed on (the csv module's record
    does not say whether a cell was quoted)."""
    for line in lines:
        last[0] = line
        yield line


def check_names(path: Path, line: int, columns: list[str]) -> None:
    """Refuse empty and repeated column names, except an unnamed first column: the row
    index pandas writes (``df.to_csv(path)``), which is never a feature."""
    seen: dict[str, int] = {}
    for k, name in enumerate(columns):
        if not name and k > 0:
            raise CSVError(f"{path}, line {line}, column {k + 1}: empty column name")
        if name in seen:
            raise CSVError(
                f"{path}, line {line}: column name {name!r} appears twice "
                f"(columns {seen[name] + 1} and {k + 1})"
            )
        seen[name] = k


def iter_records(path: str | os.PathLike[str], sep: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of the header and then of every data row, blank lines skipped.

    The exact reader: Python's ``csv`` module, line by line, with today's precise errors
    (undecodable bytes, malformed quoting, rows whose cell count differs from the
    header's, bad column names). :mod:`mlplab.persist.csvfast` reads fast with pandas and
    comes here to name the line of a problem.
    """
    path = check_file(path)
    header: list[str] | None = None
    header_line = 0
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            last = [""]
            reader = csv.reader(_remember(f, last), delimiter=sep, strict=True)
            try:
                for cells in reader:
                    if blank_record(cells, None if header is None else last[0]):
                        continue  # (before the header, "" too: read_header skips it)
                    if header is None:
                        header, header_line = [c.strip() for c in cells], reader.line_num
                        check_names(path, header_line, header)
                        yield header_line, header
                        continue
                    if len(cells) != len(header):
                        raise _cell_count_error(path, reader.line_num, cells, header_line, header)
                    yield reader.line_num, cells
            except csv.Error as exc:
                raise CSVError(f"{path}, line {reader.line_num}: malformed CSV: {exc}") from None
    except UnicodeDecodeError:
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")  # positions in raw (a BOM decodes as U+FEFF)
        except UnicodeDecodeError as exc:
            raise _encoding_error(path, raw, exc, sep) from None
        raise  # pragma: no cover - a decoding error the whole file does not have
    if header is None:
        raise CSVError(f"{path}: the file is empty (expected a header row of column names)")


def read_table(path: str | os.PathLike[str], sep: str = ",") -> Table:
    """Read a CSV file's header and rows (cells as strings), with clear errors."""
    path = check_file(path)
    records = iter_records(path, sep)
    header_line, columns = next(records)
    rows: list[list[str]] = []
    lines: list[int] = []
    for line, cells in records:
        rows.append(cells)
        lines.append(line)
    if not rows:
        raise CSVError(f"{path}: no data rows after the header (line {header_line})")
    return Table(path, columns, rows, lines)


def locate(
    path: str | os.PathLike[str], sep: str, rows: int | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """The file line of every data row (as int64), and the cells of data row ``rows``
    (None when not asked): one pass of the exact reader, which raises on a bad structure."""
    lines: list[int] = []
    wanted = None
    records = iter_records(path, sep)
    next(records)
    for i, (line, cells) in enumerate(records):
        lines.append(line)
        if i == rows:
            wanted = cells
    return np.asarray(lines, dtype=np.int64), wanted


def _encoding_error(path: Path, raw: bytes, exc: UnicodeDecodeError, sep: str = ",") -> CSVError:
    pos = exc.start
    line = raw.count(b"\n", 0, pos) + 1
    start = raw.rfind(b"\n", 0, pos) + 1
    prefix = raw[start:pos].decode("utf-8", errors="replace")
    col = prefix.count(sep) + 1
    name = ""
    first = raw.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
    try:
        header = next(csv.reader([first], delimiter=sep), [])
    except csv.Error:  # e.g. a lone carriage return inside the header: no column name then
        header = []
    if line > 1 and col <= len(header):
        name = f" {header[col - 1].strip()!r}"
    bad = raw[pos : pos + 1].hex()
    return CSVError(
        f"{path}, line {line}, column{name} (column {col}): byte 0x{bad} is not valid UTF-8; "
        "save the file with UTF-8 encoding"
    )


def _cell_error(table: Table, row: int, col: int, cell: str, what: str) -> CSVError:
    if not cell.strip():
        return CSVError(f"{table.where(row, col)}: empty cell (a missing value); fill or drop it")
    return CSVError(f"{table.where(row, col)}: {cell.strip()!r} is not {what}")


def numeric(table: Table, cols: list[int]) -> np.ndarray:
    """Columns ``cols`` as a float64 matrix (n_rows, len(cols)); every cell a finite number."""
    cells = np.array([[r[c] for c in cols] for r in table.rows], dtype=str).reshape(
        len(table.rows), len(cols)
    )
    try:
        X = np.char.strip(cells).astype(np.float64)
    except ValueError:
        X = None
    if X is None or not np.isfinite(X).all():
        # Slow path, only for a bad file: find the first offending cell, row by row.
        for i, r in enumerate(table.rows):
            for c in cols:
                try:
                    value = float(r[c])
                except ValueError:
                    raise _cell_error(table, i, c, r[c], "a number") from None
                if not np.isfinite(value):
                    raise _cell_error(table, i, c, r[c], "a finite number")
        raise CSVError(f"{table.path}: could not read the numbers")  # pragma: no cover
    return X


def infer_task(values: list[str]) -> str:
    """``"classification"`` for text labels or few distinct integers, else ``"regression"``."""
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        return "classification"
    if not np.isfinite(numbers).all():
        return "regression"
    if np.all(numbers == np.round(numbers)) and np.unique(numbers).size <= MAX_CLASSES_FOR_INTEGERS:
        return "classification"
    return "regression"


MAX_INTEGER_LABEL = 2**53
"""Whole-number labels up to this size (float64 holds them exactly) are int64 classes;
larger ones (``1e30``) stay text, so that two of them never collapse into one class."""


def integer_labels(values: np.ndarray) -> bool:
    """Whether float64 ``values`` are all whole numbers of at most :data:`MAX_INTEGER_LABEL`
    in size, so that ``values.astype(np.int64)`` keeps every one of them exactly."""
    small = np.all(np.abs(values) <= MAX_INTEGER_LABEL)  # False for NaN and infinities
    return bool(small and np.all(values == np.round(values)))


def labels(table: Table, col: int) -> np.ndarray:
    """The class labels of column ``col``: int64 when every cell is an integer (of at most
    :data:`MAX_INTEGER_LABEL` in size), else str."""
    values = [r[col].strip() for r in table.rows]
    for i, v in enumerate(values):
        if not v:
            raise _cell_error(table, i, col, v, "a label")
    try:
        as_float = np.array([float(v) for v in values])
        if integer_labels(as_float):
            return as_float.astype(np.int64)
    except ValueError:
        pass
    return np.array(values, dtype=str)


def read_features(
    path: str | os.PathLike[str],
    feature_names: list[str] | None,
    n_features: int,
    target: str | None = None,
) -> tuple[Table, np.ndarray]:
    """The model's feature columns of a CSV file, in the model's order.

    With ``feature_names`` every one must be present and no other column may appear
    (besides ``target``); without, every column except ``target`` is a feature and
    their number must be ``n_features``.
    """
    table = read_table(path)
    skip = {target} if target is not None else set()
    if feature_names:
        missing = [f for f in feature_names if f not in table.columns]
        if missing:
            raise CSVError(
                f"{table.path}, line 1: the model's feature {missing[0]!r} is missing "
                f"(the model was trained on: {', '.join(feature_names)})"
            )
        for k, name in enumerate(table.columns):
            if name not in feature_names and name not in skip:
                raise CSVError(
                    f"{table.where(None, k)}: not one of the model's features "
                    f"({', '.join(feature_names)})"
                )
        cols = [table.columns.index(f) for f in feature_names]
    else:
        cols = [k for k, name in enumerate(table.columns) if name not in skip]
        if len(cols) != n_features:
            raise CSVError(
                f"{table.path}, line 1: {len(cols)} feature columns, but the model expects "
                f"n[0]={n_features}"
            )
    return table, numeric(table, cols)


def match_labels(table: Table, col: int, classes: np.ndarray) -> np.ndarray:
    """Indices into ``classes`` of the labels in column ``col`` (errors name the line)."""
    numeric_classes = classes.dtype.kind in "iufb"
    lookup = {str(c) if not numeric_classes else float(c): k for k, c in enumerate(classes)}
    out = np.empty(len(table.rows), dtype=np.int64)
    for i, r in enumerate(table.rows):
        cell = r[col].strip()
        key: Any = cell
        if numeric_classes:
            try:
                key = float(cell)
            except ValueError:
                key = None
        if key not in lookup:
            shown = ", ".join(str(c) for c in classes[:20])
            raise CSVError(
                f"{table.where(i, col)}: label {cell!r} is not one of the model's classes ({shown})"
            )
        out[i] = lookup[key]
    return out
