"""CSV files in, arrays out: the public face of mlplab's CSV reading.

A file is read fast by :mod:`mlplab.persist.csvfast` (pandas' C parser) into a
:class:`~mlplab.persist.csvfast.Frame`; a :class:`~mlplab.persist.tableplan.TablePlan`
chooses and encodes its feature columns; the target column becomes class indices or
values here. Every problem is a :class:`CSVError` naming the file, the line (1-based, the
header is line 1) and the column (by name and 1-based position), e.g.::

    iris.csv, line 7, column 'petal_width' (column 4): 'abc' is not a number

Files are UTF-8 (a BOM is accepted) with a header row; the separator is ``,``, ``;``, tab
or ``|`` (detected, or given); blank lines are skipped (a line of only ``""`` is a row
of one empty cell) and fields may be quoted. The exact reader of earlier releases
(:func:`read_table`, cells as strings) is still here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlplab.persist.cells import (
    empty_error,
    number_error,
    number_text,
    numbers,
    parse_number,
    text_codes,
    text_table,
)
from mlplab.persist.csvexact import (
    MAX_CLASSES_FOR_INTEGERS,
    CSVError,
    Table,
    check_file,
    infer_task,
    integer_labels,
    labels,
    match_labels,
    numeric,
    one_class_error,
    read_features,
    read_table,
)
from mlplab.persist.csvfast import Frame, read_frame, read_small_frame
from mlplab.persist.csvsmall import factorize
from mlplab.persist.tableplan import TablePlan

if TYPE_CHECKING:  # csvrows (threads, pandas' chunks) loads only for a file pandas reads
    from mlplab.persist.csvrows import Parsed

__all__ = [
    "MAX_CLASSES_FOR_INTEGERS",
    "CSVError",
    "Frame",
    "Table",
    "TablePlan",
    "TrainingData",
    "frame_labels",
    "infer_task",
    "labels",
    "match_labels",
    "numeric",
    "read_csv",
    "read_features",
    "read_frame",
    "read_table",
    "read_training_csv",
    "target_values",
    "training_data",
]


@dataclass
class TrainingData:
    """What ``mlplab train --data`` needs from a CSV file."""

    X: np.ndarray | None
    y: np.ndarray
    feature_names: list[str]
    target: str
    task: str
    task_inferred: bool
    classes: np.ndarray | None = None
    plan: TablePlan | None = field(default=None, repr=False)
    codes: np.ndarray | None = field(default=None, repr=False)
    """The plan's codes of the kept rows (fill values not fitted yet: :meth:`features`)."""
    n_dropped: int = 0
    """Rows left out by ``missing="drop"``."""

    def features(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The network inputs of ``rows`` (all: None) with the plan's fill values."""
        assert self.plan is not None
        assert self.codes is not None
        return self.plan.expand(self.codes if rows is None else self.codes[rows])


def _classes(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes, y): the sorted labels (int64 when every label is an integer, else str) and
    each row's index into them."""
    codes, uniq = factorize(text)
    values = [parse_number(u) for u in uniq]
    if all(v is not None for v in values) and integer_labels(np.array(values, dtype=float)):
        labels = np.array(values).astype(np.int64)
    else:
        labels = np.asarray(uniq).astype(str)
    classes = np.unique(labels)  # "1" and "1.0" are one class: map each text to its class
    return classes, np.searchsorted(classes, labels)[codes].astype(np.int64)


def _number_classes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes, y) of a column of numbers: int64 classes when all are integers."""
    if integer_labels(y):
        classes, idx = np.unique(y, return_inverse=True)
        return classes.astype(np.int64), idx.astype(np.int64)
    return _classes(np.array([number_text(v) for v in y.tolist()], dtype=object))


def _target(
    frame: Frame, t: int, text: np.ndarray | None, task: str | None, keep: np.ndarray
) -> tuple[np.ndarray, str, np.ndarray | None]:
    """(y, task, classes) of the kept rows of target column ``t`` (``text``: its cells, or
    None for a column of numbers)."""
    values = frame.data[t]
    if task is None:
        if text is None:
            task = _infer_numbers(values[keep])  # type: ignore[index]
        else:
            task = infer_task(sorted(set(text[keep].tolist())))
    if task == "regression":
        y, bad = numbers(frame, t)
        if bad is not None:
            raise number_error(frame, bad, t)
        return y[keep], task, None
    if text is None:
        classes, y = _number_classes(values[keep])  # type: ignore[index]
    else:
        classes, y = _classes(text[keep])
    if classes.shape[0] < 2:
        raise one_class_error(frame.where(None, t), classes[0])
    return y, task, classes


def _coded_target(
    frame: Frame, t: int, codes: np.ndarray, table: np.ndarray, task: str | None, keep: np.ndarray
) -> tuple[np.ndarray, str, np.ndarray | None]:
    """:func:`_target` of a text column given as :func:`~mlplab.persist.cells.text_codes`
    (``table[codes]`` its stripped cells): the same result, with the per-row work in NumPy
    (the distinct labels are few; the rows many)."""
    kept = codes if keep.all() else codes[keep]  # no empty label is kept: codes >= 0
    used = np.flatnonzero(np.bincount(kept, minlength=len(table)))
    if task is None:
        task = infer_task(sorted(set(table[used].tolist())))
    if task == "regression":
        return _target(frame, t, table[codes], task, keep)
    classes, idx = _classes(table[used])
    lut = np.zeros(len(table), dtype=np.int64)
    lut[used] = idx
    if classes.shape[0] < 2:
        raise one_class_error(frame.where(None, t), classes[0])
    return lut[kept], task, classes


def _infer_numbers(y: np.ndarray) -> str:
    """:func:`infer_task` for a column of numbers."""
    if not np.isfinite(y).all():
        return "regression"
    if np.all(y == np.round(y)) and np.unique(y).size <= MAX_CLASSES_FOR_INTEGERS:
        return "classification"
    return "regression"


def _read(
    path: str | os.PathLike[str] | Frame, sep: str | None, target: str, options: dict[str, Any]
) -> tuple[Frame, Parsed | None]:
    """The training table; for a file read fast, also its features parsed straight into
    the codes matrix (:func:`~mlplab.persist.csvrows.read_for_plan`)."""
    if isinstance(path, Frame):
        return path, None
    # The target is not read as text: numbers stay numbers (fast); text labels are text.
    text = [n for n in [options.get("id_column"), *options.get("categorical", ())] if n]
    small = read_small_frame(check_file(path), sep, text)  # without pandas, or None
    if small is not None:
        return small, None
    from mlplab.persist.csvrows import read_for_plan

    fast = read_for_plan(check_file(path), sep, target, text, options)
    return fast if fast is not None else (read_frame(path, sep, text=text), None)


def training_data(
    path: str | os.PathLike[str] | Frame,
    target: str,
    task: str | None = None,
    *,
    sep: str | None = None,
    **plan_options: Any,
) -> TrainingData:
    """The plan, its codes and the encoded target of a training file (``X`` is None: the
    fill values are fitted on the training rows by the caller, :meth:`TrainingData.features`).

    ``plan_options`` are those of :meth:`TablePlan.choose` (``features``, ``drop``,
    ``id_column``, ``categorical``, ``missing``, ``unknown``).
    """
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be classification or regression, got {task!r}")
    frame, parsed = _read(path, sep, target, plan_options)
    t = frame.index(target)
    plan = TablePlan.choose(frame, target, **plan_options)
    if parsed is not None:  # the features were parsed straight into the codes matrix
        from mlplab.persist.csvrows import encode, keep_rows

        R = encode(plan, frame, parsed, allow_missing=plan.missing != "error")
    else:
        R = plan.codes(frame, allow_missing=plan.missing != "error", release=frame is not path)
    values = frame.data[t]
    if values is not None and values.dtype == np.float64:  # numbers: no text needed
        labels, present = None, ~np.isnan(values)
    else:  # text: each distinct label once, rows as codes (no work per row in Python)
        labels = text_codes(values)  # type: ignore[arg-type]
        present = (labels[1] != "")[labels[0]]
    if plan.missing != "drop" and not present.all():
        hint = " (rows without a target can only be dropped: --missing drop)"
        raise empty_error(frame, int(np.flatnonzero(~present)[0]), t, hint)
    keep = present
    if plan.missing == "drop":
        from mlplab.persist.npydata import complete_rows  # (not on every CLI's import path)

        keep = present & complete_rows(R)
    if not keep.any():
        raise CSVError(f"{frame.path}: every row has an empty cell; nothing is left to train on")
    inferred = task is None
    if labels is None:
        y, task, classes = _target(frame, t, None, task, keep)
    else:
        y, task, classes = _coded_target(frame, t, *labels, task, keep)
    data = TrainingData(None, y, plan.output_names, target, task, inferred, classes)
    if keep.all():
        data.codes = R
    else:  # rows dropped in place when they were parsed into M, else a copy
        data.codes = keep_rows(R, keep) if parsed is not None else R[keep]
    data.plan = plan
    data.n_dropped = int((~keep).sum())
    return data


def read_csv(
    path: str | os.PathLike[str],
    target: str,
    task: str | None = None,
    *,
    sep: str | None = None,
    **options: Any,
) -> TrainingData:
    r"""A CSV file as the network's inputs and targets, read as ``mlplab train --data``
    reads it (exposed as ``mlplab.read_csv``).

    Small files (below 2 MiB) are read without importing pandas
    (:mod:`mlplab.persist.csvsmall`: the stdlib ``csv`` module, Python's ``float``), larger
    ones by pandas' C parser; both give the same arrays, bit for bit, and the same errors,
    which name the file, line and column of a problem (a :class:`CSVError`).

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file: a header row, then one row per sample.
    target : str
        The name of the target column.
    task : {"classification", "regression"} or None
        None infers it: text labels or at most 20 distinct integers are classes.
    sep : str or None
        The separator; None detects ``,`` ``;`` tab or ``|``.
    **options
        The columns and empty cells, as :meth:`TablePlan.choose` takes them: ``features``,
        ``drop``, ``id_column``, ``categorical``, ``missing`` (``"error"``, ``"drop"``,
        ``"mean"``, ``"median"``: fill values from all rows here), ``unknown``.

    Returns
    -------
    TrainingData
        ``X`` (n_rows, n_inputs) float64, categories one-hot; ``y`` (n_rows,) int64 indices
        into ``classes`` (sorted labels) for classification, float64 values for regression;
        ``feature_names`` (n_inputs,), ``task``, and ``plan``, the :class:`TablePlan` that
        reads later files the same way (``plan.transform(path)``) and goes into a model file
        (``mlplab.save(net, path, data_info=plan.data_info(task, classes))``).

    Examples
    --------
    >>> import os, tempfile, mlplab
    >>> path = os.path.join(tempfile.mkdtemp(), "towns.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("area,town,label\n52.5,north,yes\n75,south,no\n61,north,no\n")
    >>> data = mlplab.read_csv(path, target="label")
    >>> data.X.tolist(), data.y.tolist(), data.classes.tolist()
    ([[52.5, 1.0, 0.0], [75.0, 0.0, 1.0], [61.0, 1.0, 0.0]], [1, 0, 0], ['no', 'yes'])
    >>> data.feature_names
    ['area', 'town=north', 'town=south']
    """
    data = training_data(path, target, task, sep=sep, **options)
    assert data.plan is not None
    assert data.codes is not None
    data.plan.fit_fill(data.codes)  # missing="mean"/"median": fill values from all rows
    data.X = data.features()
    return data


read_training_csv = read_csv
"""The name the CLI's recipes and older code use for :func:`read_csv`."""


def target_values(frame: Frame, name: str) -> np.ndarray:
    """A regression target column as float64; every cell a finite number."""
    t = frame.index(name)
    y, bad = numbers(frame, t)
    if bad is None and np.isnan(y).any():
        raise empty_error(frame, int(np.flatnonzero(np.isnan(y))[0]), t)
    if bad is not None:
        raise number_error(frame, bad, t)
    return y


def frame_labels(frame: Frame, name: str, classes: np.ndarray) -> np.ndarray:
    """Indices into ``classes`` of the labels in column ``name`` (errors name the line)."""
    t = frame.index(name)
    codes, table = text_table(frame, t)  # each distinct label looked up once
    numeric_classes = classes.dtype.kind in "iufb"
    lookup: dict[Any, int] = {
        (float(c) if numeric_classes else str(c)): k for k, c in enumerate(classes)
    }
    keys = [(parse_number(u) if numeric_classes else u) for u in table.tolist()]
    out: np.ndarray = np.array([lookup.get(key, -1) for key in keys], dtype=np.int64)[codes]
    bad = np.flatnonzero(out < 0)
    if bad.size:
        i = int(bad[0])
        label = table[codes[i]]
        if label == "":
            raise empty_error(frame, i, t)
        shown = ", ".join(str(c) for c in classes[:20])
        raise CSVError(
            f"{frame.where(i, t)}: label {label!r} is not one of the model's classes ({shown})"
        )
    return out
