"""Exact tests of ``core/diagnostics.py`` that mutation testing asked for (issue 21).

The gradient check's pieces one by one: ĝ is the two-sided difference (compared with one
computed here), laid out like θ; the float64 copy keeps every option of the network
(batch norm and its running averages, dropout masks, L2, standardizer); Σ = 0 gives 0.
"""

import numpy as np
import pytest

import mlplab
from mlplab.core import diagnostics as D
from mlplab.core.dropout import dropout_mask

RNG = np.random.default_rng(3)
X = RNG.normal(size=(5, 3))
Y = np.array([0, 1, 1, 0, 1])


def test_numerical_gradient_is_the_two_sided_difference_laid_out_like_theta():
    net = mlplab.Network([3, 2, 1], hidden="tanh", dtype="float64", l2=0.5, seed=1)
    eps = 1e-4  # large, so that a one-sided or wrongly scaled difference shows
    g_hat = D.numerical_gradient(net, X, Y, eps)
    theta = net.get_flat_params()
    want = np.empty_like(theta)
    for i in range(theta.size):
        J = []
        for step in (eps, -eps):
            t = theta.copy()
            t[i] += step
            net.set_flat_params(t)
            J.append(net.loss(X, Y))
        want[i] = (J[0] - J[1]) / (2 * eps)
    net.set_flat_params(theta)
    np.testing.assert_allclose(g_hat, want, rtol=1e-9, atol=1e-12)
    g = D.backprop_gradient(net, X, Y)
    assert g.shape == theta.shape and g.dtype == np.float64
    np.testing.assert_allclose(g, g_hat, rtol=1e-6, atol=1e-9)  # same layout as θ


def test_gradcheck_keeps_the_network_and_runs_in_float64():
    net = mlplab.Network([3, 4, 1], hidden="sigmoid", dtype="float32", seed=0)
    before = net.get_flat_params().copy()
    assert D.gradcheck(net, X, Y) < 1e-7  # float32 differences would be noise
    np.testing.assert_array_equal(net.get_flat_params(), before)
    assert net.dtype == np.float32


def test_gradcheck_is_zero_when_both_gradients_are():
    net = mlplab.Network(
        [3, 2, 1], hidden="tanh", output="regression", init="zeros", dtype="float64"
    )
    assert D.gradcheck(net, X, np.zeros(5)) == 0.0  # 0/0 would warn (an error here)
    assert D.gradcheck(net, X, np.zeros(5), eps=0.5) == 0.0


def test_gradcheck_of_a_network_with_every_option():
    std = mlplab.Standardizer().fit(X * 10 + 3)
    net = mlplab.Network(
        [3, 4, 3, 2], hidden=["tanh", "sigmoid"], output="multiclass", dtype="float64",
        l2=0.3, standardizer=std, keep_prob=[1.0, 0.8], batch_norm=[True, False], seed=2,
    )  # fmt: skip
    n = net.get_flat_params().size
    net.set_flat_params(np.random.default_rng(0).normal(size=n))
    net.set_running_stats(np.array([0.5, -0.5, 0.0, 1.0, 2.0, 0.5, 1.0, 3.0]))  # μ, σ²
    y = np.array([0, 1, 1, 0, 1])
    masks = [None, dropout_mask(np.random.default_rng(1), (5, 3), 0.8, np.float64)]
    for training, m in [(False, None), (True, None), (True, masks)]:
        g = D.backprop_gradient(net, X, y, training=training, masks=m)
        assert g.size == n
        g_hat = D.numerical_gradient(net, X, y, 1e-6, training=training, masks=m)
        np.testing.assert_allclose(g, g_hat, rtol=1e-5, atol=1e-8)
        assert D.gradcheck(net, X, y, training=training, masks=m) < 1e-7
    # the copy is the same network: differences of the original's own cost (inference)
    theta = net.get_flat_params().copy()
    want = np.empty(n)
    for i in range(n):
        J = []
        for step in (1e-6, -1e-6):
            t = theta.copy()
            t[i] += step
            net.set_flat_params(t)
            J.append(net.loss(X, y))
        want[i] = (J[0] - J[1]) / 2e-6
    net.set_flat_params(theta)
    np.testing.assert_allclose(D.backprop_gradient(net, X, y), want, rtol=1e-5, atol=1e-8)
    # the modes differ: running averages, batch statistics, masks
    g_run = D.backprop_gradient(net, X, y)
    g_batch = D.backprop_gradient(net, X, y, training=True)
    g_mask = D.backprop_gradient(net, X, y, training=True, masks=masks)
    assert not np.allclose(g_run, g_batch) and not np.allclose(g_batch, g_mask)


def test_gradient_norms_exact():
    net = mlplab.Network([3, 4, 2, 1], hidden="relu", dtype="float64", seed=4)
    _, grads = net.loss_and_grads(X, Y)
    norms = D.gradient_norms(net, X, Y)
    assert norms == [float(np.linalg.norm(g.W)) for g in grads]
    assert len(norms) == 3 and all(isinstance(v, float) for v in norms)


def test_activation_stats_exact():
    net = D.identity_network(2, 1.5)
    Xs = np.array([[1.0, -2.0], [3.0, 0.0]])
    stats = D.activation_stats(net, Xs)
    assert [sorted(s) for s in stats] == [["mean", "saturated", "std"], ["mean", "std"]]
    A1, A2 = 1.5 * Xs, 2.25 * Xs
    assert stats[0]["mean"] == pytest.approx(A1.mean(), rel=1e-15)
    assert stats[0]["std"] == pytest.approx(A1.std(), rel=1e-15)
    assert stats[1]["mean"] == pytest.approx(A2.mean(), rel=1e-15)
    assert stats[0]["saturated"] == 0.0  # identity: g' = 1
    relu = mlplab.Network([2, 3, 1], hidden="relu", init="identity(1)", dtype="float64")
    Xr = np.array([[1.0, -2.0], [-3.0, 0.5], [0.005, 4.0], [2.0, 2.0]])
    s = D.activation_stats(relu, Xr)[0]
    Z = np.c_[Xr, np.zeros(4)]  # W = the leading identity block, b = 0
    assert s["saturated"] == pytest.approx((Z <= 0).mean())  # ReLU' = 0 there, 1 above
    sig = mlplab.Network([2, 2, 1], hidden="sigmoid", init="identity(1)", dtype="float64")
    Xs = np.array([[0.0, 4.5], [5.0, -10.0]])  # σ' = 0.25, 0.0109, 0.0066, 4.5e-5
    assert D.activation_stats(sig, Xs)[0]["saturated"] == 0.5


def test_identity_network_is_the_lectures_example():
    net = D.identity_network(3, 0.5)
    assert net.layer_sizes == [2, 2, 2, 2] and net.dtype == np.float64
    assert net.head.name == "regression"
    x = np.array([[4.0, -8.0]])
    np.testing.assert_array_equal(net.predict(x), 0.125 * x)
    assert D.identity_network(1, 2.0, dtype="float32").dtype == np.float32


def test_defaults_are_the_documented_ones():
    net = mlplab.Network([3, 4, 1], hidden="tanh", dtype="float64", batch_norm=True, seed=0)
    net.set_running_stats(np.array([0.5, -0.5, 0.0, 1.0, 2.0, 0.5, 1.0, 3.0]))
    g_hat = D.numerical_gradient(net, X, Y)
    np.testing.assert_array_equal(g_hat, D.numerical_gradient(net, X, Y, 1e-7, training=False))
    assert not np.allclose(g_hat, D.numerical_gradient(net, X, Y, training=True))
    assert D.gradcheck(net, X, Y) == D.gradcheck(net, X, Y, 1e-7, training=False)
    # eps reaches the differences: a large one leaves a truncation error O(eps²)
    plain = mlplab.Network([3, 4, 1], hidden="tanh", dtype="float64", seed=0)
    assert D.gradcheck(plain, X, Y, eps=0.3) > 1e-4 > 1e-7 > D.gradcheck(plain, X, Y)


def test_saturated_means_a_derivative_strictly_below_one_hundredth():
    """Leaky ReLU's slope 0.01 side has g' = 0.01: not saturated; slope 0.005 is."""
    for slope, want in [(0.01, 0.0), (0.005, 0.5)]:
        net = mlplab.Network(
            [1, 1, 1], hidden=f"leaky_relu({slope})", init="identity(1)", dtype="float64"
        )
        stats = D.activation_stats(net, np.array([[-1.0], [2.0]]))
        assert stats[0]["saturated"] == want


def test_gradcheck_of_a_network_in_another_array_library():
    xps = pytest.importorskip("array_api_strict")
    pytest.importorskip("array_api_compat")
    net = mlplab.Network([3, 4, 1], hidden="tanh", dtype="float32", seed=0)
    want = D.gradcheck(net, X, Y)
    net.to(xps, device=xps.Device("device1"))
    assert D.gradcheck(net, xps.asarray(X, device=xps.Device("device1")), Y) == pytest.approx(
        want, rel=1e-6
    )
