"""A table's cells as the plan reads them: text, numbers, and the errors naming a cell.

pandas gives a column as float64 (every cell a number or empty) or as an object array of
texts; a column of categories, a target of labels and a column of numbers read as text
all go through the same steps here: each distinct value converted once
(:func:`text_codes`: ``table[codes]``), rows looked up in NumPy. :func:`numbers` reads a
column as float64 and finds its first cell that is not a finite number;
:func:`number_error` and :func:`empty_error` name a cell's file line and column, and
:func:`raise_first` raises the first problem of a table, row by row, as one process finds
it (:class:`~mlplab.persist.tableplan.TablePlan`, the sharded route of
:mod:`mlplab.persist.csvshard`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlplab.persist.csvexact import CSVError
from mlplab.persist.csvfast import Frame
from mlplab.persist.csvsmall import factorize

__all__ = [
    "empty_error", "number_error", "number_text", "numbers", "parse_number",
    "raise_first", "text_codes", "text_of", "text_table",
]  # fmt: skip


def text_of(v: Any) -> str:
    if isinstance(v, str):
        return v.strip()
    return "" if v is None or v != v else repr(float(v))  # v != v: NaN, an empty cell


def parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def number_text(v: float) -> str:
    if math.isnan(v):
        return ""
    return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)


def text_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, table) of an object column: ``table[codes]`` is :func:`strings` of it.

    ``codes`` (n,) int indexes ``table``, the stripped text of each distinct value with
    ``""`` last (an empty cell is code −1, that last entry). Each distinct value is
    converted once (pandas hashes them in C): text columns repeat, so work per row stays
    in NumPy.
    """
    codes, uniq = factorize(values)
    return codes, np.array([text_of(u) for u in uniq] + [""], dtype=object)


def text_table(frame: Frame, col: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes, table): the text of column ``col`` as a column of categories is
    ``table[codes]`` (numbers as a CSV file writes them), each distinct value converted
    once."""
    values = frame.data[col]
    assert values is not None
    if values.dtype == np.float64:  # integers as a CSV file writes them: 10, not 10.0
        uniq, inverse = np.unique(values, return_inverse=True)
        return inverse, np.array([number_text(v) for v in uniq.tolist()], dtype=object)
    return text_codes(values)


def numbers(
    frame: Frame, col: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, int | None]:
    """Column ``col`` as float64 (NaN: empty cell), and the first row whose cell is not a
    finite number (None when there is none)."""
    values = frame.data[col]
    assert values is not None
    if values.dtype == np.float64:
        x = values if rows is None else values[rows]
    else:
        codes, table = text_codes(values if rows is None else values[rows])
        parsed = [np.nan if u == "" else parse_number(u) for u in table.tolist()]
        bad = np.array([u != "" and (v is None or not math.isfinite(v)) for u, v in
                        zip(table.tolist(), parsed, strict=True)], dtype=bool)  # fmt: skip
        x = np.array([np.nan if b else v for b, v in zip(bad, parsed, strict=True)])[codes]
        if bad[codes].any():  # each distinct text parsed once, rows looked up in NumPy
            return x, int(np.flatnonzero(bad[codes])[0])
    inf = np.flatnonzero(np.isinf(x))
    return x, (int(inf[0]) if inf.size else None)


def number_error(frame: Frame, row: int, col: int, hint: str = "") -> CSVError:
    """ "'x' is not a number" or "'inf' is not a finite number", naming the cell."""
    cell = frame.cell(row, col).strip()
    value = parse_number(cell)
    what = "a finite number" if value is not None else "a number"
    return CSVError(f"{frame.where(row, col)}: {cell!r} is not {what}{hint}")


def empty_error(frame: Frame, row: int, col: int, hint: str = "") -> CSVError:
    """The error of an empty cell."""
    return CSVError(f"{frame.where(row, col)}: empty cell (a missing value); fill or drop it{hint}")


def raise_first(frame: Frame, problems: list[tuple[int, int, Any]]) -> None:
    """Raise the error of the first problem (row, then column) of :meth:`TablePlan.column_codes`."""
    if problems:
        row, k, make = min(problems, key=lambda p: (p[0], p[1]))
        raise make(frame, row, k)
