"""``mlplab evaluate MODEL FILE.csv --target COLUMN``: metrics of a saved model on a CSV file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlplab.commands._common import (
    Model,
    add_output_options,
    add_sep_option,
    note,
    print_confusion,
    print_json,
)

HELP = "measure a saved model on a labelled CSV file (accuracy, log-loss, confusion; R², MSE)"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser("evaluate", help=HELP, description=HELP)
    p.add_argument("model", type=Path, help="model file (.npz)")
    p.add_argument("data", type=Path, help="CSV file with the features and the target column")
    p.add_argument(
        "--target",
        default=None,
        help="the target column (default: the one the model was trained on)",
    )
    add_sep_option(p)
    add_output_options(p)
    return p


def evaluate(
    model: Model, data: Path, target: str | None, sep: str | None = None, args: Any = None
) -> dict[str, Any]:
    """The metrics as a dict (what ``--json`` prints)."""
    import numpy as np

    from mlplab.persist.csvdata import frame_labels, target_values
    from mlplab.train.metrics import _confusion  # scikit-learn's counts, without importing it

    target = target or model.target
    if not target:
        raise ValueError("this model does not name its target column: pass --target COLUMN")
    inputs = model.read_csv(data, target, sep)
    if args is not None:
        inputs.notes(args)
    frame, X = inputs.frame, inputs.X
    frame.index(target)
    out: dict[str, Any] = {"n_samples": frame.n_rows, "target": target, "task": model.task}
    source = (model.header.get("data") or {}).get("source")
    out["training_file"] = bool(source and Path(source).resolve() == Path(data).resolve())
    if model.task == "regression":
        y = target_values(frame, target)
        pred = model.predict_values(X)
        if pred.shape[1] != 1:
            raise ValueError("evaluate handles single-output regression models only")
        from sklearn import metrics  # its R², MSE and MAE, as always (a classifier: none)

        out["r2"] = float(metrics.r2_score(y, pred[:, 0]))
        out["mse"] = float(metrics.mean_squared_error(y, pred[:, 0]))
        out["mae"] = float(metrics.mean_absolute_error(y, pred[:, 0]))
        return out
    if model.multilabel:
        raise ValueError("evaluate handles single-label classifiers only")
    y = frame_labels(frame, target, model.labels)
    P = model.proba(X)
    pred = P.argmax(axis=1)
    K = len(model.labels)
    out["accuracy"] = float((pred == y).mean())
    # −(1/n) Σ log P(true class), with P clipped away from 0 so one sure mistake stays finite
    out["log_loss"] = float(-np.log(np.clip(P[np.arange(len(y)), y], 1e-15, 1.0)).mean())
    out["classes"] = model.labels.tolist()
    out["confusion_matrix"] = _confusion(y, pred, K).tolist()
    return out


def run(args: argparse.Namespace) -> int:
    out = evaluate(Model(args.model), args.data, args.target, args.sep, args)
    if out["training_file"]:
        note(
            args,
            f"mlplab: note: {args.data} is the file this model was trained on: these metrics "
            "include its training rows (measure on a held-out file)",
        )
    if args.json:
        print_json(out)
        return 0
    print(f"{out['n_samples']} samples, target {out['target']!r} ({out['task']})")
    if out["task"] == "regression":
        print(f"R²:  {out['r2']:.4f}\nMSE: {out['mse']:.6g}\nMAE: {out['mae']:.6g}")
        return 0
    print(f"accuracy: {out['accuracy']:.4f}\nlog-loss: {out['log_loss']:.4f}")
    if not args.quiet:
        print_confusion(out["classes"], out["confusion_matrix"], "confusion matrix")
    return 0
