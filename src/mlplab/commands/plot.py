"""``mlplab plot MODEL --kind KIND --out FILE.png``: pictures of a saved model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlplab.commands._common import Model, add_output_options, add_sep_option, note, print_json

HELP = "plot a saved model: loss, boundary, gradients, activations or confusion"
KINDS = ("loss", "boundary", "gradients", "activations", "confusion")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser("plot", help=HELP, description=HELP)
    p.add_argument("model", type=Path, help="model file (.npz)")
    p.add_argument("--kind", choices=KINDS, default="loss", help="what to plot (default: loss)")
    p.add_argument("--out", type=Path, required=True, help="image file to write (.png, .svg, .pdf)")
    p.add_argument(
        "--data", type=Path, default=None, help="CSV file for boundary/activations/confusion"
    )
    p.add_argument("--target", default=None, help="target column of --data")
    add_sep_option(p)
    add_output_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Draw ``--kind`` for the model file and write it to ``--out``."""
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window
    from mlplab import plots

    model = Model(args.model)
    X, y = _read_data(args, model)
    kind = args.kind
    ax = _PLOTTERS.get(kind, _plot_confusion)(args, model, X, y)  # as before: else confusion
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plots.save_figure(ax, args.out)
    if args.json:
        print_json({"out": str(args.out), "kind": kind, "model": str(args.model)})
    else:
        note(args, f"wrote {args.out}")
    return 0


def _title(args: argparse.Namespace) -> str:
    """The model file's name for plot titles (``folder/model.npz`` for the default name)."""
    return (
        args.model.name if args.model.name != "model.npz" else f"{args.model.parent.name}/model.npz"
    )


def _history(model: Model) -> dict[str, Any]:
    """The training history stored in the model file ({} when there is none)."""
    return model.header.get("history") or {}


def _read_data(args: argparse.Namespace, model: Model) -> tuple[Any, Any]:
    """X from ``--data`` (None without it), and y: class indices when the target is there."""
    X = y = None
    if args.data is not None:
        target = args.target or model.target
        inputs = model.read_csv(args.data, target, args.sep)
        frame, X = inputs.frame, inputs.X
        if target is not None and target in frame.columns and model.task == "classification":
            from mlplab.persist.csvdata import frame_labels

            y = frame_labels(frame, target, model.labels)
    return X, y


def _plot_loss(args: argparse.Namespace, model: Model, X: Any, y: Any) -> Any:
    """--kind loss: the learning curve from the stored history."""
    from mlplab import plots

    hist = _history(model)
    if not hist.get("loss"):
        raise ValueError(f"{args.model}: this model file has no training history")
    return plots.plot_loss(hist, title=f"Learning curve ({_title(args)})")


def _plot_gradients(args: argparse.Namespace, model: Model, X: Any, y: Any) -> Any:
    """--kind gradients: ‖dW[l]‖ per layer from the stored history."""
    from mlplab import plots

    return plots.plot_gradient_norms(
        _history(model), title=f"Gradient norms per layer ({_title(args)})"
    )


def _plot_activations(args: argparse.Namespace, model: Model, X: Any, y: Any) -> Any:
    """--kind activations: histograms on --data, else the stored bands across training."""
    from mlplab import plots

    if X is not None:
        return plots.plot_activation_histograms(
            model.net, X, title=f"Activations on {args.data.name}"
        )
    return plots.plot_activations(
        _history(model), title=f"Hidden activations across training ({_title(args)})"
    )


def _plot_boundary(args: argparse.Namespace, model: Model, X: Any, y: Any) -> Any:
    """--kind boundary: class regions of a two-input classifier (and --data's points)."""
    from mlplab import plots

    if model.task != "classification" or model.multilabel:
        raise ValueError("a decision boundary needs a single-label classifier")
    predictor = model.estimator if model.estimator is not None else model.net
    ax = plots.plot_decision_boundary(
        predictor,
        X,
        y,
        bounds=None if X is not None else _default_bounds(model),
        classes=list(model.labels),
        title=f"Decision boundary ({_title(args)})",
    )
    names = model.feature_names or ["x1", "x2"]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    return ax


def _default_bounds(model: Model) -> tuple[float, float, float, float]:
    """Without data: μ ± 3σ of the training inputs (when normalized), else ±3."""
    std = model.net.standardizer
    if std is not None:
        lo, hi = std.mean_ - 3 * std.scale_, std.mean_ + 3 * std.scale_
        return (lo[0], hi[0], lo[1], hi[1])
    return (-3.0, 3.0, -3.0, 3.0)


def _plot_confusion(args: argparse.Namespace, model: Model, X: Any, y: Any) -> Any:
    """--kind confusion: on --data with its targets, else the stored test-split matrix."""
    from mlplab import plots

    if model.task != "classification" or model.multilabel:
        raise ValueError("a confusion matrix needs a single-label classifier")
    labels = [str(c) for c in model.labels]
    if y is not None:
        from sklearn.metrics import confusion_matrix

        matrix = confusion_matrix(y, model.predict_indices(X), labels=range(len(labels)))
        return plots.plot_confusion_matrix(
            matrix=matrix, labels=labels, title=f"Confusion matrix ({args.data.name})"
        )
    stored = ((model.header.get("metadata") or {}).get("metrics") or {}).get(
        "test_confusion_matrix"
    )
    if stored is None:
        raise ValueError(
            f"{args.model}: no stored confusion matrix; pass --data FILE.csv --target COLUMN"
        )
    return plots.plot_confusion_matrix(
        matrix=stored, labels=labels, title=f"Confusion matrix, test split ({_title(args)})"
    )


_PLOTTERS = {
    "loss": _plot_loss,
    "gradients": _plot_gradients,
    "activations": _plot_activations,
    "boundary": _plot_boundary,
    "confusion": _plot_confusion,
}
"""One function per ``--kind`` (every name in KINDS)."""
