"""The container of model files and checkpoints: a ``.npz`` archive with a JSON header.

An archive is a zip of ``.npy`` members: a ``header`` member (``uint8``, UTF-8 JSON) and
numeric arrays. Nothing in it can name code to run, and nothing is ever unpickled (ground
layer: NumPy and the standard library only).

- Writing (:func:`atomic_write`, :func:`write_members`): the archive goes to a temporary
  file in the target's folder, is flushed and fsync'ed, the file it replaces is renamed to
  a kept copy where the caller asks (checkpoints keep ``*.prev.npz``), the temporary file
  is renamed over the target and the folder fsync'ed. A crash at any moment leaves the
  old file (or its copy) intact and no partial file under the target's name.
- Reading (:func:`open_archive`, :class:`Archive`): the file size, the number, names,
  flags and *declared* uncompressed sizes of the members are checked before anything is
  decompressed (zip bombs); each member's ``.npy`` header is parsed and checked (object
  and structured dtypes refused, dtype and shape as expected) before exactly its bytes
  are read. A problem found raises the caller's error (``fail(message)``); what the zip
  and ``.npy`` parsers raise on damaged bytes is in READ_ERRORS, for the caller to wrap.
- What both formats store the same way: JSON values (:func:`jsonable`), class labels,
  scalars, an optimizer state (:func:`state_to_file`) and a Standardizer's μ and σ.
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
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from mlplab._tree import tree_leaves, tree_unflatten

MAX_FILE_BYTES = 1 << 30
"""Default limit on a model file's size, and on the total declared size of its arrays."""
MAX_HEADER_BYTES = 16 * 1024 * 1024
"""Limit on the JSON header, when it is written and when it is read."""
MAX_MEMBERS = 10_000
MEMBER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
"""The member names a model file may hold (without ``.npy``)."""
_NPY_HEADER_MAX = 10_000
_PLAIN_KINDS = "biufcSU"  # numbers, booleans, strings: never objects or raw bytes
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that the same content gives the same bytes
_MAGIC = b"PK\x03\x04"

# Everything the zip, npy and JSON readers raise on malformed input.
READ_ERRORS = (
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

Fail = Callable[[str], Exception]
"""Makes the caller's error (ModelFileError, CheckpointError) from a problem's description."""


# ====================================================================== writing
def _file_mode(path: Path) -> int:
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable; not every platform can open a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(
    path: Path,
    write: Callable[[IO[bytes]], None],
    *,
    previous: Path | None = None,
    temp_name: str | None = None,
) -> None:
    """Write ``path`` through ``write(fileobj)`` so that it is never seen half-written.

    ``previous``: the file being replaced is first renamed to this name (kept). The
    temporary file is ``temp_name`` in the same folder when given (a fixed name: what a
    killed writer left is overwritten by the next write instead of piling up), else a
    fresh unique name. The new file keeps the mode of the one it replaces.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _file_mode(path)
    if temp_name is None:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    else:
        tmp = str(path.with_name(temp_name))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if previous is not None and path.exists():
            os.replace(path, previous)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_members(
    f: IO[bytes], arrays: dict[str, np.ndarray], names: re.Pattern[str] = MEMBER_NAME
) -> None:
    """The zip of ``<name>.npy`` members (stored, fixed dates, never pickled) into ``f``.

    ``names`` is the pattern the reader will accept: a name it would refuse is refused
    here, before anything is written.
    """
    for name in arrays:
        if not names.fullmatch(name):
            raise ValueError(f"cannot store an array named {name!r} (not a valid member name)")
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            with zf.open(info, "w", force_zip64=True) as m:
                np.lib.format.write_array(m, np.ascontiguousarray(arr), allow_pickle=False)


def dump_header(header: dict[str, Any], what: str = "the header") -> np.ndarray:
    """The JSON header as the ``uint8`` array stored in the archive (bounded in size)."""
    raw = json.dumps(header).encode("utf-8")
    if len(raw) > MAX_HEADER_BYTES:
        raise ValueError(f"{what} is {len(raw)} bytes, over {MAX_HEADER_BYTES}")
    return np.frombuffer(raw, dtype=np.uint8)


# ====================================================================== reading
class Archive:
    """An open archive whose members passed the checks of :func:`open_archive`."""

    def __init__(self, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], fail: Fail):
        self._zf, self._members, self._fail = zf, members, fail

    @property
    def names(self) -> set[str]:
        """The members' names, without ``.npy``."""
        return set(self._members)

    def raw(self, name: str = "header") -> bytes:
        """The bytes of a 1-D ``uint8`` member of at most MAX_HEADER_BYTES (a JSON header)."""
        with self._zf.open(self._members[name]) as f:
            shape, fortran, dtype = _npy_header(f, name, self._fail)
            if dtype != np.uint8 or len(shape) != 1 or shape[0] > MAX_HEADER_BYTES:
                raise self._fail(
                    f"malformed {name} (not a 1-D uint8 array of at most {MAX_HEADER_BYTES} bytes)"
                )
            return self._data(f, name, dtype, list(shape), fortran).tobytes()

    def array(
        self, name: str, dtype: np.dtype | None = None, shape: list[int] | None = None
    ) -> np.ndarray:
        """Member ``name``, which must have the ``dtype`` and ``shape`` the header declares.

        Without ``dtype`` any plain dtype (numbers, booleans, strings) is accepted, without
        ``shape`` any shape. The member's ``.npy`` header is parsed and checked first, then
        exactly the expected number of bytes is read.
        """
        with self._zf.open(self._members[name]) as f:
            npy_shape, fortran, npy_dtype = _npy_header(f, name, self._fail)
            if dtype is None:
                if npy_dtype.kind not in _PLAIN_KINDS:
                    raise self._fail(f"array {name!r}: dtype {npy_dtype.str} is not allowed")
                dtype = npy_dtype
            shape = list(npy_shape) if shape is None else shape
            if npy_dtype != dtype or list(npy_shape) != list(shape):
                raise self._fail(
                    f"array {name!r} is {npy_dtype.str} {tuple(npy_shape)}, but the header says "
                    f"{dtype.str} {tuple(shape)}"
                )
            return self._data(f, name, dtype, shape, fortran)

    def _data(
        self, f: IO[bytes], name: str, dtype: np.dtype, shape: list[int], fortran: bool
    ) -> np.ndarray:
        nbytes = math.prod(shape) * dtype.itemsize
        if self._members[name].file_size != f.tell() + nbytes:
            raise self._fail(f"array {name!r}: its stored size does not match its shape")
        data = f.read(nbytes)
        if len(data) != nbytes or f.read(1):
            raise self._fail(f"array {name!r}: truncated or trailing data")
        arr = np.frombuffer(data, dtype=dtype)
        if fortran:
            return np.ascontiguousarray(arr.reshape(shape[::-1]).T)
        return arr.reshape(shape).copy()


def _npy_header(f: IO[bytes], name: str, fail: Fail) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise fail(f"array {name!r}: unsupported .npy version {version}")
    with warnings.catch_warnings(record=True) as py2:  # NumPy warns on a Python 2 header
        warnings.simplefilter("always")  # (mlplab never writes one): refused, whatever the filter
        read = getattr(np.lib.format, f"read_array_header_{version[0]}_0")
        shape, fortran, dtype = read(f, _NPY_HEADER_MAX)
    if py2 or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise fail(f"array {name!r}: Python 2 headers, object or structured arrays are refused")
    return shape, fortran, dtype


@contextlib.contextmanager
def open_archive(
    path: Path,
    fail: Fail,
    *,
    max_bytes: int | None = MAX_FILE_BYTES,
    names: re.Pattern[str] = MEMBER_NAME,
    required: Iterable[str] = ("header",),
) -> Iterator[Archive]:
    """The archive at ``path``, checked before anything is decompressed.

    ``max_bytes`` bounds the file's size and the total size its members declare; with
    None the file's own size bounds the declared sizes (stored members, no expansion).
    Every member must be ``<name>.npy`` with ``names`` matching ``name``, and those in
    ``required`` must be there.
    """
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise fail(f"the file is {size} bytes, over the limit of {max_bytes}")
    with open(path, "rb") as f:
        if f.read(4) != _MAGIC:
            raise fail("not an .npz archive (damaged or another kind of file)")
        f.seek(0)
        with zipfile.ZipFile(f) as zf:
            limit = size if max_bytes is None else max_bytes
            members = _checked_members(zf.infolist(), fail, limit, names, required)
            yield Archive(zf, members, fail)


def _checked_members(
    infos: list[zipfile.ZipInfo],
    fail: Fail,
    limit: int,
    names: re.Pattern[str],
    required: Iterable[str],
) -> dict[str, zipfile.ZipInfo]:
    if len(infos) > MAX_MEMBERS:
        raise fail(f"{len(infos)} members (at most {MAX_MEMBERS})")
    present = {info.filename for info in infos}
    for name in required:
        if f"{name}.npy" not in present:
            raise fail(f"no {name!r} array")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        filename = info.filename
        name = filename[:-4]
        if not filename.endswith(".npy") or not names.fullmatch(name):
            raise fail(f"unexpected member {filename!r}")
        if name in members:
            raise fail(f"duplicate member {filename!r}")
        if info.flag_bits & 0x1:
            raise fail(f"member {filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise fail(f"member {filename!r} uses compression method {info.compress_type}")
        total += info.file_size
        if total > limit:  # declared sizes, checked before decompressing: zip bombs
            raise fail(f"its members declare over {limit} bytes uncompressed (zip bomb?)")
        members[name] = info
    return members


def parse_header(raw: bytes, fail: Fail) -> Any:
    """The JSON value in a header's bytes."""
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise fail("the JSON header is nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise fail(f"the header is not JSON: {exc}") from None


# ====================================================================== JSON values
def jsonable(obj: Any, where: str = "value") -> Any:
    """Plain JSON data (dict/list/str/number/bool/None) or a TypeError naming ``where``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, where) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), where)
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot store {where} of type {type(obj).__name__}: not JSON data")


def labels_to_json(labels: Any) -> dict[str, Any]:
    """Class labels (numbers or strings) as ``{"values": [...], "dtype": ...}``."""
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


def labels_from_json(obj: Any) -> np.ndarray:
    """Inverse of :func:`labels_to_json`, checked (ValueError)."""
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


def scalar_to_json(v: Any) -> dict[str, Any]:
    """A scalar as JSON, keeping NumPy scalar types (float32 stays float32 on reload)."""
    if isinstance(v, np.generic):
        return {"value": v.item(), "dtype": v.dtype.str}
    if v is None or isinstance(v, (bool, int, float, str)):
        return {"value": v}
    raise TypeError(f"cannot store a value of type {type(v).__name__}")


def scalar_from_json(spec: dict[str, Any]) -> Any:
    """Inverse of :func:`scalar_to_json`, checked (ValueError)."""
    value = spec.get("value")
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise ValueError("a stored scalar must be a JSON number, string, boolean or null")
    if "dtype" not in spec:
        return value
    dtype = np.dtype(spec["dtype"]) if isinstance(spec["dtype"], str) else None
    if dtype is None or dtype.kind not in "biuf":
        raise ValueError(f"a stored scalar's dtype {spec['dtype']!r} is not allowed")
    return dtype.type(value)


# ====================================================================== optimizer state
_STATE_MISMATCH = "optimizer state does not match the optimizer"


def state_to_file(
    state: Any, to_file: Callable[[np.ndarray], np.ndarray] | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """An optimizer state (a tree of NumPy arrays and scalars) as (JSON, arrays).

    The JSON is ``{"type": <class name>, "leaves": [...]}``: leaf i is ``{"array":
    "opt_<i>"}`` for an array, stored as ``to_file(leaf)`` (the callers store θ-sized
    vectors with W[l] by rows), or :func:`scalar_to_json` for a scalar.
    """
    leaves: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for i, leaf in enumerate(tree_leaves(state)):
        if isinstance(leaf, np.ndarray):
            arrays[f"opt_{i}"] = leaf if to_file is None else to_file(leaf)
            leaves.append({"array": f"opt_{i}"})
        else:
            leaves.append(scalar_to_json(leaf))
    return {"type": type(state).__name__, "leaves": leaves}, arrays


def state_from_file(
    desc: Any,
    arrays: dict[str, np.ndarray],
    template: Any,
    from_file: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Any:
    """Inverse of :func:`state_to_file`, checked (ValueError).

    ``template`` (``opt.init(θ)``) gives the structure and each leaf's shape and dtype;
    arrays are converted to the template's dtype and must be finite.
    """
    if not isinstance(desc, dict) or not isinstance(desc.get("leaves"), list):
        raise ValueError("the optimizer state is malformed")
    if desc.get("type") != type(template).__name__:
        raise ValueError(f"{_STATE_MISMATCH} ({desc.get('type')!r}, not {type(template).__name__})")
    like = tree_leaves(template)
    if len(desc["leaves"]) != len(like):
        raise ValueError(_STATE_MISMATCH)
    leaves = [
        _leaf_from_file(spec, t, arrays, from_file)
        for spec, t in zip(desc["leaves"], like, strict=True)
    ]
    state = tree_unflatten(template, leaves)
    count = getattr(state, "count", 0)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError("optimizer state count must be an integer >= 0")
    return state


def _leaf_from_file(
    spec: Any,
    like: Any,
    arrays: dict[str, np.ndarray],
    from_file: Callable[[np.ndarray], np.ndarray] | None,
) -> Any:
    if not isinstance(spec, dict):
        raise ValueError(_STATE_MISMATCH)
    if "array" not in spec:
        if isinstance(like, np.ndarray):
            raise ValueError(_STATE_MISMATCH)
        value = scalar_from_json(spec)
        integer = (int, np.integer)
        if (
            isinstance(like, integer)
            and not isinstance(like, bool)
            and (isinstance(value, bool) or not isinstance(value, integer))
        ):
            raise ValueError(f"{_STATE_MISMATCH} (an integer is expected)")
        return value
    name = spec["array"]
    a = arrays.get(name) if isinstance(name, str) else None
    if a is None or not isinstance(like, np.ndarray) or a.shape != like.shape:
        raise ValueError(_STATE_MISMATCH)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"optimizer state array {name!r} is not numeric")
    a = a.astype(like.dtype, copy=True)
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"optimizer state array {name!r} is not finite")
    return a if from_file is None else from_file(a)


# ====================================================================== Standardizer
STANDARDIZER_ARRAYS = ("standardizer_mean", "standardizer_scale")


def standardizer_arrays(std: Any) -> dict[str, np.ndarray]:
    """A Standardizer's μ and σ as the two float64 arrays both formats store ({} for None)."""
    if std is None:
        return {}
    mean, scale = STANDARDIZER_ARRAYS
    return {
        mean: np.asarray(std.mean_, dtype=np.float64),
        scale: np.asarray(std.scale_, dtype=np.float64),
    }


def standardizer_moments(
    arrays: dict[str, np.ndarray], n_features: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The (μ, σ) stored by :func:`standardizer_arrays`, or None when there are none.

    Checked (ValueError): both float64 arrays of shape (n_features,).
    """
    mean, scale = (arrays.get(k) for k in STANDARDIZER_ARRAYS)
    if mean is None and scale is None:
        return None
    if mean is None or scale is None:
        raise ValueError("the standardizer arrays are missing")
    for a in (mean, scale):
        if a.shape != (n_features,) or a.dtype != np.float64:
            raise ValueError("the standardizer arrays do not match n[0]")
    return mean, scale
