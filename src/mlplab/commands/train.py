"""``mlplab train``: train a network on a built-in dataset and report accuracies."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlplab.data import DATASETS

HELP = "train a network (default: breast-cancer data, [30, 16, 8, 1] ReLU network)"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from mlplab import activations, initializers, optimizers

    p = sub.add_parser("train", help=HELP, description=HELP)
    p.add_argument(
        "--dataset",
        default="breast_cancer",
        choices=DATASETS[:4] + DATASETS[4:],
        help="built-in dataset (default: breast_cancer, 569 × 30)",
    )
    p.add_argument("--data", type=Path, default=None, help="train on a CSV file (header row)")
    p.add_argument("--target", default=None, help="with --data: the column to predict")
    p.add_argument(
        "--task",
        choices=["classification", "regression"],
        default=None,
        help="with --data: default inferred from the target column",
    )
    p.add_argument(
        "--layers",
        default="16,8",
        help="hidden layer sizes, comma-separated (default: 16,8; '' for none)",
    )
    p.add_argument(
        "--activation",
        default="relu",
        choices=sorted(activations.ACTIVATIONS),
        help="hidden activation (default: relu)",
    )
    p.add_argument(
        "--init",
        default=None,
        choices=sorted(initializers.INITIALIZERS),
        help="weight initializer (default: he for relu, xavier otherwise)",
    )
    p.add_argument(
        "--optimizer",
        default="adam",
        choices=sorted(optimizers.OPTIMIZERS),
        help="optimizer (default: adam)",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate α (default: 0.1 for sgd/momentum, 0.001 for adam)",
    )
    p.add_argument(
        "--beta",
        type=float,
        default=None,
        help="momentum β (Adam's β1, RMSProp's ρ); default 0.9",
    )
    p.add_argument(
        "--batch-size",
        type=_batch_size,
        default=32,
        help="mini-batch size; 'full' or 0 for batch gradient descent (default 32)",
    )
    p.add_argument("--epochs", type=int, default=100, help="epochs (default 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--l2", type=float, default=0.0, help="L2 penalty λ (default 0)")
    p.add_argument(
        "--test-size",
        type=float,
        default=0.25,
        help="fraction held out for testing (default 0.25)",
    )
    p.add_argument(
        "--no-normalize",
        action="store_true",
        help="do not standardize the inputs (on by default)",
    )
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for model.npz, learning_curve.png and metrics.json",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object on stdout (progress goes to stderr)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over MPI ranks: run as 'mpiexec -n K mlplab train --distributed' "
        "(needs mlplab[mpi]); rank 0 prints and writes --out",
    )
    return p


def _batch_size(text: str) -> int | None:
    if text.strip().lower() in ("full", "none", "0", "all"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer or 'full', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 1 (or 'full'), got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from mlplab.progress import ProgressBar
    from mlplab.recipes import train_dataset

    if not 0.0 < args.test_size < 1.0:
        raise ValueError(f"--test-size must lie in (0, 1), got {args.test_size}")
    callbacks = [] if args.quiet else [ProgressBar(stream=sys.stderr)]
    if getattr(args, "distributed", False):  # one row shard per MPI rank: mlplab.distributed
        from mlplab.distributed import train_dataset  # type: ignore[no-redef]
    result = (_csv_trainer(args) if args.data is not None else train_dataset)(
        args.dataset,
        layers=args.layers,
        activation=args.activation,
        init=args.init,
        optimizer=args.optimizer,
        lr=args.lr,
        beta=args.beta,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=args.seed,
        test_size=args.test_size,
        normalize=not args.no_normalize,
        l2=args.l2,
        dtype=args.dtype,
        callbacks=callbacks,
    )
    if result is None:  # an MPI rank other than 0: rank 0 alone prints and writes
        return 0
    m = result.metrics
    if args.out is not None:
        _write_outputs(args.out, result)
    if args.json:
        out = dict(m)
        out["dataset"] = args.dataset
        out.update(
            {k: result.options[k] for k in ("dataset", "data", "target", "task") if args.data}
        )
        out["layer_sizes"] = result.net.layer_sizes
        if args.out is not None:
            out["out"] = str(args.out)
        print(json.dumps(out))
    else:
        print(result.net.summary())
        if "train_accuracy" in m:
            print(f"train accuracy: {m['train_accuracy']:.4f}")
            print(f"test accuracy:  {m['test_accuracy']:.4f}")
        print(f"final cost J:   {m['final_cost']:.6f}  ({m['epochs']} epochs)")
        if args.out is not None:
            print(f"wrote {args.out}/model.npz, learning_curve.png, metrics.json")
    return 0


def _write_outputs(out: Path, result: Any) -> None:
    from mlplab import io, plots

    out.mkdir(parents=True, exist_ok=True)
    io.save(
        result.net,
        out / "model.npz",
        history=result.history,
        metadata={"metrics": result.metrics, "options": result.options},
        data_info=result.data_info,
    )
    ax = plots.plot_loss(
        result.history,
        title=f"Learning curve ({result.options.get('dataset', 'data')})",
    )
    plots.save_figure(ax, out / "learning_curve.png")
    (out / "metrics.json").write_text(json.dumps(result.metrics, indent=2) + "\n")


def _csv_trainer(args: argparse.Namespace) -> Any:
    """``train_dataset``'s signature, reading ``--data FILE.csv --target COLUMN`` instead."""
    from mlplab.recipes import train_csv

    def train(_dataset: str, **kwargs: Any) -> Any:
        return train_csv(args.data, args.target, task=args.task, **kwargs)

    return train
