"""``mlplab data export NAME FILE.csv``: the built-in datasets as CSV files.

So that every example in the docs can make its input: ``mlplab data export iris iris.csv``
then ``mlplab train --data iris.csv --target species``. Besides the training datasets of
``mlplab train --dataset`` it writes three small real datasets that ship with
scikit-learn: ``iris`` (target ``species``), ``wine`` (``cultivar``) and ``diabetes``
(regression: ``progression``).
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from mlplab.commands._common import add_output_options, note, print_json
from mlplab.core.data import DATASETS

HELP = "export a built-in dataset as a CSV file (header row, one row per sample)"
EXTRA = ("iris", "wine", "diabetes")
# Real datasets: (scikit-learn loader, target column, class names or None for regression)
_REAL = {
    "breast_cancer": ("load_breast_cancer", "diagnosis", True),
    "digits": ("load_digits", "digit", False),
    "iris": ("load_iris", "species", True),
    "wine": ("load_wine", "cultivar", True),
    "diabetes": ("load_diabetes", "progression", False),
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser("data", help=HELP, description=HELP)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    e = actions.add_parser("export", help=HELP, description=__doc__)
    e.add_argument("name", choices=[*DATASETS, *EXTRA], help="the dataset")
    e.add_argument("file", type=Path, help="the CSV file to write ('-': stdout)")
    e.add_argument("--n-samples", type=int, default=None, help="synthetic sets: rows (500)")
    e.add_argument("--noise", type=float, default=None, help="synthetic sets: noise level")
    e.add_argument("--seed", type=int, default=0, help="synthetic sets: random seed (0)")
    add_output_options(e)
    lst = actions.add_parser("list", help="list the datasets export knows")
    add_output_options(lst)
    return p


def table(
    name: str, n_samples: int | None = None, noise: Any = None, seed: int = 0
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(header, feature matrix, target column) of dataset ``name``."""
    if name in _REAL:
        from sklearn import datasets

        loader, target, named = _REAL[name]
        bunch = getattr(datasets, loader)()
        header = [str(f).replace(" ", "_") for f in bunch.feature_names] + [target]
        y = np.asarray(bunch.target_names)[bunch.target] if named else bunch.target
        return header, bunch.data, y
    from mlplab.core.data import load_dataset

    X, y = load_dataset(name, n_samples=n_samples, noise=noise, seed=seed)
    return [f"x{j + 1}" for j in range(X.shape[1])] + ["label"], X, y


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        names = [*DATASETS, *EXTRA]
        if args.json:
            print_json({"datasets": names})
        else:
            print("\n".join(names))
        return 0
    header, X, y = table(args.name, args.n_samples, args.noise, args.seed)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    # repr: the shortest text that reads back as the same float64
    writer.writerows([*map(repr, map(float, x)), t] for x, t in zip(X, y.tolist(), strict=True))
    if str(args.file) == "-":
        print(buf.getvalue(), end="")
        return 0
    args.file.parent.mkdir(parents=True, exist_ok=True)
    args.file.write_text(buf.getvalue(), encoding="utf-8")
    if args.json:
        print_json({"file": str(args.file), "rows": len(X), "columns": header})
    else:
        note(args, f"wrote {len(X)} rows × {len(header)} columns of {args.name} to {args.file}")
    return 0
