"""Products a little over OpenBLAS's small-matrix size, computed in two row blocks
(mlplab.fast.workspace.row_blocks, Workspace(blocks=True)): the same J and gradient as
the lecture's backprop up to rounding, and only where the estimators turn it on."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.core import backprop as _bp
from mlplab.fast import workspace as _ws


@pytest.mark.parametrize(
    ("m", "k", "n", "expected"),
    [
        (200, 64, 100, ((0, 100), (100, 200))),  # digits, forward: 1.28 million
        (197, 64, 100, ((0, 99), (99, 197))),  # its last batch: the odd row goes first
        (64, 200, 100, ((0, 32), (32, 64))),  # 64 rows of 200 × 100 products
        (100, 100, 100, None),  # exactly the small size: one call already
        (200, 100, 10, None),  # far below it
        (2000, 64, 100, None),  # far above it: the blocked kernels pay for their packing
        (201, 100, 100, None),  # a half of 101 rows would be over the small size
        (1, 2000, 1000, None),  # one row cannot be split
    ],
)
def test_row_blocks_split_only_products_whose_halves_are_small(m, k, n, expected):
    blocks = _ws.row_blocks(m, k, n)
    if expected is None:
        assert blocks is None
        return
    assert [(s.start, s.stop) for s in blocks] == list(expected)
    for s in blocks:
        assert (s.stop - s.start) * k * n <= _ws.SMALL_GEMM < m * k * n


CASES = [  # sizes, hidden, batch: every kind of product blocked somewhere
    ([64, 100, 10], "relu", 200),  # digits: z[1] and dW[1]
    ([30, 100, 100, 3], "tanh", 150),  # z[2], dW[2] and dA[1] = dZ[2] W[2]
]


@pytest.mark.parametrize(("sizes", "hidden", "m"), CASES)
@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-12), ("float32", 2e-5)])
def test_blocked_workspace_gives_the_lectures_cost_and_gradient(sizes, hidden, m, dtype, rtol):
    rng = np.random.default_rng(0)
    net = mlplab.Network(sizes, hidden=hidden, output="multiclass", seed=0, dtype=dtype)
    X = rng.normal(size=(m, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], m)]
    ws = _ws.Workspace(net, m, blocks=True)
    blocked = [b is not None for b in (*ws._fwd, *ws._dW, *ws._dA)]
    assert sum(blocked) >= 2  # the case really runs blocked products
    plain = _ws.Workspace(net, m)
    assert not any(b is not None for b in (*plain._fwd, *plain._dW, *plain._dA))
    g_blocked = net._views(np.zeros_like(net._theta))
    g_plain = net._views(np.zeros_like(net._theta))
    J_blocked = ws.loss_and_grads(net._params, X, Y, g_blocked)
    J_plain = plain.loss_and_grads(net._params, X, Y, g_plain)
    J, grads = _bp.loss_and_grads(net._params, X, Y, net.hidden, net.head)
    assert J_blocked == pytest.approx(J, rel=rtol) and J_plain == pytest.approx(J, rel=rtol)
    for (dW, db), (bW, bb), (pW, pb) in zip(grads, g_blocked, g_plain, strict=True):
        scale = float(np.abs(dW).max())
        np.testing.assert_allclose(bW, dW, rtol=rtol, atol=rtol * scale)
        np.testing.assert_allclose(bb, db, rtol=rtol, atol=rtol * scale)
        np.testing.assert_allclose(bW, pW, rtol=rtol, atol=rtol * scale)
        np.testing.assert_allclose(bb, pb, rtol=rtol, atol=rtol * scale)


def test_workspace_cache_rebuilds_when_blocks_change():
    net = mlplab.Network([64, 100, 10], output="multiclass", seed=0)
    cache: dict[int, _ws.Workspace] = {}
    plain = _ws.workspace_for(cache, net, 200)
    assert _ws.workspace_for(cache, net, 200) is plain and not plain.blocks
    blocked = _ws.workspace_for(cache, net, 200, blocks=True)
    assert blocked is not plain and blocked.blocks and blocked._fwd[0] is not None


def test_a_first_rows_view_plans_the_blocks_of_its_own_rows():
    # An MPI rank holds fewer rows of some batches: workspace_for then hands out a view
    # of the first rows of the largest buffers, whose products must be split for m rows.
    net = mlplab.Network([64, 100, 10], output="multiclass", seed=0, dtype="float64")
    cache: dict[int, _ws.Workspace] = {}
    big = _ws.workspace_for(cache, net, 400, blocks=True)
    assert big._fwd[0] is None  # 400 rows: 2.56 million, halves over the small size
    view = _ws.workspace_for(cache, net, 200, blocks=True)
    assert view.Xb.base is big.Xb  # a view: no new buffers
    assert view._fwd[0] == _ws.row_blocks(200, 64, 100) is not None
    assert view._dW[0] == _ws.row_blocks(200, 64, 100) is not None  # dW[1]ᵀ: sum of two
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 64))
    Y = np.eye(10)[rng.integers(0, 10, 200)]
    g = net._views(np.zeros_like(net._theta))
    J_view = view.loss_and_grads(net._params, X, Y, g)
    J, grads = _bp.loss_and_grads(net._params, X, Y, net.hidden, net.head)
    assert J_view == pytest.approx(J, rel=1e-12)
    for (dW, db), (vW, vb) in zip(grads, g, strict=True):
        np.testing.assert_allclose(vW, dW, rtol=1e-12, atol=1e-12 * float(np.abs(dW).max()))
        np.testing.assert_allclose(vb, db, rtol=1e-12, atol=1e-12 * float(np.abs(dW).max()))
