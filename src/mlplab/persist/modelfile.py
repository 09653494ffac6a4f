"""Model files that are data, never code.

A model file is one ``.npz`` archive (a zip of ``.npy`` arrays) holding numeric arrays and
a JSON header stored as a ``uint8`` array. Loading parses JSON and copies numbers: nothing
in the file can name a function, a class or a module to run, so loading a file cannot
execute code (``np.load(path, allow_pickle=False)`` reads it too).

Layout (format version 1)::

    header.npy               uint8   JSON, see below
    W1.npy, b1.npy, ...      the parameters W[l] (n[l], n[l-1]) and b[l] (n[l],), l = 1..L
    standardizer_mean.npy    float64 (n[0],)   when a Standardizer is attached
    standardizer_scale.npy   float64 (n[0],)
    opt_<field>.npy          optimizer state arrays (optional), each shaped like θ

    header = {"format": "mlplab", "version": 1,
              "kind": "network" | "estimator",
              "config": Network.config(),            # architecture, activations, dtype, l2
              "arrays": {"W1": {"dtype": "<f4", "shape": [n1, n0]}, ...},
              "standardizer": bool,
              "data": {"task", "target", "feature_names", "classes", ...} | null,
              "history": {"loss": [...], ...} | null,
              "training": {"optimizer", "hyperparams", "state", "step", "epoch", "rng"} | null,
              "estimator": {"class", "params", "fitted"} | null,
              "metadata": {...}}

Reading is defensive: the file size, the number and names of the zip members and every
member's *declared* uncompressed size are checked before anything is decompressed (zip
bombs), every ``.npy`` header is parsed and compared with the JSON header (dtype and
shape) before its data is read, object dtypes are refused, and the architecture must
match the arrays exactly. Anything wrong raises :class:`ModelFileError` naming the file.

Writes are atomic: the archive is written to a temporary file in the target's folder,
flushed to disk, then renamed over the target (``os.replace``); a crash mid-save leaves
any existing file untouched and no half-written file under the target name.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import struct
import tempfile
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from mlplab import _array_api as _xp

FORMAT = "mlplab"
VERSION = 1
MAX_FILE_BYTES = 1 << 30
"""Default limit on a model file's size, and on the total declared size of its arrays."""
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_MEMBERS = 10_000
_NPY_HEADER_MAX = 10_000
_MEMBER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\.npy")
_ARRAY_DTYPES = {"<f4", "<f8", "|u1"}
_OPT_STATES = ("EmptyState", "MomentumState", "RMSPropState", "AdamState")
_ESTIMATORS = ("MLPClassifier", "MLPRegressor")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that the same model gives the same bytes

# Everything the zip, npy and JSON readers raise on malformed input.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    struct.error,
    NotImplementedError,
    RuntimeError,  # zipfile: encrypted members; RecursionError (deep JSON) is one too
    OverflowError,
    SyntaxError,  # NumPy parses a .npy header as a Python literal
    tokenize.TokenError,
)


class ModelFileError(ValueError):
    """The file is not a valid mlplab model file (the message names the file and problem)."""


def _fail(path: Path, msg: str) -> ModelFileError:
    return ModelFileError(f"{path}: not a valid mlplab model file: {msg}")


# ====================================================================== writing
def _file_mode(path: Path) -> int:
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write(path: Path, write: Any) -> None:
    """Write through ``write(fileobj)`` to a temp file in ``path``'s folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _write_archive(f: Any, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            with zf.open(info, "w", force_zip64=True) as m:
                np.lib.format.write_array(m, np.ascontiguousarray(arr), allow_pickle=False)


def _jsonable(obj: Any, where: str = "value") -> Any:
    """Plain JSON data (dict/list/str/number/bool/None) or a TypeError naming ``where``."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, where) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist(), where)
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot store {where} of type {type(obj).__name__} in a model file")


def _labels_to_json(labels: Any) -> dict[str, Any]:
    arr = np.asarray(labels)
    if arr.dtype.kind == "O":
        values = arr.tolist()
        for v in values:
            if not isinstance(v, (str, int, float, bool)):
                raise TypeError(
                    f"class labels must be strings or numbers to be saved, got {type(v).__name__}"
                )
        return {"values": values, "dtype": "object"}
    if arr.dtype.kind not in "biufU":
        raise TypeError(f"class labels of dtype {arr.dtype} cannot be saved")
    return {"values": arr.tolist(), "dtype": arr.dtype.str}


def _labels_from_json(obj: Any) -> np.ndarray:
    if not isinstance(obj, dict) or not isinstance(obj.get("values"), list):
        raise ValueError("class labels must be {'values': [...], 'dtype': ...}")
    values, dtype = obj["values"], obj.get("dtype")
    for v in values:
        if not isinstance(v, (str, int, float, bool)):
            raise ValueError("class labels must be strings or numbers")
    if dtype == "object":
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    if not isinstance(dtype, str):
        raise ValueError("class label dtype must be a string")
    dt = np.dtype(dtype)
    if dt.kind not in "biufU" or dt.itemsize > 4096:
        raise ValueError(f"class label dtype {dtype!r} is not allowed")
    return np.array(values, dtype=dt)


def network_to_state(net: Any) -> dict[str, Any]:
    """A Network as plain data: config, a copy of θ and the Standardizer's arrays."""
    std = net.standardizer
    return {
        "config": net.config(),
        "theta": _xp.to_numpy(net.get_flat_params()),
        "standardizer": None
        if std is None
        else (np.array(std.mean_, dtype=np.float64), np.array(std.scale_, dtype=np.float64)),
    }


def network_from_state(state: dict[str, Any]) -> Any:
    """Inverse of :func:`network_to_state` (used by the estimators' pickling)."""
    from mlplab.core.data import Standardizer
    from mlplab.core.network import Network

    cfg = state["config"]
    net = Network.from_config(cfg)
    net.set_flat_params(np.asarray(state["theta"]))
    if state.get("standardizer") is not None:
        std = Standardizer()
        mean, scale = state["standardizer"]
        std.mean_, std.scale_ = np.array(mean, dtype=np.float64), np.array(scale, dtype=np.float64)
        net.standardizer = std
    return net


def _network_arrays(net: Any) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for l, (W, b) in enumerate(net.params, start=1):
        # Always NumPy: a model trained with PyTorch or CuPy (on a GPU) loads anywhere.
        arrays[f"W{l}"], arrays[f"b{l}"] = _xp.to_numpy(W), _xp.to_numpy(b)
    if net.standardizer is not None:
        arrays["standardizer_mean"] = np.asarray(net.standardizer.mean_, dtype=np.float64)
        arrays["standardizer_scale"] = np.asarray(net.standardizer.scale_, dtype=np.float64)
    return arrays


def _opt_state_arrays(state: Any, n_params: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """An optimizer state NamedTuple as (JSON description, arrays)."""
    name = type(state).__name__
    if name not in _OPT_STATES or not hasattr(state, "_fields"):
        raise TypeError(f"cannot save optimizer state of type {name}")
    desc: dict[str, Any] = {"type": name, "count": int(state.count), "arrays": []}
    arrays = {}
    for field in state._fields:
        if field == "count":
            continue
        value = getattr(state, field)
        if _xp.is_foreign(value):  # a state on a GPU (or other library) is saved as NumPy
            value = _xp.to_numpy(value)
        if not isinstance(value, np.ndarray) or value.shape != (n_params,):
            raise TypeError(
                f"optimizer state field {field!r} is not a flat array of the {n_params} "
                "parameters (only the Trainer's flat state can be saved)"
            )
        arrays[f"opt_{field}"] = value
        desc["arrays"].append(field)
    return desc, arrays


def _rng_state(rng: Any) -> dict[str, Any] | None:
    if isinstance(rng, np.random.Generator) and isinstance(rng.bit_generator, np.random.PCG64):
        return _jsonable(rng.bit_generator.state)
    return None


def _estimator_header(est: Any, include_optimizer: bool) -> tuple[dict, dict]:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    params = {}
    for key, value in est.get_params(deep=False).items():
        if key == "random_state" and not (value is None or isinstance(value, int)):
            value = None  # a Generator is state, not a setting: it is not stored
        if key == "dtype":
            value = np.dtype(value).name
        params[key] = _jsonable(value, f"parameter {key}")
    fitted: dict[str, Any] = {
        "n_features_in": int(est.n_features_in_),
        "n_iter": int(est.n_iter_),
        "t": int(est.t_),
        "loss": est.loss_,
        "best_loss": est.best_loss_,
        "validation_scores": est.validation_scores_,
        "best_validation_score": est.best_validation_score_,
        "step": int(est._step),
        "solver": est._opt_solver,
    }
    if hasattr(est, "feature_names_in_"):
        fitted["feature_names_in"] = [str(v) for v in est.feature_names_in_]
    if hasattr(est, "classes_"):
        fitted["classes"] = _labels_to_json(est.classes_)
        fitted["mode"] = est._mode_
    arrays: dict[str, np.ndarray] = {}
    training = None
    if include_optimizer and est._opt_state is not None:
        desc, arrays = _opt_state_arrays(est._opt_state, est.network_.n_params)
        training = {"state": desc, "rng": _rng_state(est._random)}
    header = {"class": type(est).__name__, "params": params, "fitted": _jsonable(fitted)}
    return header, {"training": training, "arrays": arrays}


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
    """Save a Network, a Trainer or a fitted estimator as a data-only ``.npz`` model file.

    Parameters
    ----------
    obj : Network, Trainer, MLPClassifier or MLPRegressor
        A Trainer saves its network plus what resuming needs: optimizer name,
        hyperparameters and state, step and epoch counters, the shuffle RNG and the
        history (load it back with :func:`load_trainer`).
    path : str or Path
        Target file; ``.npz`` is appended when missing. Written atomically.
    history : History or dict, optional
        Per-epoch training values to keep (default: the trainer's or estimator's).
    metadata : dict, optional
        Extra JSON-serializable information (dataset, options, metrics...).
    data_info : dict, optional
        What the inputs and outputs mean: ``feature_names``, ``target``, ``task`` and the
        label encoding ``classes`` (output k of the network is ``classes[k]``).
    trainer : Trainer, optional
        With a Network: also save this trainer's optimizer state (as for a Trainer).
    include_optimizer : bool, default=True
        Whether to store the optimizer state (Adam's moments double or triple the file).

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile, numpy as np, mlplab
    >>> net = mlplab.Network([3, 4, 1], seed=0)
    >>> path = mlplab.save(net, tempfile.mkdtemp() + "/model.npz")
    >>> X = np.ones((2, 3))
    >>> bool((mlplab.load(path).forward(X) == net.forward(X)).all())
    True
    """
    from mlplab.core.network import Network
    from mlplab.train.loop import Trainer

    if isinstance(obj, Trainer):
        trainer, obj = obj, obj.net
    estimator = None
    if not isinstance(obj, Network):
        if type(obj).__name__ in _ESTIMATORS and hasattr(obj, "get_params"):
            estimator = obj
            from sklearn.utils.validation import check_is_fitted

            check_is_fitted(obj)
            obj = obj.network_
        else:
            raise TypeError(
                "save() takes an mlplab Network, Trainer, MLPClassifier or MLPRegressor, "
                f"got {type(obj).__name__}"
            )
    if trainer is not None and trainer.net is not obj:
        raise ValueError("trainer= must be the Trainer of the network being saved")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    if path.is_dir():
        raise IsADirectoryError(f"cannot save a model to {path}: it is a directory")

    arrays = _network_arrays(obj)
    training = None
    if trainer is not None:
        if history is None:
            history = trainer.history
        training = {
            "optimizer": trainer.optimizer.name,
            "hyperparams": _jsonable(trainer.optimizer.hyperparams or {}),
            "step": int(trainer.step),
            "epoch": int(trainer.epoch),
            "rng": _rng_state(trainer.rng),
            "state": None,
        }
        if include_optimizer and trainer.opt_state is not None:
            desc, opt_arrays = _opt_state_arrays(trainer.opt_state, obj.n_params)
            training["state"] = desc
            arrays.update(opt_arrays)
    est_header = None
    if estimator is not None:
        est_header, extra = _estimator_header(estimator, include_optimizer)
        training = extra["training"]
        arrays.update(extra["arrays"])
        if history is None:
            history = estimator.history_
        if data_info is None:
            data_info = {
                "task": "regression" if est_header["class"] == "MLPRegressor" else "classification"
            }
            names = est_header["fitted"].get("feature_names_in")
            if names:
                data_info["feature_names"] = names
    hist = getattr(history, "history", history)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "estimator" if estimator is not None else "network",
        "config": obj.config(),
        "arrays": {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items()},
        "standardizer": obj.standardizer is not None,
        "data": _data_info_json(data_info),
        "history": _jsonable(hist, "history") if hist is not None else None,
        "training": training,
        "estimator": est_header,
        "metadata": _jsonable(metadata or {}, "metadata"),
    }
    raw = json.dumps(header).encode("utf-8")
    if len(raw) > MAX_HEADER_BYTES:
        raise ValueError(f"the model header is {len(raw)} bytes, over {MAX_HEADER_BYTES}")
    all_arrays = {"header": np.frombuffer(raw, dtype=np.uint8), **arrays}
    _atomic_write(path, lambda f: _write_archive(f, all_arrays))
    return path


def _data_info_json(info: dict[str, Any] | None) -> dict[str, Any] | None:
    if info is None:
        return None
    out = _jsonable({k: v for k, v in info.items() if k != "classes"}, "data_info")
    if info.get("classes") is not None:
        out["classes"] = _labels_to_json(info["classes"])
    return out


# ====================================================================== reading
def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, dtype: np.dtype, shape: Any
) -> np.ndarray:
    """One ``.npy`` member whose dtype and shape must be ``dtype`` and ``shape``.

    ``shape=None`` accepts any 1-D length up to MAX_HEADER_BYTES (the JSON header). The
    member's own ``.npy`` header is parsed and compared first; its data is read only
    when everything matches, and then exactly the expected number of bytes.
    """
    name = info.filename[:-4]
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            npy_shape, fortran, npy_dtype = np.lib.format.read_array_header_1_0(f, _NPY_HEADER_MAX)
        elif version == (2, 0):
            npy_shape, fortran, npy_dtype = np.lib.format.read_array_header_2_0(f, _NPY_HEADER_MAX)
        else:
            raise _fail(path, f"array {name!r}: unsupported .npy version {version}")
        if npy_dtype.hasobject or npy_dtype.fields is not None or npy_dtype.subdtype is not None:
            raise _fail(path, f"array {name!r}: object or structured arrays are refused")
        if shape is None:
            if len(npy_shape) != 1 or npy_shape[0] > MAX_HEADER_BYTES:
                raise _fail(path, "malformed header (not a 1-D array of at most 16 MiB)")
            shape = list(npy_shape)
        if npy_dtype != dtype or list(npy_shape) != list(shape):
            raise _fail(
                path,
                f"array {name!r} is {npy_dtype.str} {tuple(npy_shape)}, but the header says "
                f"{dtype.str} {tuple(shape)}",
            )
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != f.tell() + nbytes:
            raise _fail(path, f"array {name!r}: its stored size does not match its shape")
        data = f.read(nbytes)
        if len(data) != nbytes or f.read(1):
            raise _fail(path, f"array {name!r}: truncated or trailing data")
    arr = np.frombuffer(data, dtype=dtype)
    if fortran:
        return np.ascontiguousarray(arr.reshape(shape[::-1]).T)
    return arr.reshape(shape).copy()


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
    size = path.stat().st_size
    if size > max_bytes:
        raise _fail(path, f"the file is {size} bytes, over the limit of {max_bytes}")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _fail(path, f"{len(infos)} members (at most {MAX_MEMBERS})")
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            if not _MEMBER_NAME.fullmatch(name):
                raise _fail(path, f"unexpected member {name!r}")
            if name[:-4] in members:
                raise _fail(path, f"duplicate member {name!r}")
            if info.flag_bits & 0x1:
                raise _fail(path, f"member {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _fail(path, f"member {name!r} uses compression method {info.compress_type}")
            total += info.file_size
            if total > max_bytes:  # declared sizes, checked before decompressing: zip bombs
                raise _fail(
                    path, f"its members declare over {max_bytes} bytes uncompressed (zip bomb?)"
                )
            members[name[:-4]] = info
        if "header" not in members:
            raise _fail(path, "no header")
        raw = _read_member(zf, members["header"], path, np.dtype(np.uint8), None)
        try:
            header = json.loads(raw.tobytes().decode("utf-8"))
        except RecursionError:
            raise _fail(path, "the JSON header is nested too deeply") from None
        _check_header(header, path)
        specs = header["arrays"]
        names = set(members) - {"header"}
        if set(specs) != names:
            raise _fail(
                path,
                f"the arrays do not match the header (extra {sorted(names - set(specs))}, "
                f"missing {sorted(set(specs) - names)})",
            )
        arrays = {
            name: _read_member(zf, members[name], path, *_spec(name, specs[name], path))
            for name in sorted(specs)
        }
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


def _int_list(value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"{what} must be a list of integers")
    return value


def _build_network(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    from mlplab.core.data import Standardizer
    from mlplab.core.network import Network

    cfg = header["config"]
    sizes = _int_list(cfg.get("layer_sizes"), "layer_sizes")
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError("layer_sizes must hold at least two sizes >= 1")
    dtype = cfg.get("dtype")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype {dtype!r} is not float32 or float64")
    # Shapes first (against arrays already read, whose sizes were bounded): a header that
    # claims a huge architecture is refused before anything is allocated for it.
    expected = {}
    for l in range(1, len(sizes)):
        expected[f"W{l}"] = (sizes[l], sizes[l - 1])
        expected[f"b{l}"] = (sizes[l],)
    for name, shape in expected.items():
        if name not in arrays:
            raise ValueError(f"array {name} is missing")
        if arrays[name].shape != shape or arrays[name].dtype != np.dtype(dtype):
            raise ValueError(
                f"array {name} is {arrays[name].dtype} {arrays[name].shape}, but the "
                f"architecture {sizes} ({dtype}) needs {shape}"
            )
    hidden = cfg.get("hidden")
    init = cfg.get("init")
    if not isinstance(hidden, list) or not all(isinstance(h, str) for h in hidden):
        raise ValueError("hidden must be a list of activation names")
    if init is not None and (
        not isinstance(init, list) or not all(isinstance(i, str) for i in init)
    ):
        raise ValueError("init must be a list of initializer names")
    if not isinstance(cfg.get("output"), str):
        raise ValueError("output must be a head name")
    l2 = cfg.get("l2", 0.0)
    if isinstance(l2, bool) or not isinstance(l2, (int, float)):
        raise ValueError("l2 must be a number")
    net = Network(sizes, hidden=hidden, output=cfg["output"], init="zeros", dtype=dtype, l2=l2)
    if init is not None:
        if len(init) != net.L:
            raise ValueError(f"init has {len(init)} names for L={net.L} layers")
        net.init = list(init)
    net.params = [(arrays[f"W{l}"], arrays[f"b{l}"]) for l in range(1, net.L + 1)]
    if header.get("standardizer"):
        mean = arrays.get("standardizer_mean")
        scale = arrays.get("standardizer_scale")
        if mean is None or scale is None:
            raise ValueError("the standardizer arrays are missing")
        if mean.shape != (sizes[0],) or scale.shape != mean.shape or mean.dtype != np.float64:
            raise ValueError("the standardizer arrays do not match n[0]")
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("the standardizer arrays are not finite and positive")
        std = Standardizer()
        std.mean_, std.scale_ = mean, scale
        net.standardizer = std
    return net


def _opt_state_from(desc: Any, arrays: dict[str, np.ndarray], net: Any) -> Any:
    from mlplab.core import optimizers

    if not isinstance(desc, dict) or desc.get("type") not in _OPT_STATES:
        raise ValueError("unknown optimizer state type")
    cls = getattr(optimizers, desc["type"])
    count = desc.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError("optimizer state count must be an integer >= 0")
    fields = [f for f in cls._fields if f != "count"]
    if desc.get("arrays") != fields:
        raise ValueError(f"{desc['type']} needs the arrays {fields}")
    values = {"count": count}
    for field in fields:
        arr = arrays.get(f"opt_{field}")
        if arr is None or arr.shape != (net.n_params,) or arr.dtype.kind != "f":
            raise ValueError(f"optimizer state array {field!r} does not match the parameters")
        if not np.isfinite(arr).all():
            raise ValueError(f"optimizer state array {field!r} is not finite")
        values[field] = arr
    return cls(**values)


def _rng_from(state: Any, fallback: Any) -> np.random.Generator:
    if state is None:
        return np.random.default_rng(fallback)
    if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
        raise ValueError("the RNG state must be a PCG64 state")
    bg = np.random.PCG64()
    bg.state = state  # validated by NumPy (ints only)
    return np.random.Generator(bg)


def _history_from(hist: Any) -> dict[str, list[float]]:
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


def _build_estimator(header: dict[str, Any], net: Any, arrays: dict[str, np.ndarray]) -> Any:
    from mlplab.sklearn import estimators

    sec = header["estimator"]
    name = sec.get("class")
    if name not in _ESTIMATORS:
        raise ValueError(f"unknown estimator class {name!r}")
    cls = getattr(estimators, name)
    params = sec.get("params")
    fitted = sec.get("fitted")
    if not isinstance(params, dict) or not isinstance(fitted, dict):
        raise ValueError("estimator params/fitted must be objects")
    allowed = set(cls._get_param_names())
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"unknown estimator parameters {sorted(unknown)}")
    for key, value in params.items():
        if isinstance(value, (dict, list)) and key != "hidden_layer_sizes":
            raise ValueError(f"parameter {key} must be a plain value")
    params = dict(params)
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(_int_list(params["hidden_layer_sizes"], "sizes"))
    est = cls(**params)
    est._check_params()
    if est.dtype != net.dtype.name:
        raise ValueError("estimator dtype does not match the network's")
    n_features = fitted.get("n_features_in")
    if n_features != net.layer_sizes[0]:
        raise ValueError("n_features_in does not match n[0]")
    est.network_ = net
    est.n_features_in_ = n_features
    if fitted.get("feature_names_in") is not None:
        names = fitted["feature_names_in"]
        if (
            not isinstance(names, list)
            or len(names) != n_features
            or not all(isinstance(s, str) for s in names)
        ):
            raise ValueError("feature_names_in must be n[0] strings")
        est.feature_names_in_ = np.array(names, dtype=object)
    if name == "MLPClassifier":
        classes = _labels_from_json(fitted.get("classes"))
        mode = fitted.get("mode")
        n_out = net.layer_sizes[-1]
        ok = {
            "binary": classes.shape[0] == 2 and n_out == 1 and net.head.name == "binary",
            "multiclass": classes.shape[0] == n_out >= 3 and net.head.name == "multiclass",
            "multilabel": classes.shape[0] == n_out and net.head.name == "binary",
        }
        if not ok.get(mode, False):
            raise ValueError("the label encoding does not match the network's outputs")
        est.classes_, est._mode_ = classes, mode
    elif net.head.name != "regression":
        raise ValueError("an MLPRegressor needs the regression head")
    history = _history_from(header.get("history"))
    est.history_ = history
    est.loss_curve_ = list(history.get("loss", []))
    for attr in ("n_iter", "t", "step"):
        v = fitted.get(attr, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{attr} must be an integer >= 0")
    est.n_iter_, est.t_, est._step = (
        fitted.get("n_iter", 0),
        fitted.get("t", 0),
        fitted.get("step", 0),
    )
    for attr in ("loss", "best_loss", "best_validation_score"):
        v = fitted.get(attr)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ValueError(f"{attr} must be a number")
        setattr(est, f"{attr}_", v)
    vs = fitted.get("validation_scores")
    est.validation_scores_ = None if vs is None else _history_from({"v": vs})["v"]
    training = header.get("training")
    est._opt_state, est._opt_solver = None, None
    rs = est.random_state if isinstance(est.random_state, int) else None
    est._random = np.random.default_rng(rs)
    if training and training.get("state") is not None:
        est._opt_state = _opt_state_from(training["state"], arrays, net)
        est._opt_solver = fitted.get("solver")
        est._random = _rng_from(training.get("rng"), rs)
    return est


def _check_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a model file")
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist")
    return path


def _load(path: Path, max_bytes: int) -> tuple[Any, dict[str, Any], dict[str, np.ndarray]]:
    try:
        header, arrays = _read_archive(path, max_bytes)
        net = _build_network(header, arrays)
        _history_from(header.get("history"))
        if header["kind"] == "estimator":
            return _build_estimator(header, net, arrays), header, arrays
        if header.get("data") and header["data"].get("classes") is not None:
            _labels_from_json(header["data"]["classes"])
    except ModelFileError:
        raise
    except RecursionError:  # a RuntimeError: before the generic handler
        raise _fail(path, "nested too deeply") from None
    except MemoryError:
        raise _fail(path, "too large to load") from None
    except _READ_ERRORS as exc:
        raise _fail(path, f"{type(exc).__name__}: {exc}") from None
    return net, header, arrays


def load_with_header(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES
) -> tuple[Any, dict[str, Any]]:
    """Load a model file; return (Network or estimator, header dict).

    Raises
    ------
    ModelFileError
        For any file that is not a valid, complete, consistent mlplab model file.
    FileNotFoundError
        When ``path`` does not exist.
    """
    obj, header, _ = _load(_check_path(path), max_bytes)
    return obj, header


def load(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Load what :func:`save` wrote: a Network, or an MLPClassifier/MLPRegressor.

    No code is ever executed; predictions of the loaded model are bitwise equal to the
    saved one's. ``max_bytes`` bounds the file size and the arrays' total size.
    """
    obj, _, _ = _load(_check_path(path), max_bytes)
    return obj


def read_header(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> dict:
    """The validated JSON header of a model file (loads and checks the whole file)."""
    _, header, _ = _load(_check_path(path), max_bytes)
    return header


def load_trainer(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Rebuild the Trainer saved by ``save(trainer, path)``, ready to continue training.

    The network, optimizer (with its state, when it was saved), step and epoch counters,
    the shuffle RNG and the history come back, so ``trainer.fit`` continues the run.
    """
    from mlplab.core import optimizers
    from mlplab.train.loop import Trainer

    path = _check_path(path)
    net, header, arrays = _load(path, max_bytes)
    training = header.get("training")
    if header["kind"] != "network" or not training or "optimizer" not in training:
        raise ModelFileError(f"{path}: holds no trainer state (save a Trainer to resume it)")
    try:
        hyper = training.get("hyperparams") or {}
        if not isinstance(hyper, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in hyper.values()
        ):
            raise ValueError("optimizer hyperparameters must be numbers")
        opt = optimizers.get(str(training["optimizer"]), **hyper)
        trainer = Trainer(net, opt, seed=_rng_from(training.get("rng"), None))
        for attr in ("step", "epoch"):
            v = training.get(attr, 0)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{attr} must be an integer >= 0")
            setattr(trainer, attr, v)
        if training.get("state") is not None:
            trainer.opt_state = _opt_state_from(training["state"], arrays, net)
        hist = _history_from(header.get("history"))
        trainer.history.history = hist
        trainer.history.epoch = list(range(len(hist.get("loss", []))))
    except _READ_ERRORS as exc:
        raise _fail(path, f"{type(exc).__name__}: {exc}") from None
    return trainer
