"""How a ``Workspace(blocks=True)`` lays out a layer's products (the estimators' step).

:class:`LayerBlocks` names the row blocks of a layer's three products
(:meth:`Workspace.layer_blocks <mlplab.fast.workspace.Workspace.layer_blocks>`), and
:func:`with_bias_row` the view [Wᵀ; bᵀ] through which b[1] rides in the first layer's
products (re-exported by :mod:`mlplab.fast.workspace`, its old import path).

Notation as in :mod:`mlplab.core.backprop`; ``params[l]`` is the lecture's layer l + 1.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mlplab._typing import Array


class LayerBlocks(NamedTuple):
    """The row blocks (:func:`~mlplab.fast.workspace.row_blocks`; None: one call) of one
    layer's products on a ``Workspace(blocks=True)``, for ``params[l]`` = (W, b) with W of
    shape (n_out, n_in).

    Attributes
    ----------
    forward : tuple of slice or None
        Rows of z = a W[l]ᵀ, (n_samples, n_out), computed block by block.
    dW : tuple of slice or None
        Rows of a and dZ whose products aᵀ dZ are added into dW[l]ᵀ, (n_in, n_out)
        (``_dot_sum`` in :mod:`mlplab.fast.workspace`).
    dA : tuple of slice or None
        Rows of dA = dZ W[l], (n_samples, n_in), computed block by block.
    dW_scratch : ndarray of shape (n_in + 1, n_out) or None
        The scratch of the second block's product in ``dW`` (its first n_in rows when
        b[l] is not in the product).
    """

    forward: tuple[slice, ...] | None
    dW: tuple[slice, ...] | None  # noqa: N815  (the lecture's names)
    dA: tuple[slice, ...] | None  # noqa: N815
    dW_scratch: Array | None  # noqa: N815


def with_bias_row(W: Array, b: Array) -> Array | None:
    """[Wᵀ; bᵀ], shape (n[l-1] + 1, n[l]), as a view of θ where b[l] follows W[l]ᵀ in
    memory (the network's storage order, :func:`mlplab.core.params.views`), else None.

    Examples
    --------
    >>> import numpy as np
    >>> theta = np.arange(9.0)  # W[l]ᵀ (2 × 3) row by row, then b[l] (3)
    >>> W, b = theta[:6].reshape(2, 3).T, theta[6:]
    >>> with_bias_row(W, b)
    array([[0., 1., 2.],
           [3., 4., 5.],
           [6., 7., 8.]])
    >>> with_bias_row(W, np.arange(3.0)) is None  # b elsewhere
    True
    """
    Wt = W.T
    if not (
        Wt.flags.c_contiguous
        and b.flags.c_contiguous
        and b.ndim == 1
        and b.shape[0] == Wt.shape[1]
        and b.dtype == Wt.dtype
        and b.__array_interface__["data"][0] == Wt.__array_interface__["data"][0] + Wt.nbytes
    ):
        return None
    shape = (Wt.shape[0] + 1, Wt.shape[1])
    return np.lib.stride_tricks.as_strided(Wt, shape, Wt.strides, writeable=b.flags.writeable)
