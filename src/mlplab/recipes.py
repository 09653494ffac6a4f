"""End-to-end recipes the CLI (and notebooks) call: data → normalized split → network →
training → metrics. No maths here; it only wires the library's pieces together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlplab._validation import check_unit_interval
from mlplab.core import optimizers as _opt
from mlplab.core.data import Standardizer, load_dataset, train_test_split
from mlplab.core.network import Network
from mlplab.train.callbacks import ActivationLogger, Callback, GradientNormLogger, History
from mlplab.train.loop import Trainer
from mlplab.train.mpi import shard_range
from mlplab.train.strategy import Local

DEFAULT_LR = {
    "sgd": 0.1,
    "gd": 0.1,
    "momentum": 0.1,
    "nesterov": 0.1,
    "rmsprop": 0.001,
    "adam": 0.001,
    "adamw": 0.001,
}
"""Learning rate used when none is given, per optimizer."""


def make_optimizer(name: str, lr: float | None = None, beta: float | None = None) -> Any:
    """An optimizer by name with the CLI's defaults (``beta`` is β, or Adam's β1)."""
    key = name.strip().lower()
    if key not in _opt.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(_opt.OPTIMIZERS)}")
    kwargs: dict[str, float] = {"lr": DEFAULT_LR[key] if lr is None else lr}
    if beta is not None:
        beta = check_unit_interval(beta, "beta")
        if key in ("momentum", "nesterov"):
            kwargs["beta"] = beta
        elif key in ("adam", "adamw"):
            kwargs["b1"] = beta
        elif key == "rmsprop":
            kwargs["rho"] = beta
        else:
            raise ValueError(f"--beta does not apply to the {key!r} optimizer")
    return _opt.get(key, **kwargs)


@dataclass
class TrainResult:
    """What a recipe produced: the trained network, its history and the metrics."""

    net: Network
    history: History
    metrics: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    data_info: dict[str, Any] | None = None
    """What inputs and outputs mean (feature names, target, label encoding): saved in
    the model file for ``mlplab predict``/``evaluate``."""


def parse_layers(text: str | list[int]) -> list[int]:
    """``"16,8"`` → [16, 8] (hidden sizes); an empty string means no hidden layer."""
    if isinstance(text, list):
        return text
    text = text.strip()
    if not text or text.lower() in ("none", "0"):
        return []
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise ValueError(
            f"--layers must be comma-separated integers like 16,8, got {text!r}"
        ) from None
    for s in sizes:
        if s <= 0:
            raise ValueError(f"--layers sizes must be >= 1, got {s}")
    return sizes


def prepare_run(
    X: Any,
    y: Any,
    *,
    task: str,
    layers: list[int] | str,
    activation: str,
    init: str | None,
    optimizer: str,
    lr: float | None,
    beta: float | None,
    seed: int,
    test_size: float,
    normalize: bool,
    l2: float,
    dtype: str,
    X_test: Any = None,
    y_test: Any = None,
    network_options: dict[str, Any] | None = None,
    schedule: tuple[Any, Any, Any, int] | None = None,
) -> tuple[list[int], Any, Any, Any, Any, Network, Any]:
    """The set-up every recipe shares: split (stratified), head from the targets,
    Standardizer fit on the training part, Network and optimizer.

    Returns ``(hidden_sizes, X_tr, X_te, y_tr, y_te, net, opt)``. ``network_options``
    go to the Network; ``schedule`` is ``(lr_schedule, clip, batch_size, epochs)`` for
    :func:`schedule_and_clip`.
    """
    hidden_sizes = parse_layers(layers)
    X = np.asarray(X)
    y = np.asarray(y)
    if X_test is None:
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=test_size, seed=seed, stratify=task == "classification"
        )
    else:
        X_tr, X_te, y_tr, y_te = X, np.asarray(X_test), y, np.asarray(y_test)
    if task == "classification":
        n_classes = int(max(y_tr.max(), y_te.max() if y_te.size else 0)) + 1
        output, n_out = ("binary", 1) if n_classes <= 2 else ("multiclass", n_classes)
    elif task == "regression":
        output, n_out = "regression", (1 if y_tr.ndim == 1 else y_tr.shape[1])
    else:
        raise ValueError(f"task must be classification or regression, got {task!r}")
    std = Standardizer().fit(X_tr) if normalize else None
    net = Network(
        [X.shape[1], *hidden_sizes, n_out],
        hidden=activation,
        output=output,
        init=init,
        seed=seed,
        dtype=dtype,
        l2=l2,
        standardizer=std,
        **(network_options or {}),  # keep_prob, batch_norm (the next lecture)
    )
    opt = make_optimizer(optimizer, lr, beta)
    if schedule is not None:
        spec, clip, batch_size, epochs = schedule
        opt = schedule_and_clip(opt, spec, clip, len(X_tr), batch_size, epochs)
    return hidden_sizes, X_tr, X_te, y_tr, y_te, net, opt


def train_arrays(
    X: Any,
    y: Any,
    *,
    task: str = "classification",
    layers: list[int] | str = "16,8",
    activation: str = "relu",
    init: str | None = None,
    optimizer: str = "adam",
    lr: float | None = None,
    beta: float | None = None,
    batch_size: int | None = 32,
    epochs: int = 100,
    seed: int = 0,
    test_size: float = 0.25,
    normalize: bool = True,
    l2: float = 0.0,
    dtype: str = "float32",
    callbacks: list[Callback] | None = None,
    X_test: Any = None,
    y_test: Any = None,
    fit_kwargs: dict[str, Any] | None = None,
    comm: Any = None,
    network_options: dict[str, Any] | None = None,
    lr_schedule: str | None = None,
    clip: float | None = None,
    backend: str = "numpy",
) -> TrainResult | None:
    """Split (stratified), normalize on the training part, train, and measure.

    ``y`` holds class labels 0..K−1 for classification (K = 2: binary head with one
    output; K > 2: multiclass head) or values for regression.

    With ``comm`` (an mpi4py communicator) every rank passes the full arrays, makes the
    same split, standardizer and network, and trains on its contiguous rows of the
    training part (:class:`mlplab.train.mpi.MPI`): the model is the one a single process
    trains, to rounding. ``callbacks`` run on rank 0 only (progress, logging); a stop
    they request applies to every rank; rank 0 writes the checkpoint of ``fit_kwargs``
    and the run resumes on any number of ranks. Returns the result on rank 0 and None on
    the other ranks: only rank 0 prints and writes files.

    The next lecture's options: ``network_options`` (``keep_prob``, ``batch_norm``: the
    Network's), ``lr_schedule`` (a schedule counted in epochs, as
    :func:`mlplab.core.schedules.parse` reads it) and ``clip`` (the optimizer wrapped in
    :func:`~mlplab.core.optimizers.clip_by_global_norm`).

    ``backend="torch"`` trains on PyTorch CPU tensors (the array-API path; the network
    comes back to NumPy for the metrics and files): it pays on large products where
    PyTorch's BLAS beats NumPy's (README, "Performance").
    """
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if backend == "torch" and comm is not None:
        raise ValueError("backend='torch' trains in one process; MPI trains on NumPy arrays")
    strategy = _strategy(comm)
    setup = dict(task=task, layers=layers, activation=activation, init=init)
    setup.update(optimizer=optimizer, lr=lr, beta=beta, seed=seed, test_size=test_size)
    setup.update(normalize=normalize, l2=l2, dtype=dtype, X_test=X_test, y_test=y_test)
    setup.update(network_options=network_options, schedule=(lr_schedule, clip, batch_size, epochs))
    prepared = strategy.agree(lambda: prepare_run(X, y, **setup))  # type: ignore[arg-type]
    hidden_sizes, X_tr, X_te, y_tr, y_te, net, opt = prepared
    lo, hi = shard_range(len(X_tr), strategy.rank, strategy.size)
    # Record what `mlplab plot` shows: per-layer gradient norms and activation percentiles.
    recorders = [GradientNormLogger(), ActivationLogger(X_tr)]
    mine = (callbacks or []) if strategy.is_root else []
    trainer = Trainer(net, opt, [*recorders, *mine], seed=seed, strategy=strategy)
    batch_size = None if batch_size is None or batch_size >= len(X_tr) else batch_size
    validation = (X_te, y_te) if len(X_te) else None  # a held-out curve, never used to select
    data = (X_tr[lo:hi], y_tr[lo:hi], validation)
    history = _fit(trainer, backend, data, epochs, batch_size, fit_kwargs or {})
    if not strategy.is_root:
        return None
    metrics = _metrics(task, net, history, X_tr, X_te, y_tr, y_te)
    options = {"layers": hidden_sizes, "activation": activation, "init": net.init}
    options.update(optimizer=opt.name, hyperparams=opt.hyperparams, batch_size=batch_size)
    options.update(epochs=epochs, seed=seed, normalize=normalize, l2=l2, dtype=dtype, task=task)
    options.update(network_options or {}, lr_schedule=lr_schedule, clip=clip)
    if comm is not None:
        metrics["mpi_ranks"] = options["mpi_ranks"] = strategy.size
        metrics["allreduce_bytes_per_step"] = strategy.bytes_per_step
    return TrainResult(net, history, metrics, options)


def _fit(
    trainer: Trainer, backend: str, data: tuple[Any, Any, Any], epochs: int, batch_size: Any,
    fit_kwargs: dict[str, Any],
) -> Any:  # fmt: skip
    """``trainer.fit`` on (X, y, validation data), on PyTorch tensors for ``backend="torch"``
    (the network then comes back to NumPy, for the metrics and files)."""
    if backend == "torch":
        data = _on_torch(*data)
    X, y, val = data
    history = trainer.fit(X, y, epochs=epochs, batch_size=batch_size, validation_data=val,
                          **fit_kwargs)  # fmt: skip
    if backend == "torch":
        trainer.net.to(np)
    return history


def _on_torch(X: Any, y: Any, validation: Any) -> tuple[Any, Any, Any]:
    """X, y and the validation pair as PyTorch CPU tensors (the network follows X)."""
    try:
        import torch
    except ImportError:
        raise ValueError(
            "backend='torch' needs PyTorch: pip install 'mlplab[torch]' (the CPU wheel)"
        ) from None

    def t(a: Any) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a))

    val = None if validation is None else (t(validation[0]), t(validation[1]))
    return t(X), t(y), val


def schedule_and_clip(
    opt: Any, spec: str | None, clip: float | None, n: int, batch_size: int | None, epochs: int
) -> Any:
    """``opt`` with α on the schedule ``spec`` (counted in epochs of ⌈n/|B|⌉ steps) and
    its gradient clipped to global norm ``clip``; unchanged without either."""
    if spec:
        from mlplab.core import schedules

        steps = 1 if batch_size is None or batch_size >= n else -(-n // batch_size)
        lr = schedules.parse(spec, opt.hyperparams["lr"], steps, epochs)
        opt = _opt.get(opt.name, **{**opt.hyperparams, "lr": lr})
    if clip is not None:
        opt = _opt.clip_by_global_norm(opt, clip)
    return opt


def _metrics(
    task: str, net: Network, history: History, X_tr: Any, X_te: Any, y_tr: Any, y_te: Any
) -> dict[str, Any]:
    """Cost, accuracy (with the test confusion matrix) or R², on train and test."""
    metrics: dict[str, Any] = {
        "epochs": len(history.epoch),
        "final_cost": history.history["loss"][-1] if history.epoch else float(net.loss(X_tr, y_tr)),
        "n_train": len(X_tr),
        "n_test": len(X_te),
    }
    for part, X, y in (("train", X_tr, y_tr), ("test", X_te, y_te)):
        if task == "classification":
            metrics[f"{part}_accuracy"] = net.score(X, y) if len(X) else None
            metrics[f"{part}_log_loss"] = _log_loss(net, X, y) if len(X) else None
        else:
            metrics.update(_regression_metrics(net, X, y, part))
    if task == "classification" and len(X_te):
        k = max(net.layer_sizes[-1], 2)
        metrics["test_confusion_matrix"] = _confusion(y_te, net.predict(X_te), k).tolist()
    return metrics


def _confusion(y: Any, pred: Any, k: int) -> np.ndarray:
    """C[i, j] = # rows of class i predicted as j, for the classes 0..k−1 (as scikit-learn's
    ``confusion_matrix(y, pred, labels=range(k))``, without importing it: a bincount)."""
    y, pred = np.asarray(y), np.asarray(pred)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) and pred.dtype.kind in "iu"):
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(y, pred, labels=np.arange(k))
    y, pred = y.astype(np.int64), pred.astype(np.int64).ravel()
    keep = (y >= 0) & (y < k) & (pred >= 0) & (pred < k)
    return np.bincount(y[keep] * k + pred[keep], minlength=k * k).reshape(k, k)


def _log_loss(net: Network, X: Any, y: Any) -> float | None:
    """−(1/n) Σ log P(true class), P clipped away from 0 (as ``mlplab evaluate``)."""
    y = np.asarray(y)
    if y.ndim != 1:
        return None  # multi-label targets: the cost J is their log-loss
    P = np.asarray(net.predict_proba(X), dtype=np.float64)
    if P.shape[1] == 1:
        P = np.hstack([1 - P, P])
    return float(-np.log(np.clip(P[np.arange(len(y)), y.astype(np.int64)], 1e-15, 1.0)).mean())


def _regression_metrics(net: Network, X: Any, y: Any, part: str) -> dict[str, float | None]:
    """R², MSE and MAE of ``part`` (averaged over outputs); None for an empty part."""
    if not len(X):
        return {f"{part}_r2": None, f"{part}_mse": None, f"{part}_mae": None}
    Y = np.asarray(y, dtype=np.float64).reshape(len(X), -1)
    err = np.asarray(net.predict(X), dtype=np.float64).reshape(len(X), -1) - Y
    return {
        f"{part}_r2": float(net.score(X, y)),
        f"{part}_mse": float(np.mean(err**2)),
        f"{part}_mae": float(np.mean(np.abs(err))),
    }


def _strategy(comm: Any) -> Any:
    """One process, or the MPI ranks of ``comm`` (True: the world)."""
    if comm is None:
        return Local()
    from mlplab.train.mpi import MPI

    return MPI(None if comm is True else comm)


def train_dataset(
    dataset: str = "breast_cancer", comm: Any = None, **kwargs: Any
) -> TrainResult | None:
    """:func:`train_arrays` on a built-in dataset (see :func:`mlplab.data.load_dataset`).

    With ``comm`` every MPI rank loads it and keeps its rows: this is what
    ``mpiexec -n K mlplab train --distributed`` runs (``comm=True``: the world).
    """
    X, y = _strategy(comm).agree(lambda: load_dataset(dataset, seed=kwargs.get("seed", 0)))
    result = train_arrays(X, y, comm=comm, **kwargs)
    if result is None:
        return None
    result.options["dataset"] = dataset
    task = kwargs.get("task", "classification")
    result.data_info = {"task": task, "dataset": dataset}
    if task == "classification":
        result.data_info["classes"] = np.unique(y)
    return result


CSV_OPTIONS = ("features", "drop", "id_column", "categorical", "missing", "unknown")
"""The column options of :func:`train_csv` (those of :meth:`TablePlan.choose`)."""


def train_csv(
    path: Any,
    target: str | None,
    task: str | None = None,
    *,
    sep: str | None = None,
    columns: dict[str, Any] | None = None,
    **kwargs: Any,
) -> TrainResult | None:
    """:func:`train_arrays` on a CSV file with a header row and a ``target`` column.

    ``columns`` holds the options of :meth:`mlplab.persist.tableplan.TablePlan.choose`
    (``features``, ``drop``, ``id_column``, ``categorical``, ``missing``, ``unknown``):
    by default every other column is a feature, text columns are one-hot encoded and an
    empty cell is an error. The rows are split as :func:`train_arrays` splits them
    (same seed, stratified); fill values for empty cells are fitted on the training
    rows only. String class labels are encoded as indices into their sorted list, kept
    in ``result.data_info["classes"]``; the plan is ``data_info["preprocessing"]``
    (both go into the model file). The task is inferred from the target when not given.
    """
    from mlplab.persist.csvdata import training_data

    if not target:
        raise ValueError("--data needs --target COLUMN (the column to predict)")
    data = training_data(path, target, task, sep=sep, **(columns or {}))
    assert data.plan is not None
    idx = np.arange(len(data.y))
    i_tr, i_te, y_tr, y_te = train_test_split(
        idx,
        data.y,
        test_size=kwargs.get("test_size", 0.25),
        seed=kwargs.get("seed", 0),
        stratify=data.task == "classification",
    )
    data.plan.fit_fill(data.codes[i_tr])  # type: ignore[index]
    X_tr, X_te = data.features(i_tr), data.features(i_te)
    result = train_arrays(X_tr, y_tr, task=data.task, X_test=X_te, y_test=y_te, **kwargs)
    if result is None:
        return None
    result.options.update(
        dataset=str(path), data=str(path), target=target, task_inferred=data.task_inferred
    )
    result.data_info = {**data.plan.data_info(data.task, data.classes), "source": str(path)}
    if data.n_dropped:
        result.metrics["n_dropped_rows"] = data.n_dropped
    if data.classes is not None:
        result.metrics["classes"] = data.classes.tolist()
    return result
