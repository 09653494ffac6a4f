"""The public names through which train/ binds fast/'s objects (tests/test_private_access.py):
``CheckedStep.proves_in_place``, ``one_pass_ready`` and ``step_in_place``; ``Workspace.
bias_row``, ``layer_blocks``, ``last_a`` and ``copies_of``; ``kernels.is_relu``."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.core import activations as _act
from mlplab.core import optimizers as _opt
from mlplab.fast import kernels as _kernels
from mlplab.fast import workspace as _ws
from mlplab.fast.step import CheckedStep


def _spare(out):
    return lambda: out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov"])
def test_step_in_place_takes_steps_in_place_step_bit_for_bit(name, dtype):
    """After a first step (step_into), a step's own state: step_in_place takes the step
    CheckedStep.step takes, the same bits in θ and the state, and returns g·g."""
    opt = {"sgd": _opt.sgd(0.1), "momentum": _opt.momentum(0.1, 0.9)}.get(name)
    opt = opt or _opt.nesterov(0.1, 0.9)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=50).astype(dtype)
    g = rng.normal(size=50).astype(dtype)
    steps = [CheckedStep(opt), CheckedStep(opt)]
    assert all(cs.proves_in_place for cs in steps)
    thetas, states = [theta.copy(), theta.copy()], []
    for cs, th in zip(steps, thetas, strict=True):
        state0 = opt.init(th)
        assert not cs.one_pass_ready(state0, g)  # a state from elsewhere
        state, new_theta, _ = cs.step(1.0, g, state0, th, _spare(np.empty_like(th)))
        th[...] = new_theta
        assert cs.one_pass_ready(state, g) and not cs.one_pass_ready(state, g.copy())
        states.append(state)
    g2 = rng.normal(size=50).astype(dtype)
    g[...] = g2  # the same gradient buffer, new values
    a_state, a_theta, a_check = steps[0].step(1.0, g, states[0], thetas[0], _spare(None))
    done = steps[1].step_in_place(1.0, g, states[1], thetas[1])
    assert done is not None
    b_state, b_check = done
    assert a_theta is thetas[0] and a_check == b_check == float(g.dot(g))
    assert b_state.count == a_state.count == 2 and steps[1].one_pass_ready(b_state, g)
    np.testing.assert_array_equal(thetas[1], thetas[0])
    for a, b in zip(a_state[1:], b_state[1:], strict=True):
        np.testing.assert_array_equal(b, a)


def test_step_in_place_refuses_an_unproven_step_and_changes_nothing():
    opt = _opt.momentum(0.1, 0.9)
    theta, g = np.ones(8), np.full(8, 0.5)
    cs = CheckedStep(opt)
    state, new_theta, _ = cs.step(1.0, g, opt.init(theta), theta, _spare(np.empty(8)))
    before, saved = new_theta.copy(), [a.copy() for a in state[1:]]
    assert cs.step_in_place(float("nan"), g, state, new_theta) is None  # J not finite
    g[0] = np.inf
    assert cs.step_in_place(1.0, g, state, new_theta) is None  # g·g not finite
    np.testing.assert_array_equal(new_theta, before)
    for a, b in zip(state[1:], saved, strict=True):
        np.testing.assert_array_equal(a, b)


def test_adam_is_not_proven_in_place_and_a_large_theta_not_one_pass():
    theta, g = np.zeros(10), np.ones(10)
    cs = CheckedStep(_opt.adam(0.01))
    assert not cs.proves_in_place
    state, _ = cs.step_into(g, _opt.adam(0.01).init(theta), theta, np.empty(10))
    assert cs.one_pass_ready(state, g)
    small = CheckedStep(_opt.adam(0.01), chunk=4)  # θ in three slices
    state, _ = small.step_into(g, _opt.adam(0.01).init(theta), theta, np.empty(10))
    assert not small.one_pass_ready(state, g)


def test_is_relu_recognises_relus_kernels_by_their_functions():
    assert _kernels.is_relu(_kernels.inplace_kernels(_act.relu))
    assert not _kernels.is_relu(_kernels.inplace_kernels(_act.tanh))
    own = _act.Activation("relu", lambda z: np.maximum(z, 0), lambda z, a: (z > 0) * 1.0)
    assert not _kernels.is_relu(_kernels.inplace_kernels(own))  # a user's "relu"


def test_workspace_hands_out_its_blocks_activations_and_copies():
    rng = np.random.default_rng(1)
    net = mlplab.Network([64, 100, 10], hidden="relu", output="multiclass", seed=0, dtype="float64")
    X = rng.normal(size=(300, 64))
    Y = np.eye(10)[rng.integers(0, 10, 300)]
    ws = _ws.Workspace(net, 200, blocks=True)
    assert ws.copies_of(X, Y) is None  # nothing gathered yet
    assert all(ws.last_a(l) is ws.Xb for l in range(3))
    Xb, Yb = ws.gather(X, Y, np.arange(200))
    X1, YT = ws.copies_of(X, Y)
    np.testing.assert_array_equal(X1[:, :-1], X)
    np.testing.assert_array_equal(YT, Y.T)
    assert ws.copies_of(X.copy(), Y) is None and ws.copies_of(X, Y.copy()) is None
    g = net._views(np.zeros_like(net._theta))
    ws.loss_and_grads(net._params, Xb, Yb, g)
    assert ws.last_a(0) is Xb and ws.last_a(1) is ws.Z[0]  # ReLU works over z
    assert ws.last_a(-1) is ws.Z[-1]
    first = ws.layer_blocks(0)
    assert first.forward == first.dW == _ws.row_blocks(200, 64, 100) is not None
    assert first.dA == _ws.row_blocks(200, 100, 64)
    assert first.dW_scratch is not None and first.dW_scratch.shape == (65, 100)
    assert ws.layer_blocks(1) == (None, None, None, None)  # 200 × 100 × 10: one call
    Wb = ws.bias_row(net._params[0])
    assert Wb is not None and Wb.shape == (65, 100) and ws.bias_row(net._params[0]) is Wb
    np.testing.assert_array_equal(Wb, np.vstack([net._params[0].W.T, net._params[0].b]))
    plain = _ws.Workspace(net, 200)
    assert plain.layer_blocks(0) == (None, None, None, None)
