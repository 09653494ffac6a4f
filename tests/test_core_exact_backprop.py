"""``core/backprop.py`` against a reference written here, independently (issue 21).

The reference is the lecture's forward pass spelled out for one small network (mixed
activations, batch norm on layer 1, dropout on layer 2, L2); J must agree to rounding and
every gradient (dW, db, dγ, dβ, dX) with central differences of the reference J.
"""

import numpy as np
import pytest

from mlplab._typing import DenseParams
from mlplab.core import activations, backprop, heads
from mlplab.core import batchnorm as B

RNG = np.random.default_rng(21)
SIZES = [3, 4, 5, 2]
X = RNG.normal(size=(6, 3))
Y_BIN = (RNG.random((6, 2)) < 0.5).astype(float)
MASK = np.where(RNG.random((6, 5)) < 0.7, 1 / 0.7, 0.0)
THETA = {
    "W1": RNG.normal(size=(4, 3)),
    "b1": RNG.normal(size=4),
    "W2": RNG.normal(size=(5, 4)),
    "b2": RNG.normal(size=5),
    "W3": RNG.normal(size=(2, 5)),
    "b3": RNG.normal(size=2),
    "gamma": RNG.uniform(0.5, 2.0, size=4),
    "beta": RNG.normal(size=4),
    "X": X,
}
RUNNING = B.BNStats(np.array([0.1, -0.2, 0.3, 0.0]), np.array([1.5, 0.5, 2.0, 1.0]))
EPS_BN = 1e-3
LAM = 0.3


def _reference_J(t, training, bn=True, mask=True, lam=LAM):
    Z1 = t["X"] @ t["W1"].T + t["b1"]
    if bn:
        mu, var = (Z1.mean(0), Z1.var(0)) if training else RUNNING
        Z1 = t["gamma"] * (Z1 - mu) / np.sqrt(var + EPS_BN) + t["beta"]
    A1 = np.tanh(Z1)
    Z2 = A1 @ t["W2"].T + t["b2"]
    A2 = np.where(Z2 > 0, Z2, 0.2 * Z2)  # leaky ReLU, slope 0.2
    if mask:
        A2 = A2 * MASK
    Z3 = A2 @ t["W3"].T + t["b3"]
    m = t["X"].shape[0]
    J = np.sum(np.logaddexp(0, Z3) - Y_BIN * Z3) / m
    return J + lam / (2 * m) * sum(np.sum(t[w] ** 2) for w in ("W1", "W2", "W3"))


def _numerical(f, t, h=1e-6):
    out = {}
    for key, value in t.items():
        g = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            old = value[i]
            value[i] = old + h
            plus = f(t)
            value[i] = old - h
            minus = f(t)
            value[i] = old
            g[i] = (plus - minus) / (2 * h)
        out[key] = g
    return out


def _module_call(t, training, bn=True, mask=True, lam=LAM):
    params = [DenseParams(t[f"W{l}"].copy(), t[f"b{l}"].copy()) for l in (1, 2, 3)]
    hidden = [activations.tanh, activations.leaky_relu(0.2)]
    bn_layer = B.BatchNorm(B.BNParams(t["gamma"], t["beta"]), RUNNING, EPS_BN)
    norms = [bn_layer, None] if bn else None
    masks = [None, MASK] if mask else None
    return backprop.loss_and_all_grads(
        params, t["X"], Y_BIN, hidden, heads.binary, lam, norms, masks,
        training=training, need_dX=True,
    )  # fmt: skip


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_dropout_l2_network_equals_the_reference(training):
    t = {k: v.copy() for k, v in THETA.items()}
    J, grads = _module_call(t, training)
    assert J == pytest.approx(_reference_J(t, training), rel=1e-13)
    num = _numerical(lambda t: _reference_J(t, training), t)
    for l, g in enumerate(grads.dense, start=1):
        np.testing.assert_allclose(g.W, num[f"W{l}"], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(g.b, num[f"b{l}"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grads.norms[0].gamma, num["gamma"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grads.norms[0].beta, num["beta"], rtol=1e-6, atol=1e-8)
    assert grads.norms[1] is None
    np.testing.assert_allclose(grads.dX, num["X"], rtol=1e-6, atol=1e-8)


def test_plain_network_equals_the_reference_and_dX_is_optional():
    t = {k: v.copy() for k, v in THETA.items()}
    num = _numerical(lambda t: _reference_J(t, True, bn=False, mask=False), t)
    J, grads = _module_call(t, True, bn=False, mask=False)
    assert J == pytest.approx(_reference_J(t, True, bn=False, mask=False), rel=1e-13)
    np.testing.assert_allclose(grads.dX, num["X"], rtol=1e-6, atol=1e-8)
    params = [DenseParams(t[f"W{l}"], t[f"b{l}"]) for l in (1, 2, 3)]
    hidden = [activations.tanh, activations.leaky_relu(0.2)]
    J2, dense = backprop.loss_and_grads(params, X, Y_BIN, hidden, heads.binary, LAM)
    assert J2 == pytest.approx(J, rel=1e-14)
    for l, g in enumerate(dense, start=1):
        np.testing.assert_allclose(g.W, num[f"W{l}"], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(g.b, num[f"b{l}"], rtol=1e-6, atol=1e-8)
    _, without = backprop.loss_and_all_grads(
        params, X, Y_BIN, hidden, heads.binary, 0.0, None, [None, None]
    )
    assert without.dX is None
    _, with_masks = backprop.loss_and_all_grads(
        params, X, Y_BIN, hidden, heads.binary, 0.0, None, [None, MASK]
    )
    caches = backprop.forward(params, X, hidden, None, [None, MASK], training=True)[1]
    np.testing.assert_allclose(
        backprop.backward(*_dZ(params, caches, hidden), params, caches, hidden)[0].W,
        with_masks.dense[0].W,
        rtol=1e-14,
    )  # backward hands a masked network's caches to backward_all


def _dZ(params, caches, hidden):
    return (heads.binary.loss_and_grad(caches[-1].Z.copy(), Y_BIN)[1],)


def test_l2_penalty_exact():
    params = [
        DenseParams(np.array([[1.0, 2.0]]), np.array([5.0])),
        DenseParams(np.array([[3.0]]), np.zeros(1)),
    ]
    assert backprop.l2_penalty(params, 0.5, 4) == 0.5 / 8 * (1 + 4 + 9)  # biases not penalized
    J, grads = backprop._add_l2(
        1.0, [DenseParams(np.zeros((1, 2)), np.ones(1))] * 1, params[:1], 0.5, 4
    )
    assert J == 1.0 + 0.5 / 8 * 5
    np.testing.assert_array_equal(grads[0].W, [[0.125, 0.25]])
    np.testing.assert_array_equal(grads[0].b, [1.0])


def test_forward_caches_and_the_linear_output_layer():
    params = [
        DenseParams(np.array([[1.0, -1.0]]), np.array([0.5])),
        DenseParams(np.array([[2.0]]), np.array([-1.0])),
    ]
    Xs = np.array([[1.0, 3.0], [2.0, 0.0]])
    for norms, masks in [(None, None), (None, [None])]:
        Z_L, caches = backprop.forward(params, Xs, [activations.relu], norms, masks)
        np.testing.assert_array_equal(caches[0].Z, [[-1.5], [2.5]])
        np.testing.assert_array_equal(caches[0].A, [[0.0], [2.5]])
        np.testing.assert_array_equal(Z_L, [[-1.0], [4.0]])  # no activation on layer L
        np.testing.assert_array_equal(caches[1].A, Z_L)
        np.testing.assert_array_equal(caches[1].A_prev, caches[0].A)


@pytest.mark.parametrize(("bn", "mask"), [(True, False), (False, True)])
def test_batch_norm_alone_and_dropout_alone_equal_the_reference(bn, mask):
    t = {k: v.copy() for k, v in THETA.items()}
    for training in (True, False):
        J, grads = _module_call(t, training, bn=bn, mask=mask)
        assert J == pytest.approx(_reference_J(t, training, bn=bn, mask=mask), rel=1e-13)
        assert len(grads.norms) == 2


def test_defaults_of_the_functions():
    t = {k: v.copy() for k, v in THETA.items()}
    params = [DenseParams(t[f"W{l}"], t[f"b{l}"]) for l in (1, 2, 3)]
    hidden = [activations.tanh, activations.leaky_relu(0.2)]
    J0 = _reference_J(t, True, bn=False, mask=False, lam=0.0)
    assert backprop.loss_and_grads(params, X, Y_BIN, hidden, heads.binary)[0] == pytest.approx(J0)
    bn_layer = B.BatchNorm(B.BNParams(t["gamma"], t["beta"]), RUNNING, EPS_BN)
    J, grads = backprop.loss_and_all_grads(
        params, X, Y_BIN, hidden, heads.binary, norms=[bn_layer, None]
    )
    assert J == pytest.approx(_reference_J(t, True, mask=False, lam=0.0), rel=1e-13)  # training
    assert grads.dX is None
    Z_L, caches = backprop.forward(params, X, hidden, [bn_layer, None])  # inference by default
    Z_inf, _ = backprop.forward(params, X, hidden, [bn_layer, None], training=False)
    np.testing.assert_array_equal(Z_L, Z_inf)
    dZ = heads.binary.loss_and_grad(Z_L.copy(), Y_BIN)[1]
    assert backprop.backward_all(dZ, params, caches, hidden).dX is None


def test_init_params_casts_every_draw_to_the_dtype():
    def wide(rng, shape, dtype):
        return np.ones(shape)  # float64 whatever is asked

    params = backprop.init_params([2, 3], [wide], np.random.default_rng(0), np.float32)
    assert params[0].W.dtype == np.float32 and params[0].b.dtype == np.float32
    from mlplab.core import initializers

    params = backprop.init_params([4, 3], [initializers.he], np.random.default_rng(1), np.float64)
    np.testing.assert_array_equal(
        params[0].W, initializers.he(np.random.default_rng(1), (3, 4), np.float64)
    )


def test_init_params_hands_each_initializer_the_dtype():
    seen = []

    def record(rng, shape, dtype):
        seen.append(dtype)
        return np.zeros(shape, dtype=dtype)

    backprop.init_params([2, 3, 1], [record, record], np.random.default_rng(0), np.float32)
    assert seen == [np.float32, np.float32]
