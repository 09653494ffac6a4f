"""``mlplab evaluate MODEL FILE.csv --target COLUMN``: metrics of a saved model on a CSV file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlplab.commands._common import Model, add_output_options, print_json

HELP = "measure a saved model on a labelled CSV file (accuracy, log-loss, confusion; R², MSE)"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("evaluate", help=HELP, description=HELP)
    p.add_argument("model", type=Path, help="model file (.npz)")
    p.add_argument("data", type=Path, help="CSV file with the features and the target column")
    p.add_argument(
        "--target",
        default=None,
        help="the target column (default: the one the model was trained on)",
    )
    add_output_options(p)
    return p


def evaluate(model: Model, data: Path, target: str | None) -> dict[str, Any]:
    """The metrics as a dict (what ``--json`` prints)."""
    import numpy as np
    from sklearn import metrics

    from mlplab.persist.csvdata import match_labels, numeric

    target = target or model.target
    if not target:
        raise ValueError("this model does not name its target column: pass --target COLUMN")
    table, X = model.read_csv(data, target)
    t = table.index(target)
    out: dict[str, Any] = {"n_samples": len(table.rows), "target": target, "task": model.task}
    if model.task == "regression":
        y = numeric(table, [t])[:, 0]
        pred = model.predict_values(X)
        if pred.shape[1] != 1:
            raise ValueError("evaluate handles single-output regression models only")
        out["r2"] = float(metrics.r2_score(y, pred[:, 0]))
        out["mse"] = float(metrics.mean_squared_error(y, pred[:, 0]))
        out["mae"] = float(metrics.mean_absolute_error(y, pred[:, 0]))
        return out
    if model.multilabel:
        raise ValueError("evaluate handles single-label classifiers only")
    y = match_labels(table, t, model.classes)
    P = model.proba(X)
    pred = P.argmax(axis=1)
    K = len(model.classes)
    out["accuracy"] = float((pred == y).mean())
    # −(1/n) Σ log P(true class), with P clipped away from 0 so one sure mistake stays finite
    out["log_loss"] = float(-np.log(np.clip(P[np.arange(len(y)), y], 1e-15, 1.0)).mean())
    out["classes"] = model.classes.tolist()
    out["confusion_matrix"] = metrics.confusion_matrix(y, pred, labels=np.arange(K)).tolist()
    return out


def run(args: argparse.Namespace) -> int:
    out = evaluate(Model(args.model), args.data, args.target)
    if args.json:
        print_json(out)
        return 0
    print(f"{out['n_samples']} samples, target {out['target']!r} ({out['task']})")
    if out["task"] == "regression":
        print(f"R²:  {out['r2']:.4f}\nMSE: {out['mse']:.6g}\nMAE: {out['mae']:.6g}")
        return 0
    print(f"accuracy: {out['accuracy']:.4f}\nlog-loss: {out['log_loss']:.4f}")
    if not args.quiet:
        names = [str(c) for c in out["classes"]]
        w = max(len(s) for s in [*names, "true \\ pred"]) + 1
        cw = max(max(len(s) for s in names), 5) + 1
        print("confusion matrix (rows: true class, columns: predicted):")
        print("true \\ pred".ljust(w) + "".join(s.rjust(cw) for s in names))
        for name, row in zip(names, out["confusion_matrix"], strict=True):
            print(name.ljust(w) + "".join(str(v).rjust(cw) for v in row))
    return 0
