"""Backprop against two-sided differences, over random architectures × activations × heads."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mlplab
from mlplab.core import backprop as _bp

ACTS = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
HEADS = ["binary", "multiclass", "regression"]


def _data(head, n_out, n_samples, n0, rng):
    X = rng.normal(size=(n_samples, n0))
    if head == "binary":
        y = rng.integers(0, 2, size=(n_samples, n_out))
    elif head == "multiclass":
        y = rng.integers(0, n_out, size=n_samples)
    else:
        y = rng.normal(size=(n_samples, n_out))
    return X, y


@settings(max_examples=80)
@given(
    hidden_sizes=st.lists(st.integers(1, 6), min_size=0, max_size=3),
    n0=st.integers(1, 5),
    n_out=st.integers(1, 3),
    act=st.sampled_from(ACTS),
    head=st.sampled_from(HEADS),
    n_samples=st.integers(1, 8),
    l2=st.sampled_from([0.0, 0.3]),
    seed=st.integers(0, 2**16),
)
def test_backprop_matches_numerical_gradient(
    hidden_sizes, n0, n_out, act, head, n_samples, l2, seed
):
    if head == "multiclass":
        n_out = max(n_out, 2)
    rng = np.random.default_rng(seed)
    net = mlplab.Network(
        [n0, *hidden_sizes, n_out],
        hidden=act,
        output=head,
        init="xavier",
        seed=seed,
        dtype="float64",
        l2=l2,
    )
    # biases start at 0; make them non-zero so their gradients are exercised too
    net.biases = [rng.normal(size=b.shape) * 0.5 for b in net.biases]
    X, y = _data(head, n_out, n_samples, n0, rng)
    if act in ("relu", "leaky_relu"):  # skip points near the kink, where g' jumps
        caches = net.forward_cache(X)
        assume(all(np.all(np.abs(c.Z) > 1e-4) for c in caches[:-1]))
    assert mlplab.gradcheck(net, X, y) < 1e-7


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("head", HEADS)
def test_gradcheck_every_activation_and_head(act, head, rng):
    net = mlplab.Network([3, 5, 4, 3], hidden=act, output=head, seed=1, dtype="float64", l2=0.1)
    net.biases = [rng.normal(size=b.shape) * 0.1 for b in net.biases]
    X, y = _data(head, 3, 7, 3, rng)
    assert mlplab.gradcheck(net, X, y) < 1e-7


def test_gradcheck_detects_a_wrong_gradient(rng):
    net = mlplab.Network([3, 4, 1], hidden="tanh", seed=0, dtype="float64")
    X, y = _data("binary", 1, 6, 3, rng)
    good = mlplab.gradcheck(net, X, y)
    original = _bp.backward

    def broken(dZ_L, params, caches, hidden):
        grads = original(dZ_L, params, caches, hidden)
        grads[0] = grads[0]._replace(b=grads[0].b * 1.1)  # a 10 % error in db[1] only
        return grads

    _bp.backward = broken
    try:
        bad = mlplab.gradcheck(net, X, y)
    finally:
        _bp.backward = original
    assert good < 1e-7 < bad


def test_lecture_formula_for_last_layer(rng):
    # dJ/dW[3] = -(1/n) Σ (y(i) − a[3](i)) a[2](i)ᵀ  (the notes' result)
    net = mlplab.Network([4, 3, 2, 1], hidden="sigmoid", seed=3, dtype="float64")
    X = rng.normal(size=(10, 4))
    y = rng.integers(0, 2, size=10)
    _, grads = net.loss_and_grads(X, y)
    caches = net.forward_cache(X)
    a2 = caches[1].A
    a3 = net.forward(X)
    expected = -((y[:, None] - a3) * a2).sum(axis=0, keepdims=True) / 10
    np.testing.assert_allclose(grads[2].W, expected, rtol=1e-12)
    # and dJ/dW[2] = (1/n) Σ W[3]ᵀ * a[2](1 − a[2]) (a[3] − y) a[1]ᵀ
    a1 = caches[0].A
    delta2 = (a3 - y[:, None]) @ net.weights[2] * a2 * (1 - a2)
    np.testing.assert_allclose(grads[1].W, delta2.T @ a1 / 10, rtol=1e-12)
    np.testing.assert_allclose(grads[1].b, delta2.sum(axis=0) / 10, rtol=1e-12)
