"""The step's NumPy calls on a ``Workspace(blocks=True)``, bound once (the estimators').

:class:`~mlplab.train.fitstep.FitStep` prepares a step as a list of NumPy calls with
their arrays bound. On the lecture's workspace it builds them itself; on the estimators'
(``blocks``: products in row blocks, b[1] inside the first product as [X, 1]'s last
column, a multiclass head on z[L]ᵀ) it builds them here: the calls of
:meth:`Workspace.gather <mlplab.fast.workspace.Workspace.gather>` and
:meth:`Workspace.loss_and_grads <mlplab.fast.workspace.Workspace.loss_and_grads>` with
``blocks``, on the same arrays in the same order, so the same bits
(tests/test_sklearn_fused.py fits with and without them).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np


def ready(ws: Any, run: Any) -> bool:
    """Whether a step ran on ``ws`` (a blocks workspace) for this run's X and Y, so that
    its [X, 1], yᵀ and a[l] are where the calls below expect them."""
    return bool(
        ws.last_a(-1) is ws.Z[-1]  # a step ran on ws: a[l] are where it left them
        and ws.copies_of(run.X, run.Y) is not None  # [X, 1] and yᵀ are of X and Y
        and (ws.columns is not None or ws.head_into is not None)
    )


def gather_call(ws: Any, run: Any) -> Any:
    """``Workspace.gather`` with ``blocks``: [X, 1]'s rows and yᵀ's columns (or y's rows),
    as one call of the batch's rows."""
    ones, Y_columns = ws.copies_of(run.X, run.Y)  # (ready: they are)
    if ones is not None:
        take_X = partial(ones.take, axis=0, out=ws.Xb, mode="clip")
    else:
        take_X = partial(run.X.take, axis=0, out=ws.Xb[:, :-1], mode="clip")
    if ws.columns is not None:
        take_Y = partial(Y_columns.take, axis=1, out=ws.YT, mode="clip")
    else:
        take_Y = partial(run.Y.take, axis=0, out=ws.Yb, mode="clip")

    def gather(rows: np.ndarray) -> None:
        take_X(rows)
        take_Y(rows)

    return gather


def forward_calls(ws: Any, params: Any) -> list[Any]:
    """``Workspace.loss_and_grads``' forward pass with ``blocks`` (``_z_into``, g)."""
    calls: list[Any] = []
    L, A = len(params), ws.Xb
    for l in range(L):
        W, b = params[l]
        Z = ws.Z[l]
        if l == L - 1 and ws.columns is not None:
            left = A if A.shape[1] == W.shape[1] else A[:, : W.shape[1]]  # L = 1: a[0], 1
            calls.append(partial(W.dot, left.T, out=ws.ZT))  # z[L]ᵀ = W[L] a[L-1]ᵀ
            calls.append(partial(np.add, Z, b, out=Z))
            break
        Wb = ws.bias_row(params[l]) if A.shape[1] > W.shape[1] else None
        right = W.T if Wb is None else Wb
        left = A if Wb is not None or A.shape[1] == W.shape[1] else A[:, : W.shape[1]]
        blocks = ws.layer_blocks(l).forward
        if blocks is None:
            calls.append(partial(left.dot, right, out=Z))
        for r in blocks or ():  # _dot_rows
            calls.append(partial(left[r].dot, right, out=Z[r]))
        if Wb is None:
            calls.append(partial(np.add, Z, b, out=Z))
        if l < L - 1:
            calls.append(partial(ws.kernels[l].forward_into, Z, ws.A[l]))
        A = ws.last_a(l + 1)  # what forward_into returned (Z itself for ReLU)
    return calls


def head_call(ws: Any) -> Any:
    """The head's J and dZ[L]: a call returning J (on z[L]ᵀ for the multiclass head)."""
    if ws.columns is not None:
        return partial(ws.columns, ws.ZT, ws.YT, ws.dZT, *ws.TT)
    return partial(ws.head_into, ws.Z[-1], ws.Yb, ws.dZ_L, *ws.T)


def backward_calls(ws: Any, params: Any, grads: Any) -> list[Any]:
    """``Workspace.loss_and_grads``' backward pass with ``blocks`` (``_grads_into``, dA)."""
    calls: list[Any] = []
    dZ = ws.dZT.T if ws.columns is not None else ws.dZ_L
    for l in range(len(params) - 1, -1, -1):
        A, (gW, gb), split = ws.last_a(l), grads[l], ws.layer_blocks(l)
        gWb = ws.bias_row(grads[l]) if A.shape[1] > gW.shape[1] else None
        out = gW.T if gWb is None else gWb
        left = A if gWb is not None or A.shape[1] == gW.shape[1] else A[:, : gW.shape[1]]
        blocks = split.dW
        if blocks is None:
            calls.append(partial(left.T.dot, dZ, out=out))
        else:  # _dot_sum: the blocks' products added
            first, *rest = blocks
            tmp = split.dW_scratch[: out.shape[0]]
            calls.append(partial(left[first].T.dot, dZ[first], out=out))
            for r in rest:
                calls.append(partial(left[r].T.dot, dZ[r], out=tmp))
                calls.append(partial(np.add, out, tmp, out=out))
        if gWb is None:
            calls.append(partial(ws.ones.dot, dZ, out=gb))
        if l > 0:
            dA, W, rows = ws.dZ[l - 1], params[l].W, split.dA
            if W.shape[0] == 1:  # one unit: an outer product
                calls.append(partial(np.multiply, dZ, W, out=dA))
            elif rows is None:
                calls.append(partial(dZ.dot, W, out=dA))
            else:  # _dot_rows
                for r in rows:
                    calls.append(partial(dZ[r].dot, W, out=dA[r]))
            calls.append(partial(ws.kernels[l - 1].backward_into, dA, ws.Z[l - 1], ws.A[l - 1]))
            dZ = dA  # backward_into multiplies dA by g'(z) in place and returns it
    return calls
