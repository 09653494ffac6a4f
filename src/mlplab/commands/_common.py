"""What the model-file commands (predict, evaluate, info, plot) share: options, output, and
one view of a model file whether it holds a Network or a scikit-learn estimator."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mlplab.core.network import Network


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``--json`` and ``--quiet``, as on every mlplab command."""
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--quiet", action="store_true", help="print nothing but the results")


def add_sep_option(p: argparse._ActionsContainer) -> None:
    """``--sep``: the CSV separator (detected when not given); ``p`` a parser or a group."""
    p.add_argument(
        "--sep",
        default=None,
        type=_sep,
        help="the CSV file's separator (default: detected among , ; tab |; write tab as '\\t')",
    )


def _sep(text: str) -> str:
    text = {"\\t": "\t", "tab": "\t"}.get(text, text)
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"must be one character, got {text!r}")
    return text


def print_json(obj: Any) -> None:
    """One line of JSON on stdout (NumPy values converted)."""
    from mlplab._archive import jsonable

    print(json.dumps(jsonable(obj)))


def note(args: argparse.Namespace, message: str) -> None:
    """A human-readable remark on stderr, silenced by --quiet and --json."""
    if not (args.quiet or args.json):
        print(message, file=sys.stderr)


@contextlib.contextmanager
def _columns_matched() -> Iterator[None]:
    # The CSV's columns were already matched to feature_names_in_ by name; the estimator
    # only sees a plain array and would warn that it has no column names.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        yield


class Model:
    """A loaded model file: its network, meaning of inputs/outputs, and predictions."""

    def __init__(self, path: Path) -> None:
        from mlplab._archive import labels_from_json
        from mlplab.saving import load_with_header

        obj, header = load_with_header(path)
        self.path, self.header = path, header
        self.estimator: Any = obj if header["kind"] == "estimator" else None
        self.net: Network = obj.network_ if self.estimator is not None else obj
        info = header.get("data") or {}
        self.feature_names: list[str] | None = info.get("feature_names")
        self.target: str | None = info.get("target")
        head = self.net.head.name
        self.task = "regression" if head == "regression" else "classification"
        self.classes: np.ndarray | None = None
        if self.estimator is not None and hasattr(self.estimator, "classes_"):
            self.classes = self.estimator.classes_
        elif info.get("classes") is not None:
            self.classes = labels_from_json(info["classes"])
        elif head == "binary" and self.net.layer_sizes[-1] == 1:
            self.classes = np.array([0, 1])
        elif head == "multiclass":
            self.classes = np.arange(self.net.layer_sizes[-1])
        self.multilabel = head == "binary" and self.net.layer_sizes[-1] > 1
        if self.task == "classification" and not self.multilabel:
            n_out = self.net.layer_sizes[-1]
            if self.classes is None or len(self.classes) != max(n_out, 2):
                raise ValueError(f"{path}: the label encoding does not match the outputs")

    @property
    def labels(self) -> np.ndarray:
        """The classes of a classifier's outputs (``classes``, known to be there)."""
        if self.classes is None:
            raise ValueError(f"{self.path}: the model file does not name its classes")
        return self.classes

    @property
    def n_features(self) -> int:
        """n[0]."""
        return self.net.layer_sizes[0]

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, one column per class (or per label)."""
        if self.estimator is not None:
            with _columns_matched():
                P_est: np.ndarray = self.estimator.predict_proba(X)
            return P_est
        P = self.net.predict_proba(X).astype(np.float64)
        return np.hstack([1 - P, P]) if P.shape[1] == 1 and not self.multilabel else P

    def predict_indices(self, X: np.ndarray) -> np.ndarray:
        """Class indices (or the 0/1 matrix for multi-label)."""
        P = self.proba(X)
        return (P > 0.5).astype(np.int64) if self.multilabel else P.argmax(axis=1)

    def predict_values(self, X: np.ndarray) -> np.ndarray:
        """Regression outputs, shape (n_samples, n_outputs)."""
        if self.estimator is not None:
            with _columns_matched():
                out: np.ndarray = self.estimator.predict(X)
        else:
            out = self.net.predict(X).astype(np.float64)
        return out.reshape(len(X), -1)

    @property
    def plan(self) -> Any:
        """The model's preprocessing (a TablePlan): stored, or every named feature a number;
        None for a model that names no features (every column but the target is one)."""
        from mlplab.persist.tableplan import TablePlan

        info = self.header.get("data") or {}
        if info.get("preprocessing") is not None:
            return TablePlan.from_json(info["preprocessing"])
        if self.feature_names:
            return TablePlan.numeric(self.feature_names, self.target)
        return None

    def read_csv(self, path: Path, target: str | None = None, sep: str | None = None) -> Inputs:
        """The model's inputs from a CSV file: its plan applied to the file's columns,
        matched by name (any order); columns the model does not use are reported in
        ``Inputs.extra``."""
        from mlplab.persist.csvdata import CSVError, TablePlan, read_frame

        plan, target = self.plan, target or self.target
        text = [*(plan.text_columns if plan else []), *([target] if target else [])]
        keep = None if plan is None else {*plan.features, *text}
        frame = read_frame(path, sep, keep=keep, text=text)
        if plan is None:
            names = [c for c in frame.columns if c not in (target, "")]
            if len(names) != self.n_features:
                raise CSVError(
                    f"{frame.path}, line 1: {len(names)} feature columns, but the model "
                    f"expects n[0]={self.n_features}"
                )
            plan = TablePlan.numeric(names)
        for name in plan.features:
            if name not in frame.columns:
                raise CSVError(
                    f"{frame.path}, line 1: the model's feature {name!r} is missing "
                    f"(the model was trained on: {', '.join(plan.features)})"
                )
        used = {*plan.features, target, plan.id_column, ""}
        extra = [c for c in frame.columns if c not in used]
        ids = None
        if plan.id_column and plan.id_column in frame.columns:
            ids = frame.column(plan.id_column)
        return Inputs(frame, plan.transform(frame), extra, plan.id_column, ids)


class Inputs:
    """What :meth:`Model.read_csv` read: the table, the network's inputs X, the columns
    the model does not use, and the id column's name and cells (None when absent)."""

    def __init__(self, frame: Any, X: np.ndarray, extra: list[str], id_name: Any, ids: Any):
        self.frame, self.X, self.extra, self.id_name, self.ids = frame, X, extra, id_name, ids

    def notes(self, args: argparse.Namespace) -> None:
        """Say once which columns are ignored, and when the id column is absent."""
        if self.extra:
            shown = ", ".join(repr(c) for c in self.extra[:10]) + (
                " ..." if len(self.extra) > 10 else ""
            )
            note(
                args,
                f"mlplab: note: ignoring {len(self.extra)} column(s) the model does "
                f"not use: {shown}",
            )
        if self.id_name and self.ids is None:
            note(
                args,
                f"mlplab: note: no id column {self.id_name!r} in the file: predictions without ids",
            )


def format_values(values: np.ndarray, dtype: Any) -> list[str]:
    """Predicted values as text at the precision of the network's dtype: the shortest
    decimal that reads back as the same float32 (``187.9143``, not ``187.914306640625``),
    or 12 significant digits for float64."""
    if np.dtype(dtype) == np.float32:
        return [str(v) for v in np.asarray(values, dtype=np.float32).ravel()]
    return [f"{v:.12g}" for v in np.asarray(values, dtype=np.float64).ravel()]


def print_confusion(classes: list[Any], matrix: list[list[int]], title: str) -> None:
    """A confusion matrix with the class names as row and column labels."""
    names = [str(c) for c in classes]
    w = max(len(s) for s in [*names, "true \\ pred"]) + 1
    cw = max(max(len(s) for s in names), 5) + 1
    print(f"{title} (rows: true class, columns: predicted):")
    print("true \\ pred".ljust(w) + "".join(s.rjust(cw) for s in names))
    for name, row in zip(names, matrix, strict=True):
        print(name.ljust(w) + "".join(str(v).rjust(cw) for v in row))


def save_diverged(args: argparse.Namespace, trainer: Any, exc: Any) -> None:
    """``mlplab train``: save the network ``trainer`` kept after a divergence (in ``--out``
    or ``--checkpoint``); say so in the error message."""
    from mlplab.persist import modelfile as io

    folder = args.out or args.checkpoint
    if trainer is None or folder is None:
        return
    path = io.save(trainer.net, Path(folder) / "model.npz", history=exc.history)
    kept = "best" if args.restore_best and trainer.state.best is not None else "last finite"
    exc.args = (f"{exc.args[0]} Saved the {kept} parameters to {path}.",)
