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
from typing import Any

import numpy as np


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``--json`` and ``--quiet``, as on every mlplab command."""
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--quiet", action="store_true", help="print nothing but the results")


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
        self.estimator = obj if header["kind"] == "estimator" else None
        self.net = obj.network_ if self.estimator is not None else obj
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
    def n_features(self) -> int:
        """n[0]."""
        return self.net.layer_sizes[0]

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, one column per class (or per label)."""
        if self.estimator is not None:
            with _columns_matched():
                return self.estimator.predict_proba(X)
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
                out = self.estimator.predict(X)
        else:
            out = self.net.predict(X).astype(np.float64)
        return out.reshape(len(X), -1)

    def read_csv(self, path: Path, target: str | None = None) -> tuple[Any, np.ndarray]:
        """The model's feature columns from a CSV file (see csvdata.read_features)."""
        from mlplab.persist.csvdata import read_features

        return read_features(path, self.feature_names, self.n_features, target or self.target)
