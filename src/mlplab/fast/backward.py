r"""The lecture's backward pass with dW[l], db[l] written into a flat gradient vector.

:func:`backward_into` serves the callers that have the caches of
:func:`~mlplab.core.backprop.forward` (other array libraries, the MPI loop) rather than a
:class:`~mlplab.fast.workspace.Workspace`; it is re-exported there, its old import path.
Moved out of :mod:`mlplab.fast.workspace` unchanged.

Notation as in :mod:`mlplab.core.backprop`; ``params[l]`` is the lecture's layer l + 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array, Grads, Params
from mlplab.core.activations import Activation
from mlplab.core.layers import LayerCache


def backward_into(
    dZ_L: Array,
    params: Params,
    caches: Sequence[LayerCache],
    hidden: Sequence[Activation],
    out: Grads,
) -> Grads:
    r""":func:`~mlplab.core.backprop.backward`, with dW[l], db[l] written into ``out``.

    The same equations and products, layer L down to 1:

    .. math::
        dW^{[l]} = dZ^{[l]\top} A^{[l-1]}, \quad db^{[l]} = \textstyle\sum_i dZ^{[l]}_i,
        \quad dZ^{[l-1]} = (dZ^{[l]} W^{[l]}) \odot g'^{[l-1]}(z^{[l-1]})

    Parameters
    ----------
    dZ_L : array of shape (n_samples, n[L])
    params : list of L DenseParams
    caches : list of L Cache
        What :func:`~mlplab.core.backprop.forward` returned.
    hidden : list of L − 1 Activations
    out : list of L DenseParams
        Arrays of the parameters' shapes to write dW[l], db[l] into: views of the
        trainer's flat gradient vector (``Network._views``). NumPy writes the products
        there directly; other libraries (no ``out=`` in the array API) compute them and
        copy them in.

    Returns
    -------
    out : list of L DenseParams
    """
    xp = _xp.namespace(dZ_L)
    on_numpy = xp is np
    # PyTorch has out= too: the products go straight into the gradient vector (dW[l]ᵀ is
    # a contiguous block of it), saving a temporary and a copy per layer and step.
    torch_out = not on_numpy and _xp.compat().is_torch_namespace(xp)
    dZ: Any = dZ_L  # NumPy arrays, or the arrays of another library (the torch branch)
    A_prev: Any
    dW: Any
    db: Any
    for l in reversed(range(len(params))):
        A_prev, (dW, db) = caches[l].A_prev, out[l]
        if on_numpy:
            np.matmul(A_prev.T, dZ, out=dW.T)  # dW[l]ᵀ = (dZ[l]ᵀ A[l-1])ᵀ
            np.sum(dZ, axis=0, out=db)  # db[l] = Σ_i dZ[l]
        elif torch_out and dW.T.is_contiguous():
            import torch

            torch.matmul(A_prev.T, dZ, out=dW.T)
            torch.sum(dZ, dim=0, out=db)
        else:
            dW[...] = dZ.T @ A_prev  # dW[l] = dZ[l]ᵀ A[l-1]
            db[...] = _xp.sum(dZ, axis=0)  # db[l] = Σ_i dZ[l]
        if l > 0:  # da[0] = dx is not needed: skip that product
            prev = caches[l - 1]
            dZ = (dZ @ params[l].W) * hidden[l - 1].derivative(prev.Z, prev.A)  # dZ[l-1]
    return out
