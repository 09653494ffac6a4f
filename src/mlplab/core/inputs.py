"""Inputs for a network: X checked, converted to its dtype and namespace, standardized.

Every method of :class:`~mlplab.core.network.Network` that takes X (and the trainer, once
per fit) goes through :func:`prepare_X`, so a bad X gets the same clear message wherever
it comes in.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array
from mlplab._validation import check_X, finite_extremes


def prepare_X(net: Any, X: Any, extremes: list[Any] | None = None) -> Array:
    """X checked and converted for this network (standardized if it has a Standardizer).

    If ``extremes`` is a list and X is used as given, X's (min, max) are appended to it
    (the finiteness check computes them; the trainer's scale check reuses them).
    """
    xp = net._xp
    if xp is np and not _xp.is_foreign(X):
        as_is = (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype == net.dtype
            and X.flags.c_contiguous
            and X.shape[0] > 0
            and X.shape[1] == net.layer_sizes[0]
        )
        if as_is:
            # Finite min and max mean every entry is finite (NaN and ±inf propagate).
            lo, hi = finite_extremes(X)
            as_is = math.isfinite(lo) and math.isfinite(hi)
            if as_is and extremes is not None and net.standardizer is None:
                extremes.append((lo, hi))
        # If X is already what check_X would return, use it as is, read-only (nothing
        # in mlplab writes into X): copying 60000×784 floats costs more than an epoch's
        # gathers (benchmarks/RESULTS.md, mnist-shape).
        Xc = X if as_is else check_X(X, net.dtype, net.layer_sizes[0])
        if net.standardizer is not None:
            Xc = net.standardizer.transform(Xc).astype(net.dtype, copy=False)
        return Xc
    # Checked (and copied) where the network computes: on the device for its arrays;
    # an array that is already what that would return is used as is, as above.
    as_is = _xp.is_foreign(X) and _usable_as_is(net, X, extremes)
    Xc = X if as_is else _xp.check_X_in(X, xp, net._device, net.dtype, net.layer_sizes[0])
    if net.standardizer is not None:
        mean, scale = standardizer_arrays(net)
        Xc = _xp.astype((Xc - mean) / scale, _xp.dtype_in(xp, net.dtype))
    return Xc


def _usable_as_is(net: Any, X: Any, extremes: list[Any] | None) -> bool:
    """Whether an array of another library is already what
    :func:`mlplab._array_api.check_X_in` would return: in the network's namespace, on its
    device, in its dtype, of its width, without autograd, and with a finite min and max
    (NaN and ±inf propagate through min and max: :func:`mlplab._array_api.extremes`); then its
    (min, max) go to ``extremes``, as for NumPy. Copying 60000×784 floats and the two
    passes of ``all(isfinite(X))`` take a good part of an mnist-shape epoch on PyTorch.
    """
    xp, shape = net._xp, tuple(X.shape)
    if not (
        len(shape) == 2
        and shape[0] > 0
        and shape[1] == net.layer_sizes[0]
        and _xp.namespace(X) is xp
        and _xp.device_of(X) == net._device
        and X.dtype == _xp.dtype_in(xp, net.dtype)
        and not getattr(X, "requires_grad", False)
    ):
        return False
    lo, hi = _xp.extremes(X)  # one pass over X where the library has one
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return False  # check_X_in names the problem
    if extremes is not None and net.standardizer is None:
        extremes.append((lo, hi))
    return True


def standardizer_arrays(net: Any) -> tuple[Array, Array]:
    """The Standardizer's μ and σ (float64) in the network's namespace, copied once."""
    std = net.standardizer
    key = (id(std.mean_), id(std.scale_), net._xp, str(net._device))
    cached = getattr(net, "_std_arrays", None)
    if cached is None or cached[0] != key:
        mean = _xp.convert(std.mean_, net._xp, net._device, np.dtype(np.float64))
        scale = _xp.convert(std.scale_, net._xp, net._device, np.dtype(np.float64))
        cached = net._std_arrays = (key, mean, scale)
    return cached[1], cached[2]
