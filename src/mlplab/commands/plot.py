"""``mlplab plot MODEL --kind KIND --out FILE.png``: pictures of a saved model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlplab.commands._common import Model, add_output_options, note, print_json

HELP = "plot a saved model: loss, boundary, gradients, activations or confusion"
KINDS = ("loss", "boundary", "gradients", "activations", "confusion")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("plot", help=HELP, description=HELP)
    p.add_argument("model", type=Path, help="model file (.npz)")
    p.add_argument("--kind", choices=KINDS, default="loss", help="what to plot (default: loss)")
    p.add_argument("--out", type=Path, required=True, help="image file to write (.png, .svg, .pdf)")
    p.add_argument(
        "--data", type=Path, default=None, help="CSV file for boundary/activations/confusion"
    )
    p.add_argument("--target", default=None, help="target column of --data")
    add_output_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window
    from mlplab import plots

    model = Model(args.model)
    hist = model.header.get("history") or {}
    title = (
        args.model.name if args.model.name != "model.npz" else f"{args.model.parent.name}/model.npz"
    )
    X = y = None
    if args.data is not None:
        target = args.target or model.target
        table, X = model.read_csv(args.data, target)
        if target is not None and target in table.columns and model.task == "classification":
            from mlplab.persist.csvdata import match_labels

            y = match_labels(table, table.index(target), model.classes)
    kind = args.kind
    if kind == "loss":
        if not hist.get("loss"):
            raise ValueError(f"{args.model}: this model file has no training history")
        ax = plots.plot_loss(hist, title=f"Learning curve ({title})")
    elif kind == "gradients":
        ax = plots.plot_gradient_norms(hist, title=f"Gradient norms per layer ({title})")
    elif kind == "activations":
        if X is not None:
            ax = plots.plot_activation_histograms(
                model.net, X, title=f"Activations on {args.data.name}"
            )
        else:
            ax = plots.plot_activations(hist, title=f"Hidden activations across training ({title})")
    elif kind == "boundary":
        if model.task != "classification" or model.multilabel:
            raise ValueError("a decision boundary needs a single-label classifier")
        predictor = model.estimator if model.estimator is not None else model.net
        bounds = None
        if X is None:
            std = model.net.standardizer
            if std is not None:
                lo, hi = std.mean_ - 3 * std.scale_, std.mean_ + 3 * std.scale_
                bounds = (lo[0], hi[0], lo[1], hi[1])
            else:
                bounds = (-3.0, 3.0, -3.0, 3.0)
        ax = plots.plot_decision_boundary(
            predictor,
            X,
            y,
            bounds=bounds,
            classes=list(model.classes),
            title=f"Decision boundary ({title})",
        )
        names = model.feature_names or ["x1", "x2"]
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    else:  # confusion
        if model.task != "classification" or model.multilabel:
            raise ValueError("a confusion matrix needs a single-label classifier")
        labels = [str(c) for c in model.classes]
        if y is not None:
            from sklearn.metrics import confusion_matrix

            matrix = confusion_matrix(y, model.predict_indices(X), labels=range(len(labels)))
            ax = plots.plot_confusion_matrix(
                matrix=matrix, labels=labels, title=f"Confusion matrix ({args.data.name})"
            )
        else:
            stored = ((model.header.get("metadata") or {}).get("metrics") or {}).get(
                "test_confusion_matrix"
            )
            if stored is None:
                raise ValueError(
                    f"{args.model}: no stored confusion matrix; "
                    "pass --data FILE.csv --target COLUMN"
                )
            ax = plots.plot_confusion_matrix(
                matrix=stored, labels=labels, title=f"Confusion matrix, test split ({title})"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plots.save_figure(ax, args.out)
    if args.json:
        print_json({"out": str(args.out), "kind": kind, "model": str(args.model)})
    else:
        note(args, f"wrote {args.out}")
    return 0
