"""The target column of a CSV file read in parts by MPI ranks (:mod:`mlplab.persist.csvshard`).

The column is encoded chunk by chunk while pandas parses it
(:class:`~mlplab.persist.csvrows.TextCodes`): a rank never holds a column of Python
strings, only one small integer a row and the table of its distinct texts. The ranks
then agree, as one process decides on the whole file, on the task (when it is
inferred), the sorted class labels, and each row's class; a missing or bad target
names its file, line and column as the one-process reader does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlplab.persist.cells import (
    empty_error,
    number_error,
    number_text,
    numbers,
    parse_number,
    text_of,
)
from mlplab.persist.csvexact import MAX_CLASSES_FOR_INTEGERS, CSVError, infer_task, one_class_error
from mlplab.persist.csvfast import Frame
from mlplab.persist.csvrows import TextCodes
from mlplab.persist.npydata import BLOCK_ROWS, take_rows
from mlplab.train.mpi import agree

__all__ = ["target"]


def _column(
    coded: TextCodes, comm: Any
) -> tuple[np.ndarray | None, tuple[np.ndarray, np.ndarray] | None]:
    """(numbers, None) when the target is numbers on every rank, else (None, (codes,
    table)): the target's text is ``table[codes]``, numbers written as one process
    writes them (a rank with text: as Python writes a float; one without: 10, not 10.0)."""
    if not any(comm.allgather(any(coded.text))):
        return coded.numbers(), None
    return None, coded.codes(text_of if any(coded.text) else number_text)


def _infer(values: np.ndarray | None, text: np.ndarray | None, comm: Any) -> str:
    """The task one process infers from all rows' targets."""
    if text is not None:
        union = set().union(*comm.allgather(set(text.tolist())))
        return infer_task(sorted(union))
    assert values is not None
    finite = bool(np.isfinite(values).all())
    ints = finite and bool(np.all(values == np.round(values)))
    uniq = np.unique(values) if ints else None
    small = uniq if uniq is not None and uniq.size <= MAX_CLASSES_FOR_INTEGERS else None
    parts = comm.allgather((finite, ints, small))
    if not all(p[0] for p in parts) or not all(p[1] and p[2] is not None for p in parts):
        return "regression"
    labels = np.unique(np.concatenate([p[2] for p in parts]))
    return "classification" if labels.size <= MAX_CLASSES_FOR_INTEGERS else "regression"


def _global_classes(
    codes: np.ndarray, table: np.ndarray, comm: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(classes, y) as :func:`mlplab.persist.csvdata._classes` gives them for all rows."""
    uniq = table[_used(codes, table.shape[0])]  # no sort of rows
    union = sorted(set().union(*comm.allgather(set(uniq.tolist()))))
    values = [parse_number(u) for u in union]
    if all(v is not None and np.isfinite(v) and v == round(v) for v in values):
        labels = np.array(values).astype(np.int64)
    else:
        labels = np.asarray(union).astype(str)
    classes = np.unique(labels)
    lut = dict(zip(union, np.searchsorted(classes, labels).tolist(), strict=True))
    y = take_rows(
        np.array([lut.get(u, 0) for u in table.tolist()], dtype=_label_type(classes)), codes
    )
    return classes, y


def _used(codes: np.ndarray, size: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Whether each of ``size`` codes occurs in ``codes`` (of the rows of mask ``rows``)."""
    counts = np.zeros(size, dtype=np.int64)  # (bincount counts through an intp copy)
    for s in range(0, codes.shape[0], BLOCK_ROWS):
        part = codes[s : s + BLOCK_ROWS]
        counts += np.bincount(
            part if rows is None else part[rows[s : s + BLOCK_ROWS]], minlength=size
        )
    return counts > 0


def _label_type(classes: np.ndarray) -> np.dtype[Any]:
    """The smallest unsigned type of a row's class index (one byte for up to 256
    classes): the training reads the labels as numbers, the metrics a block at a time."""
    return np.min_scalar_type(max(classes.shape[0] - 1, 0))


def _number_classes(y: np.ndarray, comm: Any) -> tuple[np.ndarray, np.ndarray]:
    if all(comm.allgather(bool(np.all(y == np.round(y))))):
        classes = np.unique(np.concatenate(comm.allgather(np.unique(y))))
        y = np.searchsorted(classes, y).astype(_label_type(classes))
        return classes.astype(np.int64), y
    uniq, codes = np.unique(y, return_inverse=True)
    return _global_classes(codes, np.array([number_text(v) for v in uniq.tolist()]), comm)


def _text_numbers(codes: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, int | None]:
    """:func:`~mlplab.persist.cells.numbers` of the column ``table[codes]``: the
    float64 values and the first row whose cell is not a finite number (or None)."""
    texts = table.tolist()
    parsed = [np.nan if u == "" else parse_number(u) for u in texts]
    bad = np.array([u != "" and (v is None or not math.isfinite(v)) for u, v in
                    zip(texts, parsed, strict=True)], dtype=bool)  # fmt: skip
    x = np.array([np.nan if b else v for b, v in zip(bad, parsed, strict=True)])[codes]
    if not bad.any():
        return x, None
    return x, int(np.flatnonzero(bad[codes])[0])


def target(
    frame: Frame, t: int, coded: TextCodes, complete: np.ndarray | None, missing: str,
    task: str | None, comm: Any,
) -> tuple[np.ndarray, np.ndarray, str, np.ndarray | None]:  # fmt: skip
    """(y of the kept rows, the kept-rows mask, the task, the classes) of the target
    column ``t`` (``coded``: its cells); ``complete``: which of the rank's rows have no
    empty feature cell (:func:`~mlplab.persist.npydata.complete_rows`; None: all)."""
    values, text = _column(coded, comm)
    present = ~np.isnan(values) if text is None else take_rows(text[1] != "", text[0])  # type: ignore

    def check() -> np.ndarray:
        if missing != "drop" and not present.all():
            hint = " (rows without a target can only be dropped: --missing drop)"
            raise empty_error(frame, int(np.flatnonzero(~present)[0]), t, hint)
        return present & complete if missing == "drop" and complete is not None else present

    keep = agree(comm, check)
    if not any(comm.allgather(bool(keep.any()))):
        raise CSVError(f"{frame.path}: every row has an empty cell; nothing is left to train on")
    if task is None:
        kept = None if values is None else values[keep]
        seen = None if text is None else text[1][_used(text[0], len(text[1]), keep)]
        task = _infer(kept, seen, comm)
    if task == "regression":

        def regression() -> np.ndarray:
            if text is None:
                frame.data[t] = values
                y, bad = numbers(frame, t)
                frame.data[t] = None
            else:
                y, bad = _text_numbers(*text)
            if bad is not None:
                raise number_error(frame, bad, t)
            kept: np.ndarray = y[keep]
            return kept

        return agree(comm, regression), keep, task, None
    if text is None:
        classes, y = _number_classes(values[keep], comm)  # type: ignore[index]
    else:
        classes, y = _global_classes(text[0] if keep.all() else text[0][keep], text[1], comm)
    if classes.shape[0] < 2:
        raise one_class_error(frame.where(None, t), classes[0])
    return y, keep, task, classes
