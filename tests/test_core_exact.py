"""Exact values, boundaries and per-layer checks of the lecture core (issue 21).

Each test kills mutants of ``src/mlplab/core/`` that the other tests let survive (the
mutant it was written for is named in its docstring): a wrong layer's g', a shifted
initializer, a swapped distribution, an off-by-one range check, a softmax shifted the
wrong way, a clip at 1 + ε. See docs/mutation.md.
"""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.core import activations, backprop, heads, initializers
from mlplab.core.layers import DenseParams, dense_backward, dense_forward


# ------------------------------------------------------------------ activations
def test_leaky_relu_slope_range_edges():
    """Mutants: ``0.0 <= slope`` → ``0.0 < slope``, ``slope < 1.0`` → ``slope <= 1.0``."""
    assert activations.leaky_relu(0.0).forward(np.array([-2.0])).tolist() == [0.0]
    assert activations.leaky_relu(0.999).forward(np.array([-2.0])).tolist() == [-1.998]
    for bad in (1.0, -1e-12, 1.5):
        with pytest.raises(ValueError, match=r"slope must lie in \[0, 1\)"):
            activations.leaky_relu(bad)


def test_leaky_relu_and_relu_at_zero_and_around():
    """Mutants: g'(0) = 1 (``Z >= 0``), ``Z * slope`` → ``Z / slope``, g'(z<0) = 1."""
    z = np.array([-3.0, -0.0, 0.0, 2.0])
    g = activations.leaky_relu(0.25)
    assert g.forward(z).tolist() == [-0.75, 0.0, 0.0, 2.0]
    assert g.derivative(z, g.forward(z)).tolist() == [0.25, 0.25, 0.25, 1.0]
    r = activations.relu
    assert r.derivative(z, r.forward(z)).tolist() == [0.0, 0.0, 0.0, 1.0]
    assert r.forward(z).tolist() == [0.0, 0.0, 0.0, 2.0]
    assert activations.get("leaky_relu(0.5)").derivative(z, z).tolist() == [0.5, 0.5, 0.5, 1.0]
    assert activations.get("leaky_relu").name == "leaky_relu"
    assert activations.leaky_relu(0.01).name == "leaky_relu"  # built at call time, not import
    assert activations.leaky_relu().forward(np.array([-1.0])).tolist() == [-0.01]  # the default
    assert activations.leaky_relu(0.5).name == "leaky_relu(0.5)"
    assert activations.leaky_relu(0.25).forward.__doc__ == "leaky_relu(z) = z if z > 0 else 0.25·z."
    assert (
        activations.leaky_relu(0.25).derivative.__doc__ == "leaky_relu'(z) = 1 if z > 0 else 0.25."
    )


def test_leaky_relu_between_zero_and_one_and_in_the_input_dtype():
    """Mutants: ``Z > 1`` for ``Z > 0``; 1 and slope as float64 (``typed=False``)."""
    g = activations.leaky_relu(0.25)
    z = np.array([-0.5, 0.5, 1.0], dtype=np.float32)
    a, d = g.forward(z), g.derivative(z, g.forward(z))
    assert a.tolist() == [-0.125, 0.5, 1.0] and d.tolist() == [0.25, 1.0, 1.0]
    assert a.dtype == np.float32 and d.dtype == np.float32


def test_derivatives_exact_and_in_the_input_dtype():
    """Mutants: σ' = a(1 + a), tanh' = 1 + a², identity' = zeros, dtype float64."""
    z = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    for name, expected in [
        ("sigmoid", lambda a: a * (1 - a)),
        ("tanh", lambda a: 1 - a * a),
        ("identity", lambda a: np.ones_like(a)),
    ]:
        g = activations.get(name)
        a = g.forward(z)
        d = g.derivative(z, a)
        assert d.dtype == np.float32 and a.dtype == np.float32, name
        np.testing.assert_array_equal(d, expected(a).astype(np.float32))
    assert activations.sigmoid.derivative(z, np.float32(0.5)) == np.float32(0.25)


def test_sigmoid_tails_are_exact_and_quiet():
    """Mutants of the stable sigmoid: no overflow warning, σ(−1000) = 0, σ(1000) = 1."""
    z = np.array([-1000.0, -700.0, 0.0, 40.0, 1000.0])
    a = activations.sigmoid.forward(z)
    assert a[0] == 0.0 and a[2] == 0.5 and a[-1] == 1.0
    np.testing.assert_allclose(a[1], np.exp(-700.0), rtol=1e-12)  # accurate in the tail
    assert a[3] == 1.0 - np.exp(-40.0) or a[3] == 1.0


def test_get_refuses_what_it_cannot_name():
    for bad in ("leaky_relu(2)", "leaky_relx(0.5)", "leaky_relu(0.5", "relu)"):
        with pytest.raises(ValueError, match="unknown activation"):
            activations.get(bad)
    with pytest.raises(TypeError, match="int"):
        activations.get(3)
    assert activations.get(" ReLU ") is activations.relu


# ------------------------------------------------------------------------ heads
def test_public_softmax_is_max_shifted_for_huge_logits():
    """Mutant: ``Z + max`` instead of ``Z − max`` (NaN at z = 1000)."""
    P = heads.softmax(np.array([[1000.0, 0.0], [0.0, 0.0], [-1000.0, -1000.0 + np.log(3.0)]]))
    np.testing.assert_allclose(P, [[1.0, 0.0], [0.5, 0.5], [0.25, 0.75]], rtol=1e-12)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_binary_cross_entropy_clips_inside_the_unit_interval():
    """Mutants: clip at 1 + ε (NaN at a = 1), clip at 0 (inf at a = 0), wrong 1/n."""
    eps = np.finfo(np.float64).eps
    A, Y = np.array([1.0, 0.0, 0.5, 0.5]), np.array([1.0, 0.0, 1.0, 0.0])
    J = heads.binary_cross_entropy(A, Y)
    assert np.isfinite(J)
    np.testing.assert_allclose(J, (-2 * np.log1p(-eps) + 2 * np.log(2.0)) / 4, rtol=1e-12)
    worst = heads.binary_cross_entropy(np.array([1.0]), np.array([0.0]))
    np.testing.assert_allclose(worst, -np.log(eps), rtol=1e-12)
    J32 = heads.binary_cross_entropy(np.array([0.0], dtype=np.float32), np.array([1.0]))
    np.testing.assert_allclose(J32, -np.log(np.finfo(np.float32).eps), rtol=1e-6)


@pytest.mark.parametrize(
    ("head", "Z", "Y", "J"),
    [
        ("binary", [[0.0], [0.0]], [[1.0], [0.0]], np.log(2.0)),
        ("binary", [[800.0], [-800.0]], [[0.0], [1.0]], 800.0),
        ("multiclass", [[0.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], np.log(3.0)),
        ("multiclass", [[1000.0, 0.0]], [[0.0, 1.0]], 1000.0),
        ("regression", [[1.0, 2.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 2.0]], (1 + 4 + 4) / 4),
    ],
)
def test_head_costs_and_gradients_exact(head, Z, Y, J):
    """Mutants: the 1/n and 1/2 factors, the sign of a − y, log(1 + e^z) − yz."""
    Z, Y = np.array(Z), np.array(Y)
    h = heads.get(head)
    cost, dZ = h.loss_and_grad(Z, Y)
    np.testing.assert_allclose(cost, J, rtol=1e-12)
    np.testing.assert_allclose(h.loss(Z, Y), J, rtol=1e-12)
    np.testing.assert_allclose(dZ, (h.link(Z) - Y) / Z.shape[0], rtol=1e-12, atol=1e-300)


# ----------------------------------------------------------------- initializers
def test_uniform_and_normal_variance_scaling_are_not_swapped():
    """Mutant: the normal and uniform branches swapped (mean and variance agree)."""
    rng = np.random.default_rng(0)
    n_in = 200
    for uniform, normal, var in [
        (initializers.xavier_uniform, initializers.xavier, 1 / n_in),
        (initializers.he_uniform, initializers.he, 2 / n_in),
        (initializers.glorot_uniform, initializers.glorot, 2 / (n_in + 300)),
    ]:
        U = uniform(rng, (300, n_in), np.float64)
        N = normal(rng, (300, n_in), np.float64)
        limit = np.sqrt(3 * var)
        assert np.abs(U).max() <= limit and np.abs(U).max() > 0.99 * limit
        assert np.abs(N).max() > 1.2 * limit  # a normal's tails pass √3 σ
        np.testing.assert_allclose(U.var(), var, rtol=0.05)
        np.testing.assert_allclose(N.var(), var, rtol=0.05)


def test_initializer_scale_edges():
    """Mutants: ``scale < 0`` → ``scale < 1`` / ``<= 0``; the same for uniform's limit."""
    rng = np.random.default_rng(0)
    assert np.abs(initializers.normal(0.5)(rng, (50, 50))).max() < 3.0
    assert not initializers.normal(0.0)(rng, (3, 3)).any()
    assert not initializers.uniform(0.0)(rng, (3, 3)).any()
    assert np.abs(initializers.uniform(0.5)(rng, (50, 50))).max() <= 0.5
    for bad in (-1e-12, np.inf, np.nan):
        with pytest.raises(ValueError, match="scale >= 0"):
            initializers.normal(bad)
        with pytest.raises(ValueError, match="limit >= 0"):
            initializers.uniform(bad)
    assert initializers.normal(10.0).__name__ == "normal(10.0)"
    assert initializers.get("normal").__name__ == "normal"


def test_init_params_gives_each_layer_its_own_initializer_and_shape():
    """Mutant: layer l drawn with ``inits[l]`` (the next layer's initializer)."""
    params = backprop.init_params(
        [2, 3, 4],
        [initializers.constant(1.0), initializers.constant(2.0)],
        np.random.default_rng(0),
        np.float64,
    )
    assert [p.W.shape for p in params] == [(3, 2), (4, 3)]
    assert [p.b.shape for p in params] == [(3,), (4,)]
    assert params[0].W.tolist() == [[1.0] * 2] * 3
    assert params[1].W.tolist() == [[2.0] * 3] * 4
    assert all(p.W.dtype == np.float64 and not p.b.any() for p in params)
    assert params[0].W.flags.f_contiguous


def test_he_variance_follows_each_layers_fan_in():
    """Per-layer variance: Var(W[l]) = 2 / n[l-1] for every layer (not one layer's fan)."""
    net = mlplab.Network([400, 100, 50], hidden="relu", init="he", dtype="float64", seed=0)
    np.testing.assert_allclose(net.weights[0].var(), 2 / 400, rtol=0.05)
    np.testing.assert_allclose(net.weights[1].var(), 2 / 100, rtol=0.05)


# ---------------------------------------------------------------------- backprop
def test_backward_uses_each_layers_own_activation_derivative():
    """Mutant: g' of the wrong layer (``hidden[l - 2]``), invisible with one activation."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(7, 3)), np.array([0, 1, 1, 0, 1, 0, 1])
    for hidden in (["tanh", "sigmoid", "identity"], ["sigmoid", "tanh", "leaky_relu"]):
        net = mlplab.Network([3, 4, 5, 3, 1], hidden=hidden, dtype="float64", seed=2)
        assert mlplab.gradcheck(net, X, y) < 1e-7, hidden


def test_dense_backward_exact_and_without_dA_prev():
    """``dense_backward``: the sums over the batch axis (rows), and no dA for layer 1."""
    p = DenseParams(np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([0.5, 0.0]))
    A_prev = np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
    Z, cache = dense_forward(p, A_prev, activations.identity)
    np.testing.assert_array_equal(Z, A_prev @ p.W.T + p.b)
    dZ = np.array([[1.0, 0.0], [0.5, 2.0], [0.0, 1.0]])
    dA, (dW, db) = dense_backward(dZ, p, cache)
    np.testing.assert_array_equal(dW, dZ.T @ A_prev)
    np.testing.assert_array_equal(db, [1.5, 3.0])
    np.testing.assert_array_equal(dA, dZ @ p.W)
    none, (dW1, db1) = dense_backward(dZ, p, cache, need_dA_prev=False)
    assert none is None
    np.testing.assert_array_equal(dW1, dW)
    np.testing.assert_array_equal(db1, db)


def test_gradcheck_reports_a_wrong_gradient_and_refuses_a_bad_eps(monkeypatch):
    """The gradient check's logic: a wrong backprop is seen; eps must be in (0, 1)."""
    from mlplab.core import diagnostics

    rng = np.random.default_rng(0)
    net = mlplab.Network([3, 4, 1], hidden="tanh", dtype="float64", seed=0)
    X, y = rng.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    good = diagnostics.gradcheck(net, X, y)
    assert 0 < good < 1e-7
    real = diagnostics.backprop_gradient
    monkeypatch.setattr(
        diagnostics, "backprop_gradient", lambda *a, **k: real(*a, **k) * 1.01
    )  # a gradient 1 % too large
    np.testing.assert_allclose(diagnostics.gradcheck(net, X, y), 0.01 / 2.01, rtol=1e-4)
    for bad in (0.0, 1.0, -1e-7, 1e-7j, 1):
        with pytest.raises(ValueError, match=r"eps must be a float in \(0, 1\)"):
            diagnostics.gradcheck(net, X, y, eps=bad)
