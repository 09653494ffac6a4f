"""One hand-computed step per optimizer, purity, and the momentum convention equivalence."""

import numpy as np
import pytest

from mlplab._typing import DenseParams
from mlplab.core import optimizers as O


def _params():
    return [DenseParams(np.array([[1.0, -2.0]]), np.array([0.5]))]


def _grads():
    return [DenseParams(np.array([[0.2, -0.4]]), np.array([1.0]))]


def _step(opt, params, grads, n=1):
    state = opt.init(params)
    for _ in range(n):
        updates, state = opt.update(grads, state, params)
        params = O.apply_updates(params, updates)
    return params, state


def test_sgd_single_step():
    (p,), _ = _step(O.sgd(0.1), _params(), _grads())
    np.testing.assert_allclose(p.W, [[1.0 - 0.02, -2.0 + 0.04]])
    np.testing.assert_allclose(p.b, [0.5 - 0.1])


def test_momentum_two_steps_by_hand():
    lr, beta = 0.1, 0.9
    (p,), state = _step(O.momentum(lr, beta), _params(), _grads(), n=2)
    g = np.array([0.2, -0.4])
    v1 = (1 - beta) * g  # v = βv + (1−β)dW with v0 = 0
    v2 = beta * v1 + (1 - beta) * g
    np.testing.assert_allclose(p.W[0], np.array([1.0, -2.0]) - lr * v1 - lr * v2)
    np.testing.assert_allclose(state.v[0].W[0], v2)
    assert state.count == 2


def test_nesterov_single_step():
    lr, beta = 0.1, 0.9
    (p,), _ = _step(O.nesterov(lr, beta), _params(), _grads())
    g = np.array([0.2, -0.4])
    v = (1 - beta) * g
    np.testing.assert_allclose(p.W[0], np.array([1.0, -2.0]) - lr * (beta * v + (1 - beta) * g))


def test_rmsprop_single_step():
    lr, rho, eps = 0.01, 0.9, 1e-8
    (p,), _ = _step(O.rmsprop(lr, rho, eps), _params(), _grads())
    g = np.array([0.2, -0.4])
    s = (1 - rho) * g**2
    np.testing.assert_allclose(p.W[0], np.array([1.0, -2.0]) - lr * g / (np.sqrt(s) + eps))


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    (p,), state = _step(O.adam(lr, b1, b2, eps), _params(), _grads(), n=2)
    g = np.array([0.2, -0.4])
    W = np.array([1.0, -2.0])
    v = s = np.zeros(2)
    for t in (1, 2):
        v = b1 * v + (1 - b1) * g
        s = b2 * s + (1 - b2) * g**2
        v_hat, s_hat = v / (1 - b1**t), s / (1 - b2**t)
        W = W - lr * v_hat / (np.sqrt(s_hat) + eps)  # ε added after the bias correction
    np.testing.assert_allclose(p.W[0], W, rtol=1e-12)
    assert state.count == 2
    # first Adam step moves every weight by ≈ lr, whatever the gradient's scale
    (p1,), _ = _step(
        O.adam(lr), _params(), [DenseParams(np.array([[1e-4, 50.0]]), np.array([0.0]))]
    )
    np.testing.assert_allclose(np.abs(p1.W[0] - [1.0, -2.0]), [lr, lr], rtol=1e-3)


@pytest.mark.parametrize("make", [O.sgd, O.momentum, O.nesterov, O.rmsprop, O.adam])
def test_update_is_pure(make):
    opt = make(lr=0.1)
    params, grads = _params(), _grads()
    before = [p.W.copy() for p in params], [g.W.copy() for g in grads]
    state = opt.init(params)
    updates, new_state = opt.update(grads, state, params)
    O.apply_updates(params, updates)
    np.testing.assert_array_equal(params[0].W, before[0][0])
    np.testing.assert_array_equal(grads[0].W, before[1][0])
    assert new_state is not state


@pytest.mark.parametrize("make", [O.sgd, O.momentum, O.nesterov, O.rmsprop, O.adam])
def test_float32_stays_float32(make):
    theta = np.ones(5, dtype=np.float32)
    g = np.full(5, 0.3, dtype=np.float32)
    opt = make(lr=0.1)
    updates, state = opt.update(g, opt.init(theta), theta)
    assert updates.dtype == np.float32
    assert all(leaf.dtype == np.float32 for leaf in state[1:])


def test_lecture_momentum_equals_pytorch_and_sklearn_forms():
    """Same trajectory when α_lecture = α/(1−β) (PyTorch: u = βu + g, W −= αu;
    scikit-learn/Keras: u = βu − αg, W += u)."""
    rng = np.random.default_rng(0)
    alpha, beta = 0.01, 0.9
    A = rng.normal(size=(6, 3))
    target = rng.normal(size=6)

    def grad(w):  # gradient of a least-squares cost
        return A.T @ (A @ w - target) / 6

    w_lecture = w_torch = w_sk = np.zeros(3)
    opt = O.momentum(lr=alpha / (1 - beta), beta=beta)
    state = opt.init(w_lecture)
    u_torch = np.zeros(3)
    u_sk = np.zeros(3)
    for _ in range(50):
        updates, state = opt.update(grad(w_lecture), state, w_lecture)
        w_lecture = O.apply_updates(w_lecture, updates)
        u_torch = beta * u_torch + grad(w_torch)
        w_torch = w_torch - alpha * u_torch
        u_sk = beta * u_sk - alpha * grad(w_sk)
        w_sk = w_sk + u_sk
    np.testing.assert_allclose(w_lecture, w_torch, rtol=1e-10)
    np.testing.assert_allclose(w_lecture, w_sk, rtol=1e-10)
    # with the *same* α the lecture's first step is (1 − β) times PyTorch's
    upd, _ = O.momentum(alpha, beta).update(
        grad(np.zeros(3)), O.momentum(alpha, beta).init(np.zeros(3))
    )
    np.testing.assert_allclose(upd, -(1 - beta) * alpha * grad(np.zeros(3)))


def test_momentum_beta_zero_is_sgd():
    p1, _ = _step(O.momentum(0.1, 0.0), _params(), _grads(), n=3)
    p2, _ = _step(O.sgd(0.1), _params(), _grads(), n=3)
    np.testing.assert_allclose(p1[0].W, p2[0].W)


@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), float("inf")])
def test_learning_rate_must_be_positive(bad):
    with pytest.raises(ValueError, match="lr must be > 0"):
        O.sgd(bad)


@pytest.mark.parametrize("beta", [-0.1, 1.0, 1.5])
def test_beta_must_lie_in_unit_interval(beta):
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 1\)"):
        O.momentum(0.1, beta)


def test_lr_type_and_registry():
    with pytest.raises(TypeError, match="lr must be a number"):
        O.sgd("fast")
    assert O.get("adam", lr=0.1).hyperparams["lr"] == 0.1
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        O.get("lbfgs")
