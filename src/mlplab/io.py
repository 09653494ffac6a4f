"""Model files that are data, never code.

A model file is one ``.npz`` archive (a zip of ``.npy`` arrays) read with
``allow_pickle=False``: numeric arrays plus one JSON header stored as bytes. Loading
parses JSON and copies numbers; nothing in the file can name a function, a class or a
module to run, so loading a file cannot execute code.

Layout (format version 1)::

    header      uint8   JSON: {"format": "mlplab", "version": 1, "kind": "network",
                               "config": {...}, "standardizer": bool, "history": {...},
                               "metadata": {...}}
    W1, b1, ..., WL, bL      the parameters in the lecture's shapes
    standardizer_mean, standardizer_scale   (when a Standardizer is attached)

Writes are atomic: the file is written under a temporary name in the same folder, then
renamed over the target, so a crash never leaves a half-written model under the name.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from mlplab import _array_api as _xp

FORMAT = "mlplab"
VERSION = 1
MAX_HEADER_BYTES = 16 * 1024 * 1024


class ModelFileError(ValueError):
    """The file is not a valid mlplab model file (names the file and the problem)."""


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def save(
    obj: Any,
    path: str | os.PathLike[str],
    *,
    history: Any = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Save a Network (with its Standardizer) as a data-only ``.npz`` model file.

    Parameters
    ----------
    obj : Network
    path : str or Path
        Target file; ``.npz`` is appended when missing.
    history : History or dict, optional
        Training history to keep in the file.
    metadata : dict, optional
        Extra JSON-serializable information (dataset, options, metrics...).
    """
    from mlplab.network import Network

    if not isinstance(obj, Network):
        raise TypeError(f"save() takes an mlplab Network, got {type(obj).__name__}")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    if path.is_dir():
        raise IsADirectoryError(f"cannot save a model to {path}: it is a directory")
    hist = getattr(history, "history", history)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "network",
        "config": obj.config(),
        "standardizer": obj.standardizer is not None,
        "history": _jsonable(hist) if hist is not None else None,
        "metadata": _jsonable(metadata or {}),
    }
    arrays: dict[str, np.ndarray] = {
        "header": np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    }
    for l, (W, b) in enumerate(obj.params, start=1):
        # Always NumPy: a model trained with PyTorch or CuPy (on a GPU) loads anywhere.
        arrays[f"W{l}"], arrays[f"b{l}"] = _xp.to_numpy(W), _xp.to_numpy(b)
    if obj.standardizer is not None:
        arrays["standardizer_mean"] = np.asarray(obj.standardizer.mean_, dtype=np.float64)
        arrays["standardizer_scale"] = np.asarray(obj.standardizer.scale_, dtype=np.float64)
    _atomic_write(path, lambda f: np.savez(f, **arrays))
    return path


def _fail(path: Path, msg: str) -> ModelFileError:
    return ModelFileError(f"{path}: not a valid mlplab model file: {msg}")


def load_with_header(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """Load a model file; return (Network, header dict)."""
    from mlplab.data import Standardizer
    from mlplab.network import Network

    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a model file")
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = set(npz.files)
            if "header" not in names:
                raise _fail(path, "no header")
            raw = npz["header"]
            if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > MAX_HEADER_BYTES:
                raise _fail(path, "malformed header")
            header = json.loads(raw.tobytes().decode("utf-8"))
            arrays = {k: npz[k] for k in names if k != "header"}
    except ModelFileError:
        raise
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        ValueError,
        KeyError,
        UnicodeDecodeError,
    ) as exc:
        raise _fail(path, f"{type(exc).__name__}: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _fail(path, "wrong format marker")
    if header.get("version") != VERSION:
        raise _fail(
            path,
            f"format version {header.get('version')!r} is not supported "
            f"(this mlplab reads version {VERSION})",
        )
    cfg = header.get("config")
    try:
        net = Network(
            cfg["layer_sizes"],
            hidden=cfg["hidden"],
            output=cfg["output"],
            init="zeros",
            dtype=cfg["dtype"],
            l2=cfg.get("l2", 0.0),
        )
        net.init = list(cfg.get("init", net.init))
        params = [(arrays[f"W{l}"], arrays[f"b{l}"]) for l in range(1, net.L + 1)]
        for W, b in params:
            if W.dtype.kind != "f" or b.dtype.kind != "f":
                raise ValueError("parameters must be floating-point arrays")
        net.params = params
        if header.get("standardizer"):
            std = Standardizer()
            mean = arrays["standardizer_mean"]
            scale = arrays["standardizer_scale"]
            if mean.shape != (net.layer_sizes[0],) or scale.shape != mean.shape:
                raise ValueError("standardizer arrays do not match n[0]")
            if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
                raise ValueError("standardizer arrays are not finite and positive")
            std.mean_, std.scale_ = mean.astype(np.float64), scale.astype(np.float64)
            net.standardizer = std
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise _fail(path, f"{type(exc).__name__}: {exc}") from None
    return net, header


def load(path: str | os.PathLike[str]) -> Any:
    """Load a Network saved by :func:`save` (no code is ever executed)."""
    net, _ = load_with_header(path)
    return net
