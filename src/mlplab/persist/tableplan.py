"""The preprocessing description: which columns of a table feed the network, and how.

A :class:`TablePlan` is data, saved in a model file's header (``data["preprocessing"]``,
plain JSON) and readable by ``mlplab info``. It is chosen and fitted on the training
table and applied unchanged to every table a model later sees (``mlplab predict``,
``mlplab evaluate``, or :meth:`TablePlan.transform` in Python). It holds

* the feature columns, in order (``--features`` / ``--drop``; by default every column
  except the target, the id column and an unnamed first column, the row index pandas
  writes); the ``id_column`` is never a feature and ``mlplab predict`` copies it into
  the predictions;
* per column its kind: ``number``, or ``category`` for text (or a column named with
  ``--categorical``), one-hot encoded over the sorted categories seen in the training
  file. A category the training file did not have is an error naming the cell, or, with
  ``unknown="zero"`` (``--unknown-categories zero``), the all-zero code (before
  standardization);
* what to do with an empty cell, ``missing``: ``error`` (the default: name the cell),
  ``drop`` (training drops the row; later tables must be complete), ``mean`` or
  ``median`` (numbers: the column's mean or median over the training rows; categories:
  the most frequent one), with the fill values stored per column.

Standardization is not here: it stays the network's :class:`~mlplab.core.data.Standardizer`
(the mean and scale of each network input, stored beside the weights), applied after
this plan's encoding. Only an empty cell (or one of spaces) is missing: ``NA`` or ``nan``
are not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np

from mlplab.persist.cells import (
    empty_error,
    number_error,
    numbers,
    parse_number,
    raise_first,
    text_codes,
    text_table,
)
from mlplab.persist.csvexact import CSVError
from mlplab.persist.csvfast import Frame, from_dataframe

MISSING = ("error", "drop", "mean", "median")
UNKNOWN = ("error", "zero")
MAX_CATEGORIES = 1000
"""A text column with more distinct values is refused as a feature (an id or free text)."""
ID_LIKE_ROWS = 20
"""An undeclared text column whose values all differ, over more rows than this, is
refused as a feature: it is an id or free text (``--id-column`` or ``--drop`` it)."""
PLAN_VERSION = 1


@dataclass
class Column:
    """One feature column: its name, kind, categories and fill value."""

    name: str
    kind: str = "number"
    categories: list[str] | None = None
    fill: float | str | None = None

    def outputs(self) -> list[str]:
        """The network inputs this column becomes."""
        if self.kind == "number":
            return [self.name]
        return [f"{self.name}={c}" for c in self.categories or []]


def _all_finite(x: np.ndarray) -> bool:
    return x.dtype == np.float64 and bool(np.isfinite(x).all())


def _kind_of(frame: Frame, col: int) -> str:
    """ "number" or "category" for an undeclared column; a CSVError for a column that mixes
    numbers and text, naming its first cell that is not a number."""
    values = frame.data[col]
    assert values is not None
    if values.dtype == np.float64:
        return "number"
    codes, table = text_codes(values)
    uniq = set(table.tolist()) - {""}
    numeric = {u for u in uniq if parse_number(u) is not None}
    if not uniq or numeric == uniq:
        return "number"
    if not numeric:
        return "category"
    text_cell = np.array([t not in numeric and t != "" for t in table.tolist()], bool)
    first = int(np.flatnonzero(text_cell[codes])[0])
    name = frame.columns[col]
    hint = (
        f" (column {name!r} holds numbers and text; to use it as categories, "
        f"pass --categorical {name})"
    )
    raise number_error(frame, first, col, hint)


@dataclass
class TablePlan:
    """Columns, categories and missing values: from a table to the network's inputs."""

    columns: list[Column]
    target: str | None = None
    id_column: str | None = None
    missing: str = "error"
    unknown: str = "error"
    ignored: list[str] = field(default_factory=list)
    """Columns of the training table that were not used (dropped, or not selected)."""

    # ------------------------------------------------------------------ names
    @property
    def features(self) -> list[str]:
        """The feature columns, in order."""
        return [c.name for c in self.columns]

    @property
    def output_names(self) -> list[str]:
        """The network's inputs: a number column's name, ``name=category`` for categories."""
        return [n for c in self.columns for n in c.outputs()]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """:attr:`output_names` as scikit-learn's transformers name their outputs."""
        return np.array(self.output_names, dtype=object)

    @property
    def text_columns(self) -> list[str]:
        """Columns read as text: the categories and the id column."""
        out = [c.name for c in self.columns if c.kind == "category"]
        return out + ([self.id_column] if self.id_column else [])

    # ------------------------------------------------------------------ choosing
    @classmethod
    def choose(
        cls,
        frame: Frame,
        target: str | None = None,
        *,
        features: list[str] | None = None,
        drop: list[str] | tuple[str, ...] = (),
        id_column: str | None = None,
        categorical: list[str] | tuple[str, ...] = (),
        missing: str = "error",
        unknown: str = "error",
    ) -> TablePlan:
        """The columns of ``frame`` to use and their kinds and categories (no fill values
        yet: :meth:`fit_fill`)."""
        if missing not in MISSING:
            raise ValueError(f"missing must be one of {', '.join(MISSING)}; got {missing!r}")
        if unknown not in UNKNOWN:
            raise ValueError(f"unknown must be one of {', '.join(UNKNOWN)}; got {unknown!r}")
        for name in [*(features or []), *drop, *categorical, *filter(None, [id_column])]:
            frame.index(name)
        special = {target, id_column, ""}
        if features is None:
            names = [c for c in frame.columns if c not in special and c not in drop]
        else:
            clash = [c for c in features if c in special or c in drop]
            if clash:
                raise ValueError(
                    f"--features names {clash[0]!r}, which is the target, the id column or dropped"
                )
            names = list(features)
        if not names:
            where = frame.path if frame.locator else f"{frame.path}, line {frame.header_line}"
            raise CSVError(f"{where}: no feature columns besides the target {target!r}")
        cols = [cls._column(frame, n, n in categorical) for n in names]
        ignored = [c for c in frame.columns if c not in names and c not in special]
        return cls(cols, target, id_column, missing, unknown, ignored)

    @staticmethod
    def _column(frame: Frame, name: str, declared: bool) -> Column:
        k = frame.index(name)
        kind = "category" if declared else _kind_of(frame, k)
        if kind == "number":
            return Column(name)
        codes, table = text_table(frame, k)
        cats = sorted(set(table.tolist()) - {""})
        n = int((table != "")[codes].sum())
        # A text column with a different value in every row is an id or free text.
        if len(cats) > MAX_CATEGORIES or (not declared and len(cats) == n > ID_LIKE_ROWS):
            raise CSVError(
                f"{frame.where(None, k)}: {len(cats)} distinct texts in {n} rows, not "
                f"categories; leave the column out (--drop {name}) or name it as the id "
                f"column (--id-column {name})"
            )
        return Column(name, "category", cats)

    # ------------------------------------------------------------------ encoding
    def codes(
        self, frame: Frame, *, allow_missing: bool | None = None, release: bool = False
    ) -> np.ndarray:
        """The plan's columns of ``frame`` as a float64 matrix (n_rows, n_features): numbers,
        and the index of the category for categories; NaN for an empty cell, −1 for an
        unknown category (allowed with ``unknown="zero"``). A cell that is not a finite
        number, an unknown category (``unknown="error"``) and, unless ``allow_missing``
        (default: the plan fills them), an empty cell raise a CSVError naming the first
        such cell of the table. ``release``: drop the plan's columns from ``frame`` once
        encoded (memory)."""
        if allow_missing is None:
            allow_missing = self.missing in ("mean", "median")
        cols: list[np.ndarray] = []
        problems: list[tuple[int, int, Any]] = []  # (row, column position, error maker)
        for c in self.columns:
            k = frame.index(c.name, "model's feature")
            x = frame.data[k]
            if c.kind == "number" and x is not None and _all_finite(x):
                cols.append(x)  # one pass, nothing to report
                continue
            cols.append(self.column_codes(frame, k, c, allow_missing, problems))
        raise_first(frame, problems)
        R = np.empty((frame.n_rows, len(cols)))
        step = max(256, 2**18 // (8 * max(1, len(cols))))  # R's block (256 KiB) stays in cache
        for lo in range(0, frame.n_rows, step):
            for j, x in enumerate(cols):
                R[lo : lo + step, j] = x[lo : lo + step]
        if release:
            for c in self.columns:
                frame.data[frame.index(c.name)] = None  # the caller is done with them
        return R

    def column_codes(
        self, frame: Frame, k: int, c: Column, allow_missing: bool, problems: list[Any]
    ) -> np.ndarray:
        """Column c's codes (file column k of ``frame``): numbers, or category indices; NaN
        for an empty cell. Each problem is appended to ``problems`` as (row, k, the maker
        of its error): :func:`raise_first` raises the first of the table."""
        if c.kind == "number":
            x, bad = numbers(frame, k)
            if bad is not None:
                problems.append((bad, k, number_error))
        else:
            x = self._category_codes(frame, k, c, problems)
        if not allow_missing and np.isnan(x).any():
            problems.append((int(np.flatnonzero(np.isnan(x))[0]), k, self._empty))
        return x

    def _category_codes(
        self, frame: Frame, k: int, c: Column, problems: list[tuple[int, int, Any]]
    ) -> np.ndarray:
        lookup = {cat: float(i) for i, cat in enumerate(c.categories or [])}
        lookup[""] = np.nan
        codes, table = text_table(frame, k)  # each distinct text looked up once
        coded = np.array([lookup.get(t, -1.0) for t in table.tolist()], dtype=np.float64)
        out: np.ndarray = coded[codes]
        unknown = np.flatnonzero(out == -1.0)
        if unknown.size and self.unknown == "error":
            problems.append((int(unknown[0]), k, self._unknown_error(c)))
        return out

    def _unknown_error(self, c: Column) -> Any:
        def make(frame: Frame, row: int, k: int) -> CSVError:
            shown = ", ".join((c.categories or [])[:20])
            return CSVError(
                f"{frame.where(row, k)}: {frame.cell(row, k).strip()!r} is not one of the "
                f"categories of column {c.name!r} seen in training ({shown}); train with "
                "--unknown-categories zero to encode unseen categories as all zeros"
            )

        return make

    def _empty(self, frame: Frame, row: int, k: int) -> CSVError:
        hint = {
            "error": " (or train with --missing drop, mean or median)",
            "drop": " (the model was trained with --missing drop: it has no value to fill in)",
        }.get(self.missing, "")
        return empty_error(frame, row, k, hint)

    def fit_fill(self, R: np.ndarray) -> TablePlan:
        """Fill values from the codes of the training rows: the mean or median of a number
        column, the most frequent category (``missing`` mean or median; else nothing)."""
        if self.missing not in ("mean", "median"):
            return self
        for j, c in enumerate(self.columns):
            x = R[:, j][~np.isnan(R[:, j])]
            if c.kind == "category":
                x = x[x >= 0]
            if x.size == 0:
                raise ValueError(f"column {c.name!r} has no value to compute a fill value from")
            if c.kind == "number":
                c.fill = float(np.mean(x) if self.missing == "mean" else np.median(x))
            else:
                counts = np.bincount(x.astype(np.int64), minlength=len(c.categories or []))
                c.fill = (c.categories or [])[int(counts.argmax())]
        return self

    def expand(self, R: np.ndarray) -> np.ndarray:
        """Codes → the network's inputs (C order): fill values in empty cells, categories
        one-hot. For a plan of numbers with nothing to fill this is ``R`` itself."""
        fills = np.array(
            [
                np.nan
                if c.fill is None
                else c.fill
                if c.kind == "number"
                else float((c.categories or []).index(str(c.fill)))
                for c in self.columns
            ]
        )
        if not np.isnan(fills).all() and np.isnan(R).any():
            R = np.where(np.isnan(R), fills, R)
        if all(c.kind == "number" for c in self.columns):
            return np.ascontiguousarray(R, dtype=np.float64)
        X = np.zeros((R.shape[0], len(self.output_names)))
        o = 0
        for j, c in enumerate(self.columns):
            if c.kind == "number":
                X[:, o] = R[:, j]
                o += 1
                continue
            x = R[:, j]
            ok = np.flatnonzero(x >= 0)
            X[ok, o + x[ok].astype(np.int64)] = 1.0
            o += len(c.categories or [])
        return X

    def transform(self, data: Any) -> np.ndarray:
        """The network's inputs for a table (a Frame, a pandas DataFrame or a CSV path)."""
        return self.expand(self.codes(as_frame(data, self.text_columns)))

    @classmethod
    def fit(cls, data: Any, target: str | None = None, **options: Any) -> TablePlan:
        """:meth:`choose` and :meth:`fit_fill` on all rows of ``data`` (a Frame, a pandas
        DataFrame or a CSV path): for use from Python; ``mlplab train`` fits the fill
        values on its training rows only."""
        frame = as_frame(data, [*options.get("categorical", ()), options.get("id_column")])
        plan = cls.choose(frame, target, **options)
        return plan.fit_fill(plan.codes(frame, allow_missing=plan.missing != "error"))

    # ------------------------------------------------------------------ as data
    def data_info(self, task: str, classes: Any = None) -> dict[str, Any]:
        """What :func:`mlplab.save` takes as ``data_info`` so that a model file (of a
        Network or an estimator) carries this plan: ``mlplab predict``, ``evaluate`` and
        ``info`` then read CSV files through it."""
        info: dict[str, Any] = {"task": task, "target": self.target}
        info.update(feature_names=self.output_names, preprocessing=self.to_json())
        if classes is not None:
            info["classes"] = classes
        return info

    def to_json(self) -> dict[str, Any]:
        """The plan as plain JSON (what the model file stores)."""
        cols = []
        for c in self.columns:
            d: dict[str, Any] = {"name": c.name, "kind": c.kind}
            if c.kind == "category":
                d["categories"] = list(c.categories or [])
            if c.fill is not None:
                d["fill"] = c.fill
            cols.append(d)
        return {
            "version": PLAN_VERSION,
            "columns": cols,
            "target": self.target,
            "id_column": self.id_column,
            "missing": self.missing,
            "unknown_categories": self.unknown,
            "ignored": list(self.ignored),
        }

    @classmethod
    def from_json(cls, d: Any) -> TablePlan:
        """The plan of :meth:`to_json`, checked (ValueError for anything malformed)."""
        if not isinstance(d, dict) or d.get("version") != PLAN_VERSION:
            raise ValueError("preprocessing: not a version-1 plan")
        cols = d.get("columns")
        if not isinstance(cols, list) or not cols:
            raise ValueError("preprocessing: columns must be a non-empty list")
        out = [_column_from_json(c) for c in cols]
        if len({c.name for c in out}) != len(out):
            raise ValueError("preprocessing: column names repeat")
        missing, unknown = d.get("missing"), d.get("unknown_categories")
        if missing not in MISSING or unknown not in UNKNOWN:
            raise ValueError("preprocessing: unknown missing or unknown_categories policy")
        names = [d.get("target"), d.get("id_column")]
        ignored = d.get("ignored", [])
        if not all(n is None or isinstance(n, str) for n in names) or not _strs(ignored):
            raise ValueError("preprocessing: target, id_column and ignored must be names")
        return cls(out, names[0], names[1], missing, unknown, list(ignored))

    @classmethod
    def numeric(cls, names: list[str], target: str | None = None) -> TablePlan:
        """The plan of a model without one: every feature a number, no missing values."""
        return cls([Column(n) for n in names], target)


def _strs(v: Any) -> TypeGuard[list[str]]:
    return isinstance(v, list) and all(isinstance(s, str) for s in v)


def _column_from_json(c: Any) -> Column:
    if not isinstance(c, dict) or not isinstance(c.get("name"), str):
        raise ValueError("preprocessing: each column needs a name")
    kind, fill, cats = c.get("kind"), c.get("fill"), c.get("categories")
    if kind == "number":
        if fill is not None and (
            isinstance(fill, bool) or not isinstance(fill, (int, float)) or not math.isfinite(fill)
        ):
            raise ValueError(f"preprocessing: column {c['name']!r}: fill must be a number")
        return Column(c["name"], "number", None, None if fill is None else float(fill))
    if kind != "category" or not _strs(cats) or len(set(cats)) != len(cats):
        raise ValueError(f"preprocessing: column {c['name']!r}: bad kind or categories")
    if fill is not None and fill not in cats:
        raise ValueError(f"preprocessing: column {c['name']!r}: fill is not a category")
    return Column(c["name"], "category", list(cats), fill)


def as_frame(data: Any, text: list[Any] | tuple[Any, ...] = ()) -> Frame:
    """A Frame from a Frame, a pandas DataFrame or the path of a CSV file."""
    if isinstance(data, Frame):
        return data
    if hasattr(data, "columns") and hasattr(data, "dtypes"):
        return from_dataframe(data)
    from mlplab.persist.csvfast import read_frame

    return read_frame(data, text=[t for t in text if t])
