"""CSV files in, arrays out: a header row, numeric feature columns, one target column.

Every problem is reported as a :class:`CSVError` naming the file, the line (1-based, the
header is line 1) and the column (by name and 1-based position), e.g.::

    iris.csv, line 7, column 'petal_width' (column 4): 'abc' is not a number

Files must be UTF-8 (a BOM is accepted), comma-separated, with a header row; blank lines
are skipped and fields may be quoted.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
            shown = ", ".join(self.columns[:20]) + (" ..." if len(self.columns) > 20 else "")
            raise CSVError(
                f"{self.path}, line 1: no column {name!r} in the header; columns: {shown}"
            )
        return self.columns.index(name)


def read_table(path: str | os.PathLike[str]) -> Table:
    """Read a CSV file's header and rows (cells as strings), with clear errors."""
    path = Path(path)
    if path.is_dir():
        raise CSVError(f"{path}: is a directory, not a CSV file")
    if not path.exists():
        raise CSVError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, raw, exc) from None
    if not text.strip():
        raise CSVError(f"{path}: the file is empty (expected a header row of column names)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    columns: list[str] | None = None
    try:
        for cells in reader:
            if not cells or (all(not c.strip() for c in cells) and len(cells) <= 1):
                continue  # blank line
            if columns is None:
                columns = [c.strip() for c in cells]
                header_line = reader.line_num
                continue
            if len(cells) != len(columns):
                raise CSVError(
                    f"{path}, line {reader.line_num}: {len(cells)} cells, but the header "
                    f"(line {header_line}) has {len(columns)} columns"
                )
            rows.append(cells)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise CSVError(f"{path}, line {reader.line_num}: malformed CSV: {exc}") from None
    if columns is None:
        raise CSVError(f"{path}: the file is empty (expected a header row of column names)")
    seen: dict[str, int] = {}
    for k, name in enumerate(columns):
        if not name:
            raise CSVError(f"{path}, line {header_line}, column {k + 1}: empty column name")
        if name in seen:
            raise CSVError(
                f"{path}, line {header_line}: column name {name!r} appears twice "
                f"(columns {seen[name] + 1} and {k + 1})"
            )
        seen[name] = k
    if not rows:
        raise CSVError(f"{path}: no data rows after the header (line {header_line})")
    return Table(path, columns, rows, lines)


def _encoding_error(path: Path, raw: bytes, exc: UnicodeDecodeError) -> CSVError:
    line = raw.count(b"\n", 0, exc.start) + 1
    start = raw.rfind(b"\n", 0, exc.start) + 1
    prefix = raw[start : exc.start].decode("utf-8", errors="replace")
    col = prefix.count(",") + 1
    name = ""
    first = raw.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
    header = next(csv.reader([first]), [])
    if line > 1 and col <= len(header):
        name = f" {header[col - 1].strip()!r}"
    bad = raw[exc.start : exc.start + 1].hex()
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


def labels(table: Table, col: int) -> np.ndarray:
    """The class labels of column ``col``: int64 when every cell is an integer, else str."""
    values = [r[col].strip() for r in table.rows]
    for i, v in enumerate(values):
        if not v:
            raise _cell_error(table, i, col, v, "a label")
    try:
        as_float = np.array([float(v) for v in values])
        if np.isfinite(as_float).all() and np.all(as_float == np.round(as_float)):
            return as_float.astype(np.int64)
    except ValueError:
        pass
    return np.array(values, dtype=str)


@dataclass
class TrainingData:
    """What ``mlplab train --data`` needs from a CSV file."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target: str
    task: str
    task_inferred: bool
    classes: np.ndarray | None = None


def read_training_csv(
    path: str | os.PathLike[str], target: str, task: str | None = None
) -> TrainingData:
    """Features, encoded target and label encoding for training.

    Classification targets become indices 0..K−1 into ``classes`` (sorted); the task is
    inferred from the target column when ``task`` is None (see :func:`infer_task`).
    """
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be classification or regression, got {task!r}")
    table = read_table(path)
    t = table.index(target)
    feats = [k for k in range(len(table.columns)) if k != t]
    if not feats:
        raise CSVError(f"{table.path}, line 1: no feature columns besides the target {target!r}")
    X = numeric(table, feats)
    inferred = task is None
    if task is None:
        task = infer_task([r[t] for r in table.rows])
    classes = None
    if task == "classification":
        raw = labels(table, t)
        classes, y = np.unique(raw, return_inverse=True)
        if classes.shape[0] < 2:
            raise CSVError(
                f"{table.where(None, t)}: the target has only one class ({classes[0]!r}); "
                "classification needs at least two"
            )
    else:
        y = numeric(table, [t])[:, 0]
    return TrainingData(X, y, [table.columns[k] for k in feats], target, task, inferred, classes)


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
