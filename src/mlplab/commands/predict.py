"""``mlplab predict MODEL FILE.csv``: predictions for every row of a CSV file."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

from mlplab.commands._common import (
    Model,
    add_output_options,
    add_sep_option,
    format_values,
    note,
    print_json,
)

HELP = "predict every row of a CSV file with a saved model"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser("predict", help=HELP, description=HELP)
    p.add_argument("model", type=Path, help="model file (.npz) from mlplab train --out or save()")
    p.add_argument(
        "data",
        type=Path,
        help="CSV file with the model's feature columns (other columns are ignored, with a note)",
    )
    p.add_argument("--out", type=Path, default=None, help="write the predictions to this CSV")
    p.add_argument("--proba", action="store_true", help="also give class probabilities")
    add_sep_option(p)
    add_output_options(p)
    return p


def _predictions(
    model: Model, X: Any, name: str, proba: bool
) -> tuple[list[str], list[list[Any]], dict[str, Any]]:
    """(header, rows, JSON result) of the predictions of X."""
    import numpy as np

    if model.task == "regression":
        values = model.predict_values(X)
        header = [name] if values.shape[1] == 1 else [f"{name}_{k}" for k in range(values.shape[1])]
        text = np.array(format_values(values, model.net.dtype)).reshape(values.shape)
        rows = text.tolist()
        numbers = text.astype(np.float64)
        return header, rows, {"predictions": numbers[:, 0] if values.shape[1] == 1 else numbers}
    P = model.proba(X) if proba else None
    idx = model.predict_indices(X)
    if model.multilabel:
        header, rows = [f"{name}_{c}" for c in model.labels], idx.tolist()
    else:
        header, rows = [name], [[c] for c in model.labels[idx].tolist()]
    result: dict[str, Any] = {"predictions": [r if model.multilabel else r[0] for r in rows]}
    if P is not None:
        header += [f"proba_{c}" for c in model.labels]
        rows = [r + p for r, p in zip(rows, np.round(P, 6).tolist(), strict=True)]
        result["probabilities"] = P
        result["classes"] = model.labels
    return header, rows, result


def run(args: argparse.Namespace) -> int:
    model = Model(args.model)
    inputs = model.read_csv(args.data, sep=args.sep)
    inputs.notes(args)
    name = model.target or "prediction"
    header, rows, result = _predictions(model, inputs.X, name, args.proba)
    if inputs.ids is not None:  # the id column first, its cells as the file has them
        header = [inputs.id_name, *header]
        ids = ["" if v is None else str(v) for v in inputs.ids]
        rows = [[i, *r] for i, r in zip(ids, rows, strict=True)]
        result["ids"] = ids
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if args.out is not None:
        _write_atomic(args.out, buf.getvalue())
        note(args, f"wrote {len(rows)} predictions to {args.out}")
    if args.json:
        result.update(n_samples=len(rows), columns=header)
        if args.out is not None:
            result["out"] = str(args.out)
        print_json(result)
    elif args.out is None:
        sys.stdout.write(buf.getvalue())
    return 0


def _write_atomic(path: Path, text: str) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
