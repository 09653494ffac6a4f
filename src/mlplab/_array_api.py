r"""Array namespaces: NumPy by default, PyTorch, CuPy, ... through the array API standard.

mlplab's functional core is written against an array namespace ``xp``: the module whose
functions operate on the arrays at hand (``xp.sum``, ``xp.exp``, ``xp.matmul``, ...). For
NumPy arrays — and for anything that is not an array of another library: lists, pandas
frames, scalars — ``xp`` is :mod:`numpy` itself, so the NumPy code paths are exactly the
NumPy code they always were (and the training fast path, ``fast.workspace.Workspace``, stays
NumPy-only). For the arrays of other libraries ``xp`` is their array API namespace from
`array-api-compat <https://data-apis.org/array-api-compat/>`_ (imported on first use
only): ``torch.Tensor`` (CPU or CUDA), ``cupy.ndarray``, ``array_api_strict`` arrays.

The functions here are the few places where NumPy and the standard differ:

* :func:`namespace` picks ``xp`` from arrays without importing anything for NumPy;
* :func:`astype`, :func:`copy`, :func:`norm` (NumPy methods vs standard functions);
* :func:`sigmoid`: scipy's ``expit`` for NumPy, a two-branch stable form elsewhere;
* :func:`to_numpy` / :func:`convert`: the explicit host <-> device copies (``Network.to``,
  ``mlplab.save``, input checks), never used inside the training loop;
* :func:`loss_value`: a cost J is a Python float with NumPy (as it always was), but a 0-D
  array on other namespaces, so that the training loop never waits for the device.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol, cast

import numpy as np
from numpy.typing import NDArray

from mlplab._typing import Array

# Top-level modules of array libraries whose arrays mlplab computes with in their own
# namespace (and not by converting them to NumPy): array-api-compat supports these.
_FOREIGN_MODULES = frozenset({"torch", "cupy", "array_api_strict", "jax", "jaxlib", "dask"})


@functools.cache
def compat() -> ModuleType:
    """``array_api_compat``, imported on first use, with a clear error when it is missing."""
    try:
        return importlib.import_module("array_api_compat")
    except ImportError:
        raise ImportError(
            "computing with arrays that are not NumPy arrays (PyTorch tensors, CuPy arrays, "
            "...) needs the small package array-api-compat: pip install array-api-compat"
        ) from None


class Namespace(Protocol):
    """An array namespace ``xp`` as mlplab uses it: :mod:`numpy` or an array API namespace.

    Its functions (``xp.sum``, ``xp.exp``, ``xp.where``, ...) take arrays of that namespace
    and return one (typed :data:`mlplab._typing.Array`); ``finfo`` and the dtypes are the
    exceptions spelled out.
    """

    int64: Any
    float32: Any
    float64: Any

    def finfo(self, dtype: Any, /) -> Any: ...

    def isdtype(self, dtype: Any, kind: Any, /) -> bool: ...

    def isfinite(self, x: Any, /) -> NDArray[np.bool_]: ...

    def __hash__(self) -> int: ...

    def __getattr__(self, name: str) -> Callable[..., Array]: ...


# Per array type: its namespace (the training step asks for it dozens of times per step,
# and array_api_compat.array_namespace costs microseconds).
_NAMESPACES: dict[type, Namespace] = {}


def is_foreign(obj: Any) -> bool:
    """Whether ``obj`` is an array of another library than NumPy (torch, CuPy, ...).

    NumPy arrays and scalars, lists, pandas objects and other array-likes that NumPy
    converts are not: they take the NumPy path, as before.
    """
    if type(obj) in _NAMESPACES:
        return True
    if isinstance(obj, (np.ndarray, np.generic, list, tuple, int, float, bool)):
        return False
    mod = type(obj).__module__.partition(".")[0]
    return mod in _FOREIGN_MODULES or (
        hasattr(obj, "__array_namespace__") and hasattr(obj, "shape") and hasattr(obj, "dtype")
    )


def namespace(*arrays: Any) -> Namespace:
    """``xp`` for ``arrays``: :mod:`numpy` unless one of them is a foreign array."""
    if len(arrays) == 1:  # the training step's case
        t = type(arrays[0])
        if t is np.ndarray:
            return np
        xp = _NAMESPACES.get(t)
        if xp is not None:
            return xp
    foreign = [a for a in arrays if type(a) is not np.ndarray and is_foreign(a)]
    if not foreign:
        return np
    xp = cast(Namespace, compat().array_namespace(*foreign))
    if len({type(a) for a in foreign}) == 1:
        _NAMESPACES[type(foreign[0])] = xp
    return xp


def is_numpy(xp: Any) -> bool:
    """Whether ``xp`` is NumPy (the module itself, or array-api-compat's wrapper of it)."""
    return xp is np or getattr(xp, "__name__", "").startswith("array_api_compat.numpy")


def resolve(target: Any, device: Any = None) -> tuple[Any, Any]:
    """``(xp, device)`` from a namespace (module or module name) or an array.

    ``net.to(torch, device="cuda")``, ``net.to("cupy")``, ``net.to(X)`` (X's namespace
    and device). NumPy gives ``(numpy, None)``.
    """
    if isinstance(target, str):
        try:
            target = importlib.import_module(target)
        except ImportError as exc:
            raise ValueError(f"cannot import the array library {target!r}: {exc}") from None
    xp: Namespace
    if isinstance(target, ModuleType):
        if is_numpy(target):
            xp = np
        else:
            try:
                probe = target.asarray(0.0)  # the namespace of an array that module makes
            except Exception as exc:
                raise TypeError(
                    f"{target.__name__} cannot serve as an array namespace here: {exc}"
                ) from None
            xp = namespace(probe) if is_foreign(probe) else np
            if xp is not np and device is None:
                device = compat().device(probe)
    else:
        if not (hasattr(target, "shape") and hasattr(target, "dtype")):
            raise TypeError(
                "expected an array namespace (numpy, torch, cupy, or its name) or an array, "
                f"got {type(target).__name__}"
            )
        xp = namespace(target)
        if device is None and xp is not np:
            device = compat().device(target)
    if xp is np:
        if device not in (None, "cpu"):
            raise ValueError(f"NumPy arrays live on the CPU; got device={device!r}")
        return np, None
    if device is not None:
        # Normalize ("cuda" -> cuda:0, ...) to the device object arrays report.
        device = compat().device(xp.zeros((), device=device))
    return xp, device


def device_of(x: Any) -> Any:
    """The device of ``x`` (None for NumPy arrays)."""
    if type(x) is np.ndarray or not is_foreign(x):
        return None
    try:
        return x.device  # the standard's attribute (PyTorch, CuPy, array-api-strict)
    except AttributeError:
        return compat().device(x)


def dtype_in(xp: Any, dtype: np.dtype) -> Any:
    """The floating dtype of ``xp`` named like the NumPy ``dtype`` (float32/float64)."""
    return np.dtype(dtype) if xp is np else getattr(xp, np.dtype(dtype).name)


def scalar(value: float, like: Any, *, typed: bool = False) -> Any:
    """``value`` as an operand next to the array ``like`` in an element-wise function.

    NumPy takes the Python number itself (``typed=True``: a NumPy scalar of ``like``'s
    dtype, for calls where no array sets the dtype: ``np.where(Z > 0, 1.0, 0.01)`` is
    float64). Other libraries get a 0-D array of ``like``'s dtype on its device, made
    there (no host-to-device copy), because array-api-compat before 1.16 refuses Python
    numbers in functions such as ``maximum`` and ``logaddexp`` (operators such as
    ``Z * 2.0`` take numbers everywhere).
    """
    if type(like) is np.ndarray:
        return like.dtype.type(value) if typed else value
    xp, dev = namespace(like), device_of(like)
    try:
        key = (xp, like.dtype, dev, value)
        cached = _SCALARS.get(key)
    except TypeError:  # an unhashable dtype or device: no cache
        return xp.full((), value, dtype=like.dtype, device=dev)
    if cached is None:  # never written to, so one per (dtype, device, value) serves all
        cached = _SCALARS[key] = xp.full((), value, dtype=like.dtype, device=dev)
    return cached


_SCALARS: dict[tuple[Any, ...], Any] = {}


def sum(x: Any, axis: int | None = None, keepdims: bool = False) -> Array:
    """Σ of x's entries (along ``axis``): NumPy's method (faster than ``np.sum`` on small
    arrays, which the training step meets every time), ``xp.sum`` elsewhere."""
    if type(x) is np.ndarray:
        return cast(Array, x.sum(axis=axis, keepdims=keepdims))
    return namespace(x).sum(x, axis=axis, keepdims=keepdims)


def cost(E: Any, n: int) -> float:
    """J = Σ E / n, the heads' cost: a float for NumPy (as ``float(E.sum() / n)``), a 0-D
    array on E's device otherwise (see :func:`loss_value`), typed as the float it stands for."""
    if type(E) is np.ndarray:
        return float(E.sum() / n)
    return cast(float, namespace(E).sum(E) / n)


def max(x: Any, axis: int | None = None, keepdims: bool = False) -> Array:
    """The largest entry (along ``axis``), as :func:`sum` does it."""
    if type(x) is np.ndarray:
        return cast(Array, x.max(axis=axis, keepdims=keepdims))
    return namespace(x).max(x, axis=axis, keepdims=keepdims)


def extremes(x: Any) -> tuple[float, float]:
    """(min, max) of a non-empty array as floats; both finite exactly when every entry is
    (NaN propagates through both, +inf becomes the max and −inf the min).

    PyTorch reads x once (``aminmax``: 40 against 58 ms for ``min`` and ``max`` on 60000×784
    float32, benchmarks/RESULTS.md), other libraries twice.
    """
    if type(x).__module__.partition(".")[0] == "torch":
        lo, hi = x.aminmax()
        return float(lo), float(hi)
    xp = namespace(x)
    return float(xp.min(x)), float(xp.max(x))


def astype(x: Any, dtype: Any) -> Array:
    """``x`` as ``dtype`` (``ndarray.astype`` for NumPy, ``xp.astype`` otherwise)."""
    if isinstance(x, np.ndarray):
        return x.astype(dtype)
    return namespace(x).astype(x, dtype)


def copy(x: Any) -> Array:
    """An independent copy of ``x`` in its own namespace and on its own device."""
    if isinstance(x, np.ndarray):
        return x.copy()
    return namespace(x).asarray(x, copy=True)


def norm(x: Any) -> Any:
    """‖x‖₂ (Frobenius for matrices): a NumPy float, or a 0-D array on x's device."""
    if isinstance(x, np.ndarray):
        return np.linalg.norm(x)
    xp = namespace(x)
    return xp.sqrt(xp.sum(x * x))


def count_true(mask: Any) -> Any:
    """The number of True entries: an int for NumPy, a 0-D integer array elsewhere."""
    if isinstance(mask, np.ndarray):
        return int(np.count_nonzero(mask))
    xp = namespace(mask)
    return xp.sum(xp.astype(mask, xp.int64))


def mean_true(mask: Any) -> float:
    """The fraction of True entries, as a float (reads the device once)."""
    n = 1
    for s in mask.shape:
        n *= int(s)
    return float(count_true(mask)) / n


def loss_value(J: Any) -> float:
    """A cost as the core returns it: a float for NumPy, a 0-D array on other namespaces
    (typed as the float it stands for).

    ``float(J)`` reads a 0-D array back to the host, which waits for the device to finish
    the queued work; the training loop therefore keeps J on the device and sums it there,
    reading the epoch's total once.
    """
    if type(J) is np.float32 or type(J) is np.float64:  # NumPy's J: the common case
        return float(J)
    if isinstance(J, (np.generic, float, int, np.ndarray)):
        return float(J)
    return cast(float, J)


_SPECIAL_UFUNCS = "scipy.special._special_ufuncs"


@functools.cache
def _expit() -> Callable[..., Array]:
    """scipy's ``expit`` ufunc, loaded on first use and without the rest of scipy.special.

    ``import scipy.special`` costs 0.2–0.3 s (its array-API layer imports every NumPy
    submodule, f2py included), more than training a small network. ``expit`` itself is a
    ufunc of the compiled extension ``scipy.special._special_ufuncs`` (in SciPy 1.17, for
    one), which needs none of that: that extension is loaded alone, under its own name, so
    a later ``import scipy.special`` finds it in ``sys.modules`` and its ``expit`` *is* this
    ufunc (the same compiled code: every bit the same; tests/test_performance_contracts.py).
    Where SciPy is laid out otherwise, ``from scipy.special import expit``.
    """
    try:
        return cast("Callable[..., Array]", _special_ufuncs().expit)
    except (ImportError, AttributeError, OSError):
        from scipy.special import expit

        return expit


def _special_ufuncs() -> ModuleType:
    """The extension module ``scipy.special._special_ufuncs``, without importing its package."""
    import sys

    if _SPECIAL_UFUNCS in sys.modules:  # scipy.special imported already (or loaded before)
        return sys.modules[_SPECIAL_UFUNCS]
    import importlib.machinery
    import importlib.util

    import scipy  # the package alone: a version and a config, no submodule

    folder = [f"{p}/special" for p in scipy.__path__]
    spec = importlib.machinery.PathFinder.find_spec("_special_ufuncs", folder)
    if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
        raise ImportError(f"no compiled {_SPECIAL_UFUNCS} in {folder}")
    loader = importlib.machinery.ExtensionFileLoader(_SPECIAL_UFUNCS, cast(str, spec.origin))
    full = importlib.util.spec_from_file_location(_SPECIAL_UFUNCS, spec.origin, loader=loader)
    module = importlib.util.module_from_spec(cast(importlib.machinery.ModuleSpec, full))
    loader.exec_module(module)
    sys.modules[_SPECIAL_UFUNCS] = module
    return module


@functools.cache
def _native_sigmoid(xp: Any) -> Callable[..., Array] | None:
    """The library's own one-kernel σ, where it has one (the array API standard has none)."""
    if compat().is_torch_namespace(xp):
        import torch

        # 1/(1+e^{-z}): e^{1000} = inf gives 0, never NaN
        return cast("Callable[..., Array]", torch.sigmoid)
    if compat().is_cupy_namespace(xp):
        from cupyx.scipy.special import expit

        return cast("Callable[..., Array]", expit)
    return None


def sigmoid(Z: Any, out: Any = None) -> Array:
    r"""σ(z) = 1 / (1 + e^{-z}), finite and warning-free for every z, in Z's namespace.

    NumPy: scipy's ``expit`` (one ufunc, accurate in both tails; ``out`` supported).
    PyTorch and CuPy: their own ``torch.sigmoid`` and ``cupyx.scipy.special.expit`` (one
    kernel on a GPU, as accurate). Any other array API library: the same function
    written in two branches: with e = e^{-|z|} ≤ 1 (which never overflows),
    σ(z) = 1/(1+e) for z ≥ 0 and e/(1+e) for z < 0 — each branch as accurate as expit.
    """
    if type(Z) is np.ndarray or not is_foreign(Z):
        return _expit()(Z, out=out)
    xp = namespace(Z)
    native = _native_sigmoid(xp)
    if native is not None:
        return native(Z)
    e = xp.exp(-xp.abs(Z))
    r = 1.0 / (1.0 + e)
    return xp.where(Z >= 0, r, e * r)


def to_numpy(x: Any) -> NDArray[Any]:
    """``x`` as a NumPy array on the host (a copy for device arrays; NumPy input as is).

    An explicit device → host copy: mlplab calls it outside the training loop only
    (``mlplab.save``, error messages, the gradient check's report).
    """
    if isinstance(x, np.ndarray):
        return x
    mod = type(x).__module__.partition(".")[0]
    if mod == "torch":
        return cast("NDArray[Any]", x.detach().cpu().numpy())
    if mod == "cupy":
        return cast("NDArray[Any]", x.get())
    try:
        return np.asarray(x)
    except (RuntimeError, TypeError, ValueError):
        return np.from_dlpack(x)  # e.g. array_api_strict arrays on a non-CPU device


def convert(x: Any, xp: Namespace, device: Any, dtype: Any = None) -> Array:
    """A copy of ``x`` in namespace ``xp`` on ``device`` (dtype: a NumPy dtype or None).

    Within one namespace this is a device-to-device copy (``to_device``); between
    namespaces it goes through NumPy on the host.
    """
    if xp is np:
        return np.array(to_numpy(x), dtype=dtype, copy=True)
    xdt = None if dtype is None else dtype_in(xp, dtype)
    if is_foreign(x) and namespace(x) is xp:
        if device is not None and compat().device(x) != device:
            x = compat().to_device(x, device)
        return xp.asarray(x, dtype=xdt, copy=True)
    host = to_numpy(x) if is_foreign(x) else np.asarray(x)
    return xp.asarray(host, dtype=xdt, device=device, copy=True)


def check_views_write_through(xp: Any, device: Any) -> None:
    """Refuse namespaces whose slices are not writable views of their array.

    The network keeps all parameters in one flat vector θ with W[l], b[l] as views into
    it, and the optimizer updates θ in place. NumPy, PyTorch, CuPy and array-api-strict
    work that way; immutable arrays (JAX) do not.
    """
    theta = xp.zeros(4, device=device)
    try:
        view = xp.reshape(theta[1:3], (2, 1)).T  # W[l] is such a view (Network._views)
        view += 1.0
        ok = float(xp.sum(theta)) == 2.0
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        ok = False
    if not ok:
        raise TypeError(
            f"mlplab cannot train with {getattr(xp, '__name__', xp)} arrays: it updates its "
            "parameters in place through views of one flat vector, and this library's "
            "slices are not writable views (NumPy, PyTorch, CuPy and array-api-strict work)"
        )


def tree_convert(tree: Any, xp: Any, device: Any) -> Any:
    """Every array leaf of ``tree`` (an optimizer state) moved to ``xp`` on ``device``."""
    from mlplab._tree import tree_map

    def move(leaf: Any) -> Any:
        if hasattr(leaf, "shape") and hasattr(leaf, "dtype") and not isinstance(leaf, np.generic):
            same = (namespace(leaf) is xp) and device_of(leaf) == device
            return leaf if same else convert(leaf, xp, device)
        return leaf

    return tree_map(move, tree)


def describe(xp: Any, device: Any) -> str:
    """``"numpy"``, ``"torch on cuda:0"``, ...: for messages and ``repr``."""
    if xp is np:
        return "numpy"
    name = getattr(xp, "__name__", str(xp)).replace("array_api_compat.", "")
    return f"{name} on {device}" if device is not None else name


def check_X_in(
    X: Any, xp: Any, device: Any, dtype: np.dtype, n_features: int | None, name: str = "X"
) -> Any:
    """:func:`mlplab._validation.check_X` for an array of any library: X as a new array
    of ``xp`` on ``device`` in ``dtype``.

    Arrays already in ``xp`` are checked where they are (shape, dtype, one "all finite"
    read) and copied device to device. When a check fails, the NumPy check runs on a
    host copy to write the usual message (the first NaN's row and column, ...).
    """
    from mlplab._validation import check_X

    if not is_foreign(X):
        arr = check_X(X, dtype, n_features, name)
        return arr if xp is np else convert(arr, xp, device)
    if xp is np:
        return check_X(to_numpy(X), dtype, n_features, name)
    shape = tuple(X.shape)
    ok = (
        len(shape) == 2
        and shape[0] > 0
        and shape[1] > 0
        and (n_features is None or shape[1] == n_features)
        and namespace(X).isdtype(X.dtype, ("bool", "integral", "real floating"))
    )
    if ok:
        Xc = convert(X, xp, device, dtype)
        if bool(xp.all(xp.isfinite(Xc))):
            return Xc
    arr = check_X(to_numpy(X), dtype, n_features, name)  # raises, naming the problem
    return convert(arr, xp, device)
