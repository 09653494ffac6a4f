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


@pytest.mark.parametrize(("sizes", "hidden", "m"), CASES)
@pytest.mark.parametrize("copy_X", [True, False])  # [X, 1] copied once, or gathered strided
def test_estimator_step_through_gather_gives_the_lectures_cost_and_gradient(
    sizes, hidden, m, copy_X, monkeypatch
):
    """The estimators' step as the trainer runs it: rows gathered into a[0] with a column
    of ones (b[1] in the product, db[1] out of dW[1]'s), z[L]ᵀ one column per sample for
    the multiclass head, dW[l] as sums over row blocks: the lecture's J and gradient."""
    if not copy_X:
        monkeypatch.setattr(_ws, "ONES_COPY_MAX", 0)
    rng = np.random.default_rng(2)
    net = mlplab.Network(sizes, hidden=hidden, output="multiclass", seed=1, dtype="float64")
    n = m + 37
    X = rng.normal(size=(n, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    cache: dict[int, _ws.Workspace] = {}
    for rows in (rng.permutation(n)[:m], rng.permutation(n)[: m - 3]):  # and a smaller view
        ws = _ws.workspace_for(cache, net, rows.shape[0], blocks=True)
        Xb, Yb = ws.gather(X, Y, rows)
        assert Xb.shape == (rows.shape[0], sizes[0] + 1) and (Xb[:, -1] == 1).all()
        assert ws.columns is not None and (ws._X_ones[1] is not None) == copy_X
        g = net._views(np.zeros_like(net._theta))
        J_ws = ws.loss_and_grads(net._params, Xb, Yb, g)
        J, grads = _bp.loss_and_grads(net._params, X[rows], Y[rows], net.hidden, net.head)
        assert J_ws == pytest.approx(J, rel=1e-12)
        assert np.abs(ws.Z[-1] - _bp.forward(net._params, X[rows], net.hidden)[0]).max() < 1e-12
        assert all(v is not None for _, v in ws._bias_rows.values())  # b[1] in the product
        for (dW, db), (gW, gb) in zip(grads, g, strict=True):
            scale = float(np.abs(dW).max())
            np.testing.assert_allclose(gW, dW, rtol=1e-12, atol=1e-12 * scale)
            np.testing.assert_allclose(gb, db, rtol=1e-12, atol=1e-12 * scale)


def test_with_bias_row_only_where_b_follows_w_in_memory():
    net = mlplab.Network([5, 4, 3], output="multiclass", seed=0)
    for p in net._params:  # θ's storage order: W[l]ᵀ row by row, then b[l]
        Wb = _ws.with_bias_row(p.W, p.b)
        assert Wb is not None and np.shares_memory(Wb, net._theta)
        np.testing.assert_array_equal(Wb, np.vstack([p.W.T, p.b]))
    W, b = net._params[0]
    assert _ws.with_bias_row(W, b.copy()) is None
    assert _ws.with_bias_row(np.asfortranarray(W).T.copy().T, b) is None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_l2_as_one_dot_product_equals_the_exact_term_up_to_rounding(dtype):
    from mlplab.fast import kernels

    rng = np.random.default_rng(3)
    net = mlplab.Network([30, 20, 4], output="multiclass", seed=0, dtype=dtype)
    base = rng.normal(size=net._theta.shape).astype(dtype)
    g_dot, g_exact = base.copy(), base.copy()
    J_dot = kernels.l2_dot_into(net._params, net._views(g_dot), 0.3, 50.0, [])
    J_exact = kernels.l2_into(net._params, net._views(g_exact), 0.3, 50.0, [])
    rtol = 1e-12 if dtype == "float64" else 1e-5
    assert J_dot == pytest.approx(J_exact, rel=rtol) and J_dot > 0
    np.testing.assert_allclose(g_dot, g_exact, rtol=rtol)
    assert not np.array_equal(g_dot, base)  # the gradient term was added


def test_l2_dot_views_kept_per_arrays_follow_alternating_and_new_parameters():
    """l2_dot_into keeps its views per (θ, gradient) arrays: a kept list gives, step after
    step, the bits of a fresh one, for θ's two alternating vectors and for new arrays."""
    from mlplab.fast import kernels

    rng = np.random.default_rng(5)
    net = mlplab.Network([6, 5, 3], output="multiclass", seed=0, dtype="float64")
    thetas = [rng.normal(size=net._theta.shape) for _ in range(3)]
    params = [net._views(t) for t in thetas]
    g = rng.normal(size=net._theta.shape)
    kept: list = []
    for step, k in enumerate([0, 1, 0, 1, 2, 0]):  # two alternate, then a third vector
        thetas[k] += 0.1 * step  # θ changes between steps: the views must follow
        g_kept, g_fresh = g.copy(), g.copy()
        J_kept = kernels.l2_dot_into(params[k], net._views(g_kept), 0.3, 7.0, kept)
        J_fresh = kernels.l2_dot_into(params[k], net._views(g_fresh), 0.3, 7.0, [])
        assert J_kept == J_fresh > 0
        np.testing.assert_array_equal(g_kept, g_fresh)
        assert len(kept) <= 2  # the last two sets of views only
    other = rng.normal(size=(3, 5)).T  # a W[l] that is no block of a θ vector (F order)
    mixed = [net._params[0], type(net._params[1])(other.T, net._params[1].b)]
    g1, g2 = g.copy(), g.copy()
    J1 = kernels.l2_dot_into(mixed, net._views(g1), 0.3, 7.0, kept)
    J2 = kernels.l2_into(mixed, net._views(g2), 0.3, 7.0, [])
    assert J1 == pytest.approx(J2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12)
