"""Model files that are data, never code: a Network, or a Trainer to resume.

A model file is one ``.npz`` archive (:mod:`mlplab._archive`: a zip of ``.npy`` arrays)
holding numeric arrays and a JSON header stored as a ``uint8`` array. Loading parses
JSON and copies numbers: nothing in the file can name a function, a class or a module to
run, so loading a file cannot execute code (``np.load(path, allow_pickle=False)`` reads
it too). Files of scikit-learn estimators add an ``estimator`` section, written and read
by :mod:`mlplab.sklearn.modelfile`; :mod:`mlplab.saving` picks the reader by ``kind``.

Layout (format version 1)::

    header.npy               uint8   JSON, see below
    W1.npy, b1.npy, ...      the parameters W[l] (n[l], n[l-1]) and b[l] (n[l],), l = 1..L
    gamma<l>, beta<l>, running_mean<l>, running_var<l>.npy  batch norm of layer l (n[l],)
    standardizer_mean.npy    float64 (n[0],)   when a Standardizer is attached
    standardizer_scale.npy   float64 (n[0],)
    opt_<i>.npy              optimizer state arrays (optional), each shaped like θ

    header = {"format": "mlplab", "version": 1,
              "kind": "network" | "estimator",
              "config": Network.config(),            # architecture, activations, dtype, l2
              "arrays": {"W1": {"dtype": "<f4", "shape": [n1, n0]}, ...},
              "standardizer": bool,
              "data": {"task", "target", "feature_names", "classes", "preprocessing", ...} | null,
              "history": {"loss": [...], ...} | null,
              "training": {"optimizer", "hyperparams", "state", "step", "epoch", "rng"} | null,
              "estimator": {"class", "params", "fitted"} | null,
              "metadata": {...}}

``training["state"]`` is the optimizer state as checkpoints store it
(:func:`mlplab._archive.state_to_file`): ``{"type", "leaves"}``, array leaf i in
``opt_<i>`` with W[l] by rows. Files written before the two formats shared it hold
``{"type", "count", "arrays": [field, ...]}`` with arrays ``opt_<field>`` in the
network's storage order (W[l]ᵀ by rows); they are still read.

Reading is defensive (:func:`mlplab._archive.open_archive`): sizes, member names and
every ``.npy`` header are checked before data is read, each array must have the dtype and
shape the JSON header declares, and the architecture must match the arrays exactly.
Anything wrong raises :class:`ModelFileError` naming the file. Writes are atomic: a
crash mid-save leaves any existing file untouched and no half-written file.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np

from mlplab import _archive
from mlplab import _array_api as _xp
from mlplab._archive import MAX_FILE_BYTES, MAX_HEADER_BYTES, MAX_MEMBERS
from mlplab._archive import write_members as _write_archive  # looked up at each save
from mlplab.core import layer_options as _opts

__all__ = [
    "FORMAT",
    "MAX_FILE_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_MEMBERS",
    "VERSION",
    "ModelFileError",
    "load_trainer",
    "read",
    "read_header",
    "save",
    "write_model",
]

FORMAT = "mlplab"
VERSION = 1
_ARRAY_DTYPES = {"<f4", "<f8", "|u1"}
_OPT_STATES = ("EmptyState", "MomentumState", "RMSPropState", "AdamState")


class ModelFileError(ValueError):
    """The file is not a valid mlplab model file (the message names the file and problem)."""


def _fail(path: Path, msg: str) -> ModelFileError:
    return ModelFileError(f"{path}: not a valid mlplab model file: {msg}")


# ====================================================================== writing
def model_path(path: str | os.PathLike[str]) -> Path:
    """The file :func:`save` writes for ``path``: ``.npz`` appended when missing."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    if path.is_dir():
        raise IsADirectoryError(f"cannot save a model to {path}: it is a directory")
    return path


def _network_arrays(net: Any) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for l, (W, b) in enumerate(net.params, start=1):
        # Always NumPy: a model trained with PyTorch or CuPy (on a GPU) loads anywhere.
        arrays[f"W{l}"], arrays[f"b{l}"] = _xp.to_numpy(W), _xp.to_numpy(b)
    arrays.update(_archive.standardizer_arrays(net.standardizer))
    arrays.update(_opts.norm_arrays(net))  # batch norm: gamma<l>, beta<l>, running_*<l>
    return arrays


def opt_state_to_file(state: Any, net: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A built-in optimizer's flat state as (JSON description, arrays) for ``net``."""
    name = type(state).__name__
    if name not in _OPT_STATES or not hasattr(state, "_fields"):
        raise TypeError(f"cannot save optimizer state of type {name}")
    # A state on a GPU (or of another library) is saved as NumPy.
    state = type(state)(*(_xp.to_numpy(v) if _xp.is_foreign(v) else v for v in state))
    for field, value in zip(state._fields, state, strict=True):
        if field != "count" and (
            not isinstance(value, np.ndarray) or value.shape != (net.n_params,)
        ):
            raise TypeError(
                f"optimizer state field {field!r} is not a flat array of the {net.n_params} "
                "parameters (only the Trainer's flat state can be saved)"
            )
    return _archive.state_to_file(state, net._to_rows)


def rng_state(rng: Any) -> dict[str, Any] | None:
    """A PCG64 Generator's state as JSON (None for anything else: not stored)."""
    if isinstance(rng, np.random.Generator) and isinstance(rng.bit_generator, np.random.PCG64):
        return cast("dict[str, Any]", _archive.jsonable(rng.bit_generator.state))
    return None


def _trainer_training(
    trainer: Any, include_optimizer: bool
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header's "training" section for a Trainer, and its optimizer state arrays."""
    training = {
        "optimizer": trainer.optimizer.name,
        "hyperparams": _archive.jsonable(trainer.optimizer.hyperparams or {}),
        "step": int(trainer.step),
        "epoch": int(trainer.epoch),
        "rng": rng_state(trainer.rng),
        "state": None,
    }
    arrays: dict[str, np.ndarray] = {}
    if include_optimizer and trainer.opt_state is not None:
        training["state"], arrays = opt_state_to_file(trainer.opt_state, trainer.net)
    return training, arrays


def _data_info_json(info: dict[str, Any] | None) -> dict[str, Any] | None:
    if info is None:
        return None
    out = _archive.jsonable({k: v for k, v in info.items() if k != "classes"}, "data_info")
    if info.get("classes") is not None:
        out["classes"] = _archive.labels_to_json(info["classes"])
    return cast("dict[str, Any]", out)


def write_model(
    path: Path,
    net: Any,
    *,
    kind: str = "network",
    arrays: dict[str, np.ndarray] | None = None,
    training: dict[str, Any] | None = None,
    estimator: dict[str, Any] | None = None,
    history: Any = None,
    data_info: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write the model file of ``net`` (plus ``arrays``, e.g. an optimizer state) atomically.

    The header is assembled here from the sections given; ``path`` as :func:`model_path`.
    """
    arrays = {**_network_arrays(net), **(arrays or {})}
    hist = getattr(history, "history", history)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "config": net.config(),
        "arrays": {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items()},
        "standardizer": net.standardizer is not None,
        "data": _data_info_json(data_info),
        "history": _archive.jsonable(hist, "history") if hist is not None else None,
        "training": training,
        "estimator": estimator,
        "metadata": _archive.jsonable(metadata or {}, "metadata"),
    }
    members = {"header": _archive.dump_header(header, "the model header"), **arrays}
    _archive.atomic_write(path, lambda f: _write_archive(f, members))
    return path


def save(
    obj: Any,
    path: str | os.PathLike[str],
    *,
    history: Any = None,
    metadata: dict[str, Any] | None = None,
    data_info: dict[str, Any] | None = None,
    trainer: Any = None,
    include_optimizer: bool = True,
) -> Path:
    """Save a Network or a Trainer as a data-only ``.npz`` model file.

    The arguments are those of :func:`mlplab.save` (which also saves the estimators).
    """
    from mlplab.core.network import Network
    from mlplab.train.loop import Trainer

    if isinstance(obj, Trainer):
        trainer, obj = obj, obj.net
    if not isinstance(obj, Network):
        raise TypeError(
            "save() takes an mlplab Network, Trainer, MLPClassifier or MLPRegressor, "
            f"got {type(obj).__name__}"
        )
    if trainer is not None and trainer.net is not obj:
        raise ValueError("trainer= must be the Trainer of the network being saved")
    path = model_path(path)
    training, arrays = None, dict[str, np.ndarray]()  # typed: no arrays without a trainer
    if trainer is not None:
        training, arrays = _trainer_training(trainer, include_optimizer)
        if history is None:
            history = trainer.history
    return write_model(
        path,
        obj,
        arrays=arrays,
        training=training,
        history=history,
        data_info=data_info,
        metadata=metadata,
    )


# ====================================================================== reading
def _spec(name: str, spec: Any, path: Path) -> tuple[np.dtype, list[int]]:
    """The (dtype, shape) the JSON header declares for array ``name``, validated."""
    if not isinstance(spec, dict) or spec.get("dtype") not in _ARRAY_DTYPES:
        raise _fail(path, f"array {name!r}: dtype not allowed in the header")
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**40 for s in shape
    ):
        raise _fail(path, f"array {name!r}: malformed shape in the header")
    return np.dtype(spec["dtype"]), shape


def _read_archive(path: Path, max_bytes: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    fail = functools.partial(_fail, path)
    with _archive.open_archive(path, fail, max_bytes=max_bytes) as archive:
        header = _archive.parse_header(archive.raw(), fail)
        _check_header(header, path)
        specs = header["arrays"]
        names = archive.names - {"header"}
        if set(specs) != names:
            raise fail(
                f"the arrays do not match the header (extra {sorted(names - set(specs))}, "
                f"missing {sorted(set(specs) - names)})"
            )
        arrays = {name: archive.array(name, *_spec(name, specs[name], path)) for name in specs}
    return header, arrays


def _check_header(header: Any, path: Path) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _fail(path, "wrong format marker (not written by mlplab)")
    version = header.get("version")
    if version != VERSION:
        raise _fail(
            path,
            f"format version {version!r} is not supported (this mlplab reads version {VERSION})",
        )
    if header.get("kind") not in ("network", "estimator"):
        raise _fail(path, f"unknown kind {header.get('kind')!r}")
    for key, kind in (("config", dict), ("arrays", dict)):
        if not isinstance(header.get(key), kind):
            raise _fail(path, f"header field {key!r} is missing or malformed")
    for key in ("data", "history", "training", "estimator", "metadata"):
        if header.get(key) is not None and not isinstance(header[key], dict):
            raise _fail(path, f"header field {key!r} is malformed")
    if header["kind"] == "estimator" and not isinstance(header.get("estimator"), dict):
        raise _fail(path, "an estimator file without its estimator section")


def int_list(value: Any, what: str) -> list[int]:
    """``value`` if it is a list of integers, else a ValueError naming ``what``."""
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"{what} must be a list of integers")
    return value


def _checked_config(cfg: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The Network arguments of a header's config, checked against the arrays read."""
    sizes = int_list(cfg.get("layer_sizes"), "layer_sizes")
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError("layer_sizes must hold at least two sizes >= 1")
    dtype = cfg.get("dtype")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype {dtype!r} is not float32 or float64")
    # Shapes first (against arrays already read, whose sizes were bounded): a header that
    # claims a huge architecture is refused before anything is allocated for it.
    for l in range(1, len(sizes)):
        for name, shape in ((f"W{l}", (sizes[l], sizes[l - 1])), (f"b{l}", (sizes[l],))):
            if name not in arrays:
                raise ValueError(f"array {name} is missing")
            if arrays[name].shape != shape or arrays[name].dtype != np.dtype(dtype):
                raise ValueError(
                    f"array {name} is {arrays[name].dtype} {arrays[name].shape}, but the "
                    f"architecture {sizes} ({dtype}) needs {shape}"
                )
    hidden, init = cfg.get("hidden"), cfg.get("init")
    if not isinstance(hidden, list) or not all(isinstance(h, str) for h in hidden):
        raise ValueError("hidden must be a list of activation names")
    if init is not None and (
        not isinstance(init, list) or not all(isinstance(i, str) for i in init)
    ):
        raise ValueError("init must be a list of initializer names")
    if init is not None and len(init) != len(sizes) - 1:
        raise ValueError(f"init has {len(init)} names for L={len(sizes) - 1} layers")
    if not isinstance(cfg.get("output"), str):
        raise ValueError("output must be a head name")
    l2 = cfg.get("l2", 0.0)
    if isinstance(l2, bool) or not isinstance(l2, (int, float)):
        raise ValueError("l2 must be a number")
    out = {"sizes": sizes, "hidden": hidden, "output": cfg["output"], "dtype": dtype, "l2": l2}
    return {**out, **_opts.from_config(cfg)}  # dropout, batch norm: checked by the Network


def _build_network(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    from mlplab.core.data import Standardizer
    from mlplab.core.network import Network

    cfg = _checked_config(header["config"], arrays)
    sizes = cfg.pop("sizes")
    net = Network(sizes, init="zeros", **cfg)
    init = header["config"].get("init")
    if init is not None:
        net.init = list(init)
    net.params = [(arrays[f"W{l}"], arrays[f"b{l}"]) for l in range(1, net.L + 1)]
    _opts.set_norm_arrays(net, arrays)
    if header.get("standardizer"):
        moments = _archive.standardizer_moments(arrays, sizes[0])
        if moments is None:
            raise ValueError("the standardizer arrays are missing")
        net.standardizer = Standardizer.from_moments(*moments)
    return net


def opt_state_from_file(desc: Any, arrays: dict[str, np.ndarray], net: Any) -> Any:
    """Inverse of :func:`opt_state_to_file` (both layouts, see the module docstring)."""
    from mlplab.core import optimizers

    if not isinstance(desc, dict) or desc.get("type") not in _OPT_STATES:
        raise ValueError("unknown optimizer state type")
    cls = getattr(optimizers, desc["type"])
    theta = np.zeros(net.n_params, dtype=net.dtype)
    template = cls(**{f: 0 if f == "count" else theta for f in cls._fields})
    if "leaves" in desc:
        return _archive.state_from_file(desc, arrays, template, net._from_rows)
    fields = [f for f in cls._fields if f != "count"]
    if desc.get("arrays") != fields:
        raise ValueError(f"{desc['type']} needs the arrays {fields}")
    leaves = [
        {"value": desc.get("count")} if f == "count" else {"array": f"opt_{f}"} for f in cls._fields
    ]
    # Written in the network's storage order: the arrays are the state as it was.
    return _archive.state_from_file({"type": desc["type"], "leaves": leaves}, arrays, template)


def rng_from(state: Any, fallback: Any) -> np.random.Generator:
    """The Generator of a stored PCG64 state (``default_rng(fallback)`` for None)."""
    if state is None:
        return np.random.default_rng(fallback)
    if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
        raise ValueError("the RNG state must be a PCG64 state")
    bg = np.random.PCG64()
    bg.state = state  # type: ignore[assignment]  # a file's dict: NumPy validates it (ints only)
    return np.random.Generator(bg)


def history_from(hist: Any) -> dict[str, list[float]]:
    """A stored history, checked: lists of numbers."""
    if hist is None:
        return {}
    out = {}
    for key, values in hist.items():
        if not isinstance(values, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            raise ValueError(f"history[{key!r}] must be a list of numbers")
        out[key] = [float(v) for v in values]
    return out


def check_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, if it is an existing file."""
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a model file")
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist")
    return path


@contextlib.contextmanager
def model_file_errors(path: Path) -> Iterator[None]:
    """Whatever malformed content makes the code inside raise, as a ModelFileError."""
    try:
        yield
    except ModelFileError:
        raise
    except RecursionError:  # a RuntimeError: before the generic handler
        raise _fail(path, "nested too deeply") from None
    except MemoryError:
        raise _fail(path, "too large to load") from None
    except _archive.READ_ERRORS as exc:
        raise _fail(path, f"{type(exc).__name__}: {exc}") from None


def read(
    path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES
) -> tuple[Any, dict[str, Any], dict[str, np.ndarray]]:
    """(Network, header, arrays) of a model file of either kind, all checked but the
    estimator section (:mod:`mlplab.sklearn.modelfile` reads it).

    Raises
    ------
    ModelFileError
        For any file that is not a valid, complete, consistent mlplab model file.
    FileNotFoundError
        When ``path`` does not exist.
    """
    path = check_path(path)
    with model_file_errors(path):
        header, arrays = _read_archive(path, max_bytes)
        net = _build_network(header, arrays)
        history_from(header.get("history"))
        data = header.get("data")
        if data and data.get("classes") is not None:
            _archive.labels_from_json(data["classes"])
        if data and data.get("preprocessing") is not None:
            _check_plan(data["preprocessing"], net.layer_sizes[0])
    return net, header, arrays


def _check_plan(plan: Any, n_inputs: int) -> None:
    """The preprocessing plan (:mod:`mlplab.persist.tableplan`) is valid and makes n[0] inputs."""
    from mlplab.persist.tableplan import TablePlan

    if len(TablePlan.from_json(plan).output_names) != n_inputs:
        raise ValueError(f"preprocessing: its columns do not make the n[0]={n_inputs} inputs")


def read_header(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> dict[str, Any]:
    """The validated JSON header of a model file (loads and checks the network too;
    :func:`mlplab.saving.read_header` also checks an estimator section)."""
    return read(path, max_bytes)[1]


def load_trainer(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Rebuild the Trainer saved by ``save(trainer, path)``, ready to continue training.

    The network, optimizer (with its state, when it was saved), step and epoch counters,
    the shuffle RNG and the history come back, so ``trainer.fit`` continues the run.
    """
    from mlplab.core import optimizers
    from mlplab.train.loop import Trainer

    path = check_path(path)
    net, header, arrays = read(path, max_bytes)
    training = header.get("training")
    if header["kind"] != "network" or not training or "optimizer" not in training:
        raise ModelFileError(f"{path}: holds no trainer state (save a Trainer to resume it)")
    with model_file_errors(path):
        hyper = training.get("hyperparams") or {}
        # numbers, or the JSON of a schedule / a wrapped optimizer (checked when rebuilt)
        if not isinstance(hyper, dict) or not all(
            isinstance(v, (int, float, dict)) and not isinstance(v, bool) for v in hyper.values()
        ):
            raise ValueError("optimizer hyperparameters must be numbers")
        opt = optimizers.get(str(training["optimizer"]), **hyper)
        trainer = Trainer(net, opt, seed=rng_from(training.get("rng"), None))
        for attr in ("step", "epoch"):
            v = training.get(attr, 0)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{attr} must be an integer >= 0")
            setattr(trainer, attr, v)
        if training.get("state") is not None:
            trainer.opt_state = opt_state_from_file(training["state"], arrays, net)
        hist = history_from(header.get("history"))
        trainer.history.history = hist
        trainer.history.epoch = list(range(len(hist.get("loss", []))))
    return trainer
