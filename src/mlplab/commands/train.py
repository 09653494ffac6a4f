"""``mlplab train``: train a network on a built-in dataset and report accuracies."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from mlplab.core.data import DATASETS
from mlplab.train.callbacks import Callback

HELP = "train a network (default: breast-cancer data, [30, 16, 8, 1] ReLU network)"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The ``train`` subcommand; its options in --help order, one group per helper."""
    p = sub.add_parser("train", help=HELP, description=HELP)
    _add_data_options(p)
    _add_column_options(p)
    _add_network_options(p)
    _add_optimizer_options(p)
    _add_lecture2_options(p)
    _add_preprocessing_options(p)
    _add_output_options(p)
    _add_reliability_options(p)
    return p


def _add_data_options(p: argparse.ArgumentParser) -> None:
    """--dataset, or --data FILE.csv with --target and --task."""
    p.add_argument(
        "--dataset",
        default="breast_cancer",
        choices=DATASETS[:4] + DATASETS[4:],
        help="built-in dataset (default: breast_cancer, 569 × 30)",
    )
    data = "a CSV file (header row), or a .npy file or folder of them (out of core; --target Y.npy)"
    p.add_argument("--data", type=Path, default=None, help=f"train on {data}")
    p.add_argument("--target", default=None, help="with --data: the column to predict")
    p.add_argument(
        "--task",
        choices=["classification", "regression"],
        default=None,
        help="with --data: default inferred from the target column",
    )


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"must be comma-separated column names, got {text!r}")
    return names


def _add_column_options(p: argparse.ArgumentParser) -> None:
    """With --data: which columns, how text and empty cells are encoded, the separator."""
    from mlplab.commands._common import add_sep_option

    g = p.add_argument_group("CSV columns (with --data; stored in the model file)")
    for flag, what in (
        ("--features", "only these columns are features, in this order"),
        ("--drop", "leave these columns out (e.g. notes, leaks of the target)"),
        ("--categorical", "one-hot encode these columns even if they hold numbers (codes)"),
    ):
        g.add_argument(flag, type=_names, action="extend", default=None, metavar="A,B", help=what)
    g.add_argument(
        "--id-column",
        default=None,
        metavar="NAME",
        help="a column of row ids: never a feature; predict copies it into its output",
    )
    g.add_argument(
        "--missing",
        choices=["error", "drop", "mean", "median"],
        default="error",
        help="empty cells: an error naming the cell (default), drop the row, or fill with the "
        "training rows' mean or median (text columns: the most frequent category); the fill "
        "values are stored and predict/evaluate apply them",
    )
    g.add_argument(
        "--unknown-categories",
        choices=["error", "zero"],
        default="error",
        help="at predict time, a category the training file did not have: an error naming "
        "the cell (default) or the all-zero one-hot code",
    )
    add_sep_option(g)


def _column_options(args: argparse.Namespace) -> dict[str, Any]:
    """The plan options of ``--data``; an error when one is given without --data."""
    given = {
        "features": args.features,
        "drop": args.drop or [],
        "categorical": args.categorical or [],
        "id_column": args.id_column,
        "missing": args.missing,
        "unknown": args.unknown_categories,
    }
    used = [k for k, v in given.items() if v and v not in ("error",)] + (["sep"] * bool(args.sep))
    if args.data is None and used:
        flag = "--" + used[0].replace("_", "-").replace("unknown", "unknown-categories")
        raise ValueError(f"{flag} applies to --data FILE.csv only")
    return given


def _add_network_options(p: argparse.ArgumentParser) -> None:
    """--layers, --activation, --init."""
    from mlplab.core import activations, initializers

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


def _add_optimizer_options(p: argparse.ArgumentParser) -> None:
    """--optimizer, --lr, --beta, --batch-size, --epochs, --seed, --l2."""
    from mlplab.core import optimizers

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


def _add_lecture2_options(p: argparse.ArgumentParser) -> None:
    """--dropout, --batch-norm, --lr-schedule, --clip (the lecture after the notes)."""
    p.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        metavar="RATE",
        help="drop each hidden unit with probability RATE in training (inverted dropout, "
        "keep probability p = 1 - RATE; default 0: none)",
    )
    p.add_argument(
        "--batch-norm",
        action="store_true",
        help="batch-normalize every hidden layer's z (running averages at prediction)",
    )
    p.add_argument(
        "--lr-schedule",
        default=None,
        metavar="SPEC",
        help="learning-rate decay, counted in epochs: step:S[:GAMMA], exponential:GAMMA, "
        "inverse_time:DECAY, cosine[:E], warmup:W[:THEN] (e.g. warmup:5:cosine)",
    )
    p.add_argument(
        "--clip",
        type=float,
        default=None,
        metavar="C",
        help="clip the gradient to global norm C before each step",
    )


def _lecture2_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe's keyword arguments for --dropout, --batch-norm, --lr-schedule, --clip."""
    rate = getattr(args, "dropout", 0.0)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"--dropout must lie in [0, 1), got {rate}")
    if args.clip is not None and not args.clip > 0:
        raise ValueError(f"--clip must be > 0, got {args.clip}")
    options: dict[str, Any] = {}
    if rate:
        options["keep_prob"] = 1.0 - rate
    if args.batch_norm:
        options["batch_norm"] = True
    out: dict[str, Any] = {"network_options": options} if options else {}
    if args.lr_schedule:
        out["lr_schedule"] = args.lr_schedule
    if args.clip is not None:
        out["clip"] = args.clip
    return out


def _add_preprocessing_options(p: argparse.ArgumentParser) -> None:
    """--test-size, --no-normalize, --dtype."""
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
    b = "numpy (default) or torch: PyTorch CPU tensors, for large layers (README: Performance)"
    p.add_argument("--backend", default="numpy", choices=["numpy", "torch"], help=b)


def _add_output_options(p: argparse.ArgumentParser) -> None:
    """--out, --json, --quiet, --distributed."""
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


def _add_reliability_options(p: argparse.ArgumentParser) -> None:
    """--checkpoint DIR, --checkpoint-every N, --resume, --restore-best."""
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/checkpoint.npz during training (and keep the previous one)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="N",
        help="checkpoint every N steps (default: at the end of every epoch)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --checkpoint DIR exactly where it stopped (--epochs "
        "counts from its start)",
    )
    p.add_argument(
        "--restore-best",
        action="store_true",
        help="end with the parameters of the epoch with the lowest training cost",
    )


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
    from mlplab.recipes import train_dataset
    from mlplab.train.progress import ProgressBar

    if not 0.0 < args.test_size < 1.0:
        raise ValueError(f"--test-size must lie in (0, 1), got {args.test_size}")
    fit_options = {**_fit_options(args), **_lecture2_kwargs(args), "backend": args.backend}
    keep = _KeepTrainer()
    callbacks = [keep] if args.quiet else [keep, ProgressBar(stream=sys.stderr)]
    if getattr(args, "distributed", False):  # one row shard per MPI rank (train/mpi.py)
        fit_options["comm"] = True
    train = _csv_trainer(args) if args.data is not None else train_dataset
    _column_options(args)  # refuse the column options without --data
    result = _reliably(train, args, keep)(
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
        **fit_options,
    )
    if result is None:  # an MPI rank other than 0: rank 0 alone prints and writes
        return 0
    if keep.trainer is not None and keep.trainer.interrupted:
        return _save_interrupted(args, result, keep.trainer)
    if args.out is not None:
        _write_outputs(args.out, result)
    if args.json:
        out = dict(result.metrics)
        out["dataset"] = args.dataset
        out.update(
            {k: result.options[k] for k in ("dataset", "data", "target", "task") if args.data}
        )
        out["layer_sizes"] = result.net.layer_sizes
        if args.out is not None:
            out["out"] = str(args.out)
        print(json.dumps(out))
    else:
        _print_results(args, result)
    return 0


def _print_results(args: argparse.Namespace, result: Any) -> None:
    """The summary, the metrics of the task on train and test, the test confusion matrix."""
    from mlplab.commands._common import print_confusion

    m = result.metrics
    print(result.net.summary())
    if "train_accuracy" in m:
        print(f"train accuracy: {m['train_accuracy']:.4f}")
        if m.get("test_accuracy") is not None:
            print(f"test accuracy:  {m['test_accuracy']:.4f}")
        for part in ("train", "test"):
            if m.get(f"{part}_log_loss") is not None:
                print(f"{part} log-loss: ".ljust(16) + f"{m[f'{part}_log_loss']:.4f}")
    else:
        for part in ("train", "test"):
            if m.get(f"{part}_r2") is not None:
                print(
                    f"{part} R²: ".ljust(10) + f"{m[f'{part}_r2']:.4f}   MSE: "
                    f"{m[f'{part}_mse']:.6g}   MAE: {m[f'{part}_mae']:.6g}"
                )
    print(f"final cost J:   {m['final_cost']:.6f}  ({m['epochs']} epochs)")
    if m.get("test_confusion_matrix") is not None and not args.quiet:
        classes = (result.data_info or {}).get("classes")
        names = (
            list(classes) if classes is not None else list(range(len(m["test_confusion_matrix"])))
        )
        print_confusion(names, m["test_confusion_matrix"], "test confusion matrix")
    if m.get("n_dropped_rows"):
        print(f"dropped {m['n_dropped_rows']} rows with empty cells (--missing drop)")
    if args.out is not None:
        print(f"wrote {args.out}/model.npz, learning_curve.png, metrics.json")


def _write_outputs(out: Path, result: Any) -> None:
    from mlplab import plots
    from mlplab.persist import modelfile as io

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


# -- checkpoints, Ctrl-C and divergence (issue 5) --------------------------------------


class _KeepTrainer(Callback):
    """Remembers the Trainer, so the command can save what it has after Ctrl-C."""

    trainer: Any = None


def _fit_options(args: argparse.Namespace) -> dict[str, Any]:
    """``{"fit_kwargs": {...}}`` for the recipe, or {} when no option is used."""
    ckpt = args.checkpoint
    if not (ckpt or args.resume or args.checkpoint_every is not None or args.restore_best):
        return {}
    if ckpt is None and (args.resume or args.checkpoint_every is not None):
        raise ValueError("--resume and --checkpoint-every need --checkpoint DIR")
    if ckpt is not None and ckpt.exists() and not ckpt.is_dir():
        raise ValueError(f"--checkpoint must be a folder, but {ckpt} is a file")
    if args.checkpoint_every is not None and args.checkpoint_every < 1:
        raise ValueError(f"--checkpoint-every must be >= 1, got {args.checkpoint_every}")
    return {
        "fit_kwargs": {
            "checkpoint": None if ckpt is None else ckpt / "checkpoint.npz",
            "checkpoint_every": args.checkpoint_every,
            "resume": args.resume,
            # the training cost: the held-out curve the recipe logs must not select
            "restore_best": "loss" if args.restore_best else False,
        }
    }


def _reliably(train: Any, args: argparse.Namespace, keep: _KeepTrainer) -> Any:
    """``train`` that warns nothing on Ctrl-C (one line is printed after) and that saves
    the model (last finite or best parameters) when training diverges."""
    from mlplab.commands._common import save_diverged
    from mlplab.train.loop import DivergenceError

    def one_line(message: Any, category: Any, *rest: Any, **kw: Any) -> None:
        print(f"mlplab: warning: {message}", file=sys.stderr)

    def wrapped(*a: Any, **kw: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="training interrupted")
            warnings.showwarning = one_line  # e.g. a damaged checkpoint skipped on --resume
            try:
                return train(*a, **kw)
            except DivergenceError as exc:
                save_diverged(args, keep.trainer, exc)
                raise

    return wrapped


def _save_interrupted(args: argparse.Namespace, result: Any, trainer: Any) -> int:
    """After Ctrl-C: save the model and a checkpoint, say where in one line; exit 130."""
    from mlplab.persist import modelfile as io

    folder = args.out or args.checkpoint or Path("mlplab-interrupted")
    if args.out is not None:
        _write_outputs(args.out, result)
        model = args.out / "model.npz"
    else:
        model = io.save(result.net, Path(folder) / "model.npz", history=result.history)
    ckpt = trainer.checkpoint_path
    if ckpt is None:
        ckpt = trainer.save_checkpoint(Path(folder) / "checkpoint.npz")
    print(
        f"mlplab: interrupted at epoch {trainer.epoch}, step {trainer.step}: saved the model "
        f"to {model} and a checkpoint to {ckpt} (continue with --checkpoint "
        f"{Path(ckpt).parent} --resume)",
        file=sys.stderr,
    )
    return 130


def _csv_trainer(args: argparse.Namespace) -> Any:
    """``train_dataset``'s signature, reading ``--data FILE.csv --target COLUMN`` instead."""
    from mlplab.recipes import train_csv, train_npy

    columns = _column_options(args)

    def train(_dataset: str, **kwargs: Any) -> Any:
        if args.data.suffix == ".npy" or args.data.is_dir():  # out of core
            return train_npy(args.data, args.target, task=args.task, **kwargs)
        return train_csv(
            args.data, args.target, task=args.task, sep=args.sep, columns=columns, **kwargs
        )

    return train
