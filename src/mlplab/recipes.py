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
from mlplab.train import metrics as _m
from mlplab.train.callbacks import ActivationLogger, Callback, GradientNormLogger, History
from mlplab.train.loop import Trainer
from mlplab.train.mpi import shard_range
from mlplab.train.rows import is_mapped, sample_rows
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
    shard: Any = None,
) -> tuple[list[int], Any, Any, Any, Any, Network, Any]:
    """The set-up every recipe shares: split (stratified), head from the targets,
    Standardizer fit on the training part, Network and optimizer.

    Returns ``(hidden_sizes, X_tr, X_te, y_tr, y_te, net, opt)``. ``network_options``
    go to the Network; ``schedule`` is ``(lr_schedule, clip, batch_size, epochs)`` for
    :func:`schedule_and_clip`. ``shard``: (n_classes, n_train of all ranks, the
    standardizer of all ranks' rows, n_test of all ranks) when X, y are one MPI rank's
    rows of a file read in parts (:func:`train_csv` with ``comm``).
    """
    hidden_sizes = parse_layers(layers)
    X = X if is_mapped(X) else np.asarray(X)  # .npy rows stay on disk (train_npy)
    y = np.asarray(y)
    if X_test is None:
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=test_size, seed=seed, stratify=task == "classification"
        )
    else:
        X_te = X_test if is_mapped(X_test) else np.asarray(X_test)
        X_tr, y_tr, y_te = X, y, np.asarray(y_test)
    n_train = len(X_tr) if shard is None else shard[1]
    if task == "classification":
        top = shard[0] - 1 if shard else max(y_tr.max(), y_te.max() if y_te.size else 0)
        n_classes = int(top) + 1
        output, n_out = ("binary", 1) if n_classes <= 2 else ("multiclass", n_classes)
    elif task == "regression":
        output, n_out = "regression", (1 if y_tr.ndim == 1 else y_tr.shape[1])
    else:
        raise ValueError(f"task must be classification or regression, got {task!r}")
    std = None
    if normalize:
        std = Standardizer().fit(X_tr) if shard is None else shard[2]
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
        opt = schedule_and_clip(opt, spec, clip, n_train, batch_size, epochs)
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
    shard: Any = None,
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

    ``shard`` (with ``comm``): X, y, X_test, y_test are this rank's rows only, the
    training rows being its block of the training set (:func:`train_csv` on a file read
    in parts); ``shard`` is (n_classes, n_train and the standardizer of all ranks, n_test).

    ``backend="torch"`` trains on PyTorch CPU tensors (the array-API path; the network
    comes back to NumPy for the metrics and files): it pays on large products where
    PyTorch's BLAS beats NumPy's (see the performance guide).
    """
    strategy = _strategy(comm, sharded=shard is not None, backend=backend)
    setup: dict[str, Any] = dict(task=task, layers=layers, activation=activation, init=init)
    setup.update(optimizer=optimizer, lr=lr, beta=beta, seed=seed, test_size=test_size)
    setup.update(normalize=normalize, l2=l2, dtype=dtype, X_test=X_test, y_test=y_test)
    setup.update(network_options=network_options, shard=shard)
    setup["schedule"] = (lr_schedule, clip, batch_size, epochs)
    prepared = strategy.agree(lambda: prepare_run(X, y, **setup))
    hidden_sizes, X_tr, X_te, y_tr, y_te, net, opt = prepared
    n_train = len(X_tr) if shard is None else shard[1]  # shard: X, y are this rank's rows
    lo, hi = (0, len(X_tr)) if shard else shard_range(n_train, strategy.rank, strategy.size)
    # Record what `mlplab plot` shows: per-layer gradient norms and activation percentiles.
    sample = sample_rows(X_tr) if is_mapped(X_tr) else X_tr
    recorders = [GradientNormLogger(), ActivationLogger(sample)]
    mine = (callbacks or []) if strategy.is_root else []
    trainer = Trainer(net, opt, [*recorders, *mine], seed=seed, strategy=strategy)
    batch_size = None if batch_size is None or batch_size >= n_train else batch_size
    has_test = len(X_te) if shard is None else shard[3]  # a held-out curve, never to select
    validation = (X_te, y_te) if has_test else None  # rows on disk: read block by block
    fit = dict(epochs=epochs, batch_size=batch_size, validation_data=validation)
    history = _fit(trainer, backend, (X_tr[lo:hi], y_tr[lo:hi]), {**fit, **(fit_kwargs or {})})
    parts = (X_tr, X_te, y_tr, y_te)
    if shard is not None:  # sums over the ranks: every rank takes part
        metrics = _m.over_ranks(task, net, history, parts, strategy.sum_floats, shard)
    if not strategy.is_root:
        return None
    metrics = _m.whole(task, net, history, *parts) if shard is None else metrics
    options = _run_options(setup, hidden_sizes, net, opt, batch_size)
    if type(strategy) is not Local:
        metrics["mpi_ranks"] = options["mpi_ranks"] = strategy.size
        metrics["allreduce_bytes_per_step"] = strategy.bytes_per_step
    return TrainResult(net, history, metrics, options)


def _run_options(
    setup: dict[str, Any], hidden_sizes: list[int], net: Network, opt: Any, batch_size: Any
) -> dict[str, Any]:
    """What a recipe ran with (the model file's ``options``)."""
    lr_schedule, clip, _, epochs = setup["schedule"]
    options = {"layers": hidden_sizes, "activation": setup["activation"], "init": net.init}
    options.update(optimizer=opt.name, hyperparams=opt.hyperparams, batch_size=batch_size)
    options["epochs"] = epochs
    options.update({k: setup[k] for k in ("seed", "normalize", "l2", "dtype", "task")})
    options.update(setup["network_options"] or {}, lr_schedule=lr_schedule, clip=clip)
    return options


def _check_backend(backend: str, comm: Any) -> None:
    """``backend`` is "numpy" or "torch"; torch trains in one process."""
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if backend == "torch" and comm is not None:
        raise ValueError("backend='torch' trains in one process; MPI trains on NumPy arrays")


def _fit(trainer: Trainer, backend: str, data: tuple[Any, Any], fit: dict[str, Any]) -> Any:
    """``trainer.fit`` on (X, y), on PyTorch tensors for ``backend="torch"`` (the network
    then comes back to NumPy, for the metrics and files)."""
    if backend != "torch":
        return trainer.fit(*data, **fit)
    val = fit.get("validation_data")
    X, y, val = _on_torch(*data, val)
    history = trainer.fit(X, y, **{**fit, "validation_data": val})
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


def _strategy(comm: Any, sharded: bool = False, backend: str = "numpy") -> Any:
    """One process, or the MPI ranks of ``comm`` (True: the world); ``sharded``: each
    rank holds only its own validation rows. ``backend`` is checked (torch: one process)."""
    _check_backend(backend, comm)
    if comm is None:
        return Local()
    if isinstance(comm, Local):  # a strategy already (MPI is one)
        return comm
    from mlplab.train.mpi import MPI

    return MPI(None if comm is True else comm, sharded_validation=sharded)


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
    if kwargs.get("comm") is not None:
        return _train_csv_sharded(path, target, task, sep, columns or {}, **kwargs)
    data = training_data(path, target, task, sep=sep, **(columns or {}))
    assert data.plan is not None
    assert data.codes is not None  # training_data sets it
    idx = np.arange(len(data.y))
    i_tr, i_te, y_tr, y_te = train_test_split(
        idx,
        data.y,
        test_size=kwargs.get("test_size", 0.25),
        seed=kwargs.get("seed", 0),
        stratify=data.task == "classification",
    )
    data.plan.fit_fill(data.codes[i_tr])
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


def _train_csv_sharded(
    path: Any, target: str, task: str | None, sep: str | None, columns: dict[str, Any], **kw: Any
) -> TrainResult | None:
    """:func:`train_csv` over MPI ranks, each reading only its byte range of the file
    (:mod:`mlplab.persist.csvshard`); the weights are those of one process."""
    from mlplab.persist.csvshard import sharded_training_data

    strategy = _strategy(kw.pop("comm"), sharded=True)
    strategy.targets_per_batch = True  # the labels held once: Y made batch by batch
    split = {"test_size": kw.get("test_size", 0.25), "seed": kw.get("seed", 0)}
    d = sharded_training_data(path, target, strategy.comm, task, sep=sep, **split, **columns)
    std = _exact_standardizer(d.X_train, strategy) if kw.get("normalize", True) else None
    n_classes = 0 if d.classes is None else max(len(d.classes), 2)
    result = train_arrays(
        d.X_train,  # the rank's codes matrix, encoded and standardized batch by batch
        d.y_train,
        task=d.task,
        X_test=d.X_test,
        y_test=d.y_test,
        comm=strategy,
        shard=(n_classes, d.n_train, std, d.n_test),
        **kw,
    )
    if result is None:
        return None
    result.options.update(dataset=str(path), data=str(path), target=target)
    result.options.update(task_inferred=d.task_inferred, sharded_csv=True)
    result.data_info = {**d.plan.data_info(d.task, d.classes), "source": str(path)}
    if d.n_dropped:
        result.metrics["n_dropped_rows"] = d.n_dropped
    if d.classes is not None:
        result.metrics["classes"] = d.classes.tolist()
    return result


def train_npy(
    path: Any, target: Any, task: str | None = None, *, comm: Any = None, **kwargs: Any
) -> TrainResult | None:
    """:func:`train_arrays` on a ``.npy`` file (or a folder of ``.npy`` shards) of
    features and a ``.npy`` of targets (``target``: one per row), out of core.

    X is memory-mapped, never loaded (:func:`mlplab.persist.npydata.open_rows`): the
    split is of row indices (as :func:`train_arrays` splits), the standardizer's μ and σ
    come from a streaming pass with exact sums, every mini-batch is gathered from the
    file (:mod:`mlplab.train.rows`), the metrics and the per-epoch validation curve are
    computed block by block. The training rows are kept in the file's order, the batches
    drawn in the split's (:func:`~mlplab.persist.npydata.one_process`): those of
    :func:`train_arrays`. With ``comm`` each MPI rank reads only its own rows and maps
    only one contiguous part of the file: its block of the training rows and the test
    rows among them (:func:`mlplab.persist.npyshard.sharded_npy`). The task is
    inferred from the targets when not given (integers, at most 20: classification).
    """
    st = _strategy(comm, sharded=True)
    seed, test_size = kwargs.get("seed", 0), kwargs.get("test_size", 0.25)
    if getattr(st, "comm", None) is not None:  # MPI: each rank its rows alone (npyshard)
        from mlplab.persist.npyshard import sharded_npy

        st.targets_per_batch = True  # the labels held once: Y made batch by batch
        d = sharded_npy(path, target, st.comm, task, test_size=test_size, seed=seed)
        X_tr, y_tr, X_te, y_te = d.X_train, d.y_train, d.X_test, d.y_test
        task, classes, n_train, n_test = d.task, d.classes, d.n_train, d.n_test
    else:
        from mlplab.persist.npydata import one_process

        X_tr, y_tr, X_te, y_te, task, classes = one_process(path, target, task, test_size, seed)
        n_train, n_test = len(X_tr), len(X_te)
    std = _exact_standardizer(X_tr, st)
    n_classes = 0 if classes is None else max(len(classes), 2)
    shard = (n_classes, n_train, std if kwargs.get("normalize", True) else None, n_test)
    fit = dict(task=task, X_test=X_te, y_test=y_te, comm=st, shard=shard)
    result = train_arrays(X_tr, y_tr, **fit, **kwargs)
    if result is None:
        return None
    result.options.update(dataset=str(path), data=str(path), target=str(target), out_of_core=True)
    result.data_info = {"task": task, "source": str(path)}
    if classes is not None:
        result.data_info["classes"] = classes
    return result


def _exact_standardizer(X: Any, st: Any) -> Standardizer:
    """μ and σ of every rank's training rows (rows on disk, read block by block), from
    exact sums: the same bits for any number of ranks (:mod:`mlplab.train.exactsum`)."""
    from mlplab.train.exactsum import moments

    def total(v: list[int]) -> list[int]:
        return [sum(t) for t in zip(*st.comm.allgather(v), strict=True)]

    mu, sigma = moments(lambda: (b for _, b in X.blocks()), None if st.size == 1 else total)
    std = Standardizer()  # a constant feature keeps σ = 1, as Standardizer.fit
    tiny = np.finfo(np.float64).eps * np.maximum(np.abs(mu), 1.0)
    std.mean_, std.scale_ = mu, np.where(sigma <= tiny, 1.0, sigma)
    return std
