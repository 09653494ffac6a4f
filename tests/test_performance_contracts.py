"""Contracts of the training fast path: same results as the lecture code, float32 end to
end, bounded memory, a light ``import mlplab``.

The fast path (``fast.workspace.Workspace``, ``fast.step.CheckedStep``, the in-place
kernels of ``fast.kernels``) must compute what the lecture-shaped functions compute; these tests pin
that down, then check what the speed must not cost.
"""

from __future__ import annotations

import functools
import inspect
import os
import subprocess
import sys
import tracemalloc
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mlplab
from mlplab.core import activations as _act
from mlplab.core import backprop as _bp
from mlplab.core import layers as _layers
from mlplab.core import network as _net
from mlplab.core import optimizers as _opt
from mlplab.core import sklearn_updates as _sk
from mlplab.fast import _blas
from mlplab.fast import kernels as _kernels
from mlplab.fast import step as _step
from mlplab.fast import workspace as _ws
from mlplab.train.step import add_l2

OPTIMIZERS = {
    "sgd": lambda: _opt.sgd(0.05),
    "momentum": lambda: _opt.momentum(0.1, 0.9),
    "nesterov": lambda: _opt.nesterov(0.1, 0.8),
    "rmsprop": lambda: _opt.rmsprop(0.01, 0.9),
    "adam": lambda: _opt.adam(0.01),
    "sklearn_sgd": lambda: _sk.sklearn_sgd(0.1, 0.9, True),
    "sklearn_sgd_plain": lambda: _sk.sklearn_sgd(0.1, 0.8, False),
    "sklearn_adam": lambda: _sk.sklearn_adam(0.01),
}
HIDDEN = ["relu", "sigmoid", "tanh", "leaky_relu", "identity"]


def _data(rng, n, n0, output, n_out):
    X = rng.standard_normal((n, n0))
    if output == "binary":
        y = (rng.random((n, n_out)) > 0.5).astype(int)
        y = y[:, 0] if n_out == 1 else y
    elif output == "multiclass":
        y = rng.integers(0, n_out, n)
    else:
        y = rng.standard_normal((n, n_out))
    return X, y


def _lecture_fit(net, X, y, opt, epochs, batch_size, seed):
    """The training loop written with the pure functions only (the reference)."""
    Xc = net._prepare_X(X)
    Y = net._prepare_y(y, Xc.shape[0])
    params = net.params
    state = opt.init(params)
    rng = np.random.default_rng(seed)
    n = Xc.shape[0]
    losses = []
    for _ in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            J, grads = _net.loss_and_grads(params, Xc[idx], Y[idx], net.hidden, net.head, net.l2)
            updates, state = opt.update(grads, state, params)
            params = _opt.apply_updates(params, updates)
            total += J * len(idx)
        losses.append(total / n)
    return params, losses


# ----------------------------------------------------------- fast path == lecture path
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(
    ("output", "n_out", "l2"),
    [("binary", 1, 0.0), ("binary", 2, 0.1), ("multiclass", 3, 0.0), ("regression", 2, 0.05)],
)
def test_workspace_matches_loss_and_grads(rng, hidden, output, n_out, l2):
    net = mlplab.Network(
        [5, 7, 4, n_out], hidden=hidden, output=output, seed=1, l2=l2, dtype="float64"
    )
    X, y = _data(rng, 12, 5, output, n_out)
    Xc, Y = net._prepare_X(X), net._prepare_y(y, 12)
    J_ref, g_ref = _net.loss_and_grads(net._params, Xc, Y, net.hidden, net.head, net.l2)
    trainer = mlplab.Trainer(net, _opt.sgd(0.1))
    J, m, _ = trainer.gradient(Xc, Y, None, None)  # the fast path (mlplab.fast)
    if net.l2:
        J = add_l2(net, trainer.grads, J, m)
    np.testing.assert_allclose(J, J_ref, rtol=1e-12)
    for (gW, gb), (rW, rb) in zip(trainer.grads, g_ref, strict=True):
        np.testing.assert_allclose(gW, rW, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(gb, rb, rtol=1e-10, atol=1e-14)
    assert all(np.shares_memory(g.W, trainer._grad_flat) for g in trainer.grads)
    # The logits the trainer keeps for its accuracy are z[L] of this batch.
    Z_L = _net.forward(net._params, Xc, net.hidden)[0]
    np.testing.assert_allclose(trainer.gradient.last_Z, Z_L)


def test_workspace_is_reused_and_holds_the_batch(rng):
    net = mlplab.Network([4, 6, 1], seed=0)
    X, y = _data(rng, 10, 4, "binary", 1)
    trainer = mlplab.Trainer(net, _opt.sgd(0.1))
    trainer.fit(X, y, epochs=2, batch_size=4)  # batches of 4, 4 and 2 rows
    assert sorted(trainer.gradient.workspaces) == [2, 4]
    ws = trainer.gradient.workspaces[4]
    Z_before = ws.Z[0]
    trainer.fit(X, y, epochs=1, batch_size=4)
    assert trainer.gradient.workspaces[4] is ws
    assert ws.Z[0] is Z_before  # no new buffers
    Xc, Y = net._prepare_X(X), net._prepare_y(y, 10)
    idx = np.array([9, 0, 3, 3])
    Xb, Yb = ws.gather(Xc, Y, idx)
    np.testing.assert_array_equal(Xb, Xc[idx])
    np.testing.assert_array_equal(Yb, Y[idx])


@pytest.mark.parametrize("options", [{}, {"keep_prob": 0.7, "batch_norm": True}])
def test_workspaces_of_many_batch_sizes_share_one_set_of_buffers(rng, options):
    # An MPI rank holds a different number of rows of almost every batch: the trainer
    # keeps the buffers of the most rows met and views of their first rows for the rest.
    net = mlplab.Network([4, 6, 3], output="multiclass", seed=0, dtype="float64", **options)
    X, y = _data(rng, 40, 4, "multiclass", 3)
    Xc, Y = net._prepare_X(X), net._prepare_y(y, 40)
    trainer = mlplab.Trainer(net, _opt.sgd(0.1))
    twin = mlplab.Network([4, 6, 3], output="multiclass", seed=0, dtype="float64", **options)
    fresh = mlplab.Trainer(twin, _opt.sgd(0.1))  # its own batch-norm running averages
    for m in (9, 5, 13, 2, 9, 11, 13):
        rows = rng.permutation(40)[:m]
        trainer.state.rng = np.random.default_rng(m)  # the same dropout masks
        J, _, _ = trainer.gradient(Xc, Y, Y.argmax(axis=1), rows)
        fresh.gradient.workspaces.clear()  # buffers made for these m rows
        fresh.state.rng = np.random.default_rng(m)
        J_ref, _, _ = fresh.gradient(Xc, Y, Y.argmax(axis=1), rows)
        assert J == J_ref and np.array_equal(trainer._grad_flat, fresh._grad_flat)
    cache = trainer.gradient.workspaces
    assert sorted(cache) == [2, 9, 11, 13]  # 13 rows: new buffers, the views of 9 went
    owner = cache[13]
    assert owner.Xb.base is None and owner.Z[0].base is None  # the one set of buffers
    for ws in cache.values():
        assert ws.Xb.shape[0] == ws.n_samples
        assert all(np.shares_memory(a, b) for a, b in zip(ws.Z, owner.Z, strict=True))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_inplace_step_is_bit_identical_to_pure_update(rng, name, dtype):
    opt = OPTIMIZERS[name]()
    theta_pure = rng.standard_normal(50).astype(dtype)
    theta_fast = theta_pure.copy()
    s_pure = opt.init(theta_pure)
    s_fast = opt.init(theta_fast)
    step = _step.inplace_step(opt)
    for _ in range(5):
        g = rng.standard_normal(50).astype(dtype)
        updates, s_pure = opt.update(g, s_pure, theta_pure)
        theta_pure = _opt.apply_updates(theta_pure, updates)
        g_before = g.copy()
        s_fast = step(g, s_fast, theta_fast)
        np.testing.assert_array_equal(g, g_before)  # the gradient is not modified
        np.testing.assert_array_equal(theta_fast, theta_pure)
        for a, b in zip(s_fast, s_pure, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("chunk", [7, 50, 1 << 16])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_checked_step_is_bit_identical_to_pure_update(rng, name, dtype, chunk):
    """CheckedStep.propose = update (same bits), in slices, without touching θ or the state."""
    opt = OPTIMIZERS[name]()
    theta = rng.standard_normal(50).astype(dtype)
    s_pure = opt.init(theta)
    s_fast = start = opt.init(theta)
    start_copy = [np.copy(a) for a in start[1:]]
    step = _step.CheckedStep(opt, chunk=chunk)
    seen = set()
    for _ in range(5):
        g = rng.standard_normal(50).astype(dtype)
        g_before, theta_before = g.copy(), theta.copy()
        u_pure, s_pure = opt.update(g, s_pure, theta)
        s_fast, u_fast, ug = step.propose(g, s_fast, theta)
        np.testing.assert_array_equal(g, g_before)
        np.testing.assert_array_equal(theta, theta_before)  # propose never changes θ
        np.testing.assert_array_equal(u_fast, u_pure)
        assert ug == pytest.approx(float(u_pure @ g), rel=1e-5)
        assert s_fast.count == s_pure.count
        for a, b in zip(s_fast[1:], s_pure[1:], strict=True):
            np.testing.assert_array_equal(a, b)
        seen.update(id(a) for a in s_fast[1:])
        theta = theta + u_pure
    for a, b in zip(start[1:], start_copy, strict=True):
        np.testing.assert_array_equal(a, b)  # the first state is never written into
    assert len(seen) == 2 * (len(s_fast) - 1)  # two alternating sets of state arrays


@pytest.mark.parametrize("chunk", [16, 1 << 18])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_checked_step_in_place_is_bit_identical_and_refuses_exactly(rng, name, chunk):
    """CheckedStep.step: in place once provably finite (sgd, momentum, nesterov), else via a
    second vector; the same bits as the pure update, and a refused step changes nothing."""
    opt = OPTIMIZERS[name]()
    theta = rng.standard_normal(50).astype(np.float32)
    spare = np.empty_like(theta)
    theta_pure, s_pure = theta.copy(), opt.init(theta)
    state = start = opt.init(theta)
    step = _step.CheckedStep(opt, chunk=chunk)
    step.in_place_min = 0  # 50 parameters: in place too (by default from 2**14 on)
    g = np.empty(50, np.float32)
    in_place = 0
    for _ in range(6):
        g[...] = rng.standard_normal(50)
        u, s_pure = opt.update(g, s_pure, theta_pure)
        theta_pure = theta_pure + u
        state, new_theta, check = step.step(0.5, g, state, theta, lambda s=spare: s)
        assert np.isfinite(check)
        if new_theta is theta:
            in_place += 1
        else:  # adopted: the trainer swaps the vectors
            theta, spare = new_theta, theta
        np.testing.assert_array_equal(theta, theta_pure)
        for a, b in zip(state[1:], s_pure[1:], strict=True):
            np.testing.assert_array_equal(a, b)
    assert in_place == (5 if name in ("sgd", "momentum", "nesterov") else 0)
    assert all(np.all(a == 0) for a in start[1:])  # the caller's first state: untouched
    # A NaN gradient: the check says so, and neither θ nor the state has moved.
    theta_before = theta.copy()
    state_before = [np.copy(a) for a in state[1:]]
    g[7] = np.nan
    _, new_theta, check = step.step(0.5, g, state, theta, lambda: spare)
    assert not np.isfinite(check)
    np.testing.assert_array_equal(theta, theta_before)
    for a, b in zip(state[1:], state_before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_checked_step_huge_learning_rate_is_refused_before_it_applies(rng):
    """With α = 1e38 the update overflows: the bound sends the step to the checked path."""
    opt = _opt.momentum(lr=1e38, beta=0.5)
    theta = np.zeros(8, np.float32)
    spare = np.empty_like(theta)
    step = _step.CheckedStep(opt)
    step.in_place_min = 0
    g = np.full(8, 1e-3, np.float32)
    state, new_theta, check = step.step(0.1, g, opt.init(theta), theta, lambda: spare)
    assert np.isfinite(check) and new_theta is spare  # a finite first step, 5e34
    theta, spare = spare, theta
    g[...] = 100.0
    before = theta.copy()
    with np.errstate(over="ignore", invalid="ignore"):  # as in the trainer
        _, new_theta, check = step.step(0.1, g, state, theta, lambda: spare)
    assert new_theta is spare and not np.isfinite(check)  # u = -1e38 * 50: inf
    np.testing.assert_array_equal(theta, before)


def test_checked_step_flags_non_finite_steps_and_falls_back(rng):
    opt = _opt.adam(1e-3)
    theta = np.zeros(10, np.float32)
    step = _step.CheckedStep(opt, chunk=4)
    state = opt.init(theta)
    g = np.ones(10, np.float32)
    g[9] = np.nan
    _, _, ug = step.propose(g, state, theta)
    assert not np.isfinite(ug)
    # A user's optimizer, or a tree: the pure update, checked the same way.
    custom = _opt.Optimizer(lambda p: None, lambda g, s, p: (-g, s), "mine")
    _, u, ug = _step.CheckedStep(custom).propose(np.full(3, 2.0), None, np.ones(3))
    np.testing.assert_array_equal(u, -2.0)
    assert ug == -12.0
    # State arrays of another dtype (float64 v for float32 θ): the pure update too.
    state64 = _opt.MomentumState(0, np.zeros(10))
    new, u, _ = _step.CheckedStep(_opt.momentum()).propose(np.ones(10, np.float32), state64, theta)
    assert new.v.dtype == np.float64


def _numpy_has_scipy_openblas() -> bool:
    blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
    return blas.get("name") == "scipy-openblas"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blas_axpby_and_axpy_agree_with_numpy_and_stay_in_bounds(rng, dtype):
    k = _blas.level1(dtype)
    if k is None:
        assert not _numpy_has_scipy_openblas(), "NumPy's bundled OpenBLAS was not found"
        pytest.skip("NumPy is not linked to its bundled OpenBLAS: the ufunc kernels run")
    assert _blas.level1("float16") is None and _blas.level1("int64") is None
    tol = {"float32": 1e-6, "float64": 1e-14}[dtype]
    for n, offset in [(1, 0), (17, 1), (40_000, 3), (300_001, 0)]:  # long: threaded
        x = rng.standard_normal(n + offset).astype(dtype)[offset:]  # also unaligned
        buf = rng.standard_normal(n + offset + 5).astype(dtype)
        y = buf[offset : offset + n]
        y0, around = y.copy(), np.concatenate([buf[:offset], buf[offset + n :]])
        k.axpby(0.3, x, -0.7, y)
        np.testing.assert_allclose(y, 0.3 * x - 0.7 * y0, rtol=tol, atol=tol)
        k.axpy(-2.5, x, y)
        np.testing.assert_allclose(y, 0.3 * x - 0.7 * y0 - 2.5 * x, rtol=10 * tol, atol=10 * tol)
        np.testing.assert_array_equal(np.concatenate([buf[:offset], buf[offset + n :]]), around)


def test_blas_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(_blas, "_enabled", True)
    before = _blas.set_enabled(False)
    assert before is True and _blas.level1("float32") is None
    _blas.set_enabled(True)
    out = subprocess.run(
        [sys.executable, "-c", "from mlplab import _blas; print(_blas.level1('float32'))"],
        env={**os.environ, "MLPLAB_BLAS": "0"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "None"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_blas_step_in_place_and_into_a_copy_agree_bit_for_bit(rng, name, dtype):
    """The BLAS form (sgd, momentum, Nesterov on long vectors): the pure update up to
    rounding, and the in-place step and step_into the same bits, so a resumed run (whose
    first step goes through step_into) retraces an uninterrupted one exactly."""
    if _blas.level1(dtype) is None:
        pytest.skip("no BLAS routines from NumPy here")
    n = 20_011  # above BLAS_MIN: the trainer's default choice, nothing forced
    opt = OPTIMIZERS[name]()
    theta0 = rng.standard_normal(n).astype(dtype)
    in_place, into = _step.CheckedStep(opt), _step.CheckedStep(opt)
    into.in_place_min = 1 << 40  # always step_into
    runs = {}
    for label, step in (("in place", in_place), ("into", into)):
        theta, spare = theta0.copy(), np.empty_like(theta0)
        state, g = opt.init(theta), np.empty(n, dtype)
        pure_theta, pure_state = theta0.copy(), opt.init(theta0)
        gen = np.random.default_rng(7)
        n_in_place = 0
        for _ in range(5):
            g[...] = gen.standard_normal(n)
            state, new, check = step.step(0.5, g, state, theta, lambda s=spare: s)
            assert np.isfinite(check)
            if new is theta:
                n_in_place += 1
            else:
                theta, spare = new, theta
            u, pure_state = opt.update(g, pure_state, pure_theta)
            pure_theta = pure_theta + u
        rtol = {"float32": 1e-5, "float64": 1e-12}[dtype]
        np.testing.assert_allclose(theta, pure_theta, rtol=rtol, atol=rtol)
        runs[label] = (theta.copy(), [np.copy(a) for a in state[1:]], n_in_place)
    blas_form = name in ("sgd", "momentum", "nesterov")
    assert runs["in place"][2] == (4 if blas_form else 0) and runs["into"][2] == 0
    np.testing.assert_array_equal(runs["in place"][0], runs["into"][0])
    for a, b in zip(runs["in place"][1], runs["into"][1], strict=True):
        np.testing.assert_array_equal(a, b)
    # A NaN gradient on the BLAS path: refused, θ and the state as they were.
    step, theta = in_place, runs["in place"][0]
    g = np.full(n, 0.01, dtype)
    state, theta_new, _ = step.step(0.5, g, opt.init(theta), theta, lambda: np.empty_like(theta))
    theta = theta_new
    before, state_before = theta.copy(), [np.copy(a) for a in state[1:]]
    g[123] = np.nan
    _, new, check = step.step(0.5, g, state, theta, lambda: np.empty_like(theta))
    assert not np.isfinite(check) and new is not theta
    np.testing.assert_array_equal(theta, before)
    for a, b in zip(state[1:], state_before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_blas_is_off_below_blas_min_and_without_numpy_blas(rng, monkeypatch):
    """Short vectors and a NumPy without the routines: the ufunc kernels, bit-identical."""
    opt = _opt.momentum(0.1, 0.9)
    for n, enabled in [(_step.BLAS_MIN - 1, True), (_step.BLAS_MIN + 5, False)]:
        monkeypatch.setattr(_blas, "_enabled", enabled)
        theta = rng.standard_normal(n).astype(np.float32)
        g = rng.standard_normal(n).astype(np.float32)
        step = _step.CheckedStep(opt)
        spare = np.empty_like(theta)
        state, new, _ = step.step(0.5, g, opt.init(theta), theta, lambda s=spare: s)
        assert step._k is None
        u, _ = opt.update(g, opt.init(theta), theta)
        np.testing.assert_array_equal(new, theta + u)


def test_inplace_step_falls_back_for_trees_and_foreign_state(rng):
    opt = _opt.momentum(0.1, 0.9)
    params = [_net.DenseParams(np.ones((2, 3)), np.zeros(2))]
    grads = [_net.DenseParams(np.full((2, 3), 0.5), np.ones(2))]
    step = _step.inplace_step(opt)
    state = step(grads, opt.init(params), params)  # a tree: the pure update, added in place
    np.testing.assert_allclose(params[0].W, 1 - 0.1 * 0.1 * 0.5)
    assert state.count == 1
    # A read-only state (e.g. memory-mapped from a file) is never written into.
    theta = np.zeros(4)
    frozen = opt.init(theta)
    frozen.v.flags.writeable = False
    new = step(np.ones(4), frozen, theta)
    assert new.v is not frozen.v
    assert np.all(frozen.v == 0)
    np.testing.assert_allclose(theta, -0.1 * 0.1)

    custom = _opt.Optimizer(lambda p: None, lambda g, s, p: (-g, s), "mine")
    theta = np.ones(3)
    _step.inplace_step(custom)(np.ones(3), None, theta)
    np.testing.assert_array_equal(theta, 0.0)


@pytest.mark.parametrize("hidden", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_trainer_follows_the_lecture_loop(rng, hidden, name):
    """Whole training runs: the fast Trainer and the pure loop give the same trajectory."""
    X, y = _data(rng, 37, 6, "multiclass", 3)
    a = mlplab.Network(
        [6, 8, 5, 3], hidden=hidden, output="multiclass", seed=3, dtype="float64", l2=0.01
    )
    b = a.copy()
    history = mlplab.fit(a, X, y, optimizer=OPTIMIZERS[name](), epochs=4, batch_size=8, seed=5)
    params, losses = _lecture_fit(b, X, y, OPTIMIZERS[name](), 4, 8, seed=5)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-10)
    for (W, bb), (rW, rb) in zip(a.params, params, strict=True):
        np.testing.assert_allclose(W, rW, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(bb, rb, rtol=1e-9, atol=1e-12)


def test_trainer_keeps_theta_in_the_networks_own_vector(rng):
    """θ alternates between two vectors during fit; callbacks see the current one, and
    after fit (also after an error) the network's own arrays hold the result."""
    X, y = _data(rng, 40, 4, "binary", 1)
    net = mlplab.Network([4, 6, 1], seed=0)
    W1, theta = net.weights[0], net._theta  # arrays taken before training
    seen = []
    cb = mlplab.callbacks.LambdaCallback(
        on_batch_end=lambda b, logs: seen.append(net.get_flat_params())
    )
    ref = net.copy()
    mlplab.fit(net, X, y, optimizer=_opt.momentum(0.1), epochs=2, batch_size=8, callbacks=[cb])
    assert net._theta is theta and np.shares_memory(W1, net._theta)
    np.testing.assert_array_equal(W1, net.weights[0])
    np.testing.assert_array_equal(seen[-1], net.get_flat_params())
    assert len(seen) == 10
    assert all(not np.array_equal(a, b) for a, b in zip(seen[:-1], seen[1:], strict=True))
    # What the callback saw after the first epoch's 5 steps is that epoch's θ.
    mlplab.Trainer(ref, _opt.momentum(0.1), seed=0).fit(X, y, epochs=1, batch_size=8)
    np.testing.assert_array_equal(seen[4], ref.get_flat_params())

    def boom(b, logs):
        if b == 2:
            raise RuntimeError("stop")

    before = None

    def record(b, logs):
        nonlocal before
        before = net.get_flat_params()

    with pytest.raises(RuntimeError, match="stop"):
        mlplab.fit(
            net,
            X,
            y,
            optimizer=_opt.momentum(0.1),
            epochs=1,
            batch_size=8,
            callbacks=[
                mlplab.callbacks.LambdaCallback(on_batch_end=record),
                mlplab.callbacks.LambdaCallback(on_batch_end=boom),
            ],
        )
    assert net._theta is theta
    np.testing.assert_array_equal(net.get_flat_params(), before)  # the θ of the last step


@pytest.mark.parametrize("output", ["binary", "multiclass"])
def test_epoch_accuracy_counts_correct_predictions(rng, output):
    n_out = 1 if output == "binary" else 4
    X, y = _data(rng, 40, 3, output, n_out)
    net = mlplab.Network([3, 5, n_out], output=output, seed=0)
    tiny = _opt.sgd(1e-30)  # parameters do not move: accuracy of the initial network
    history = mlplab.fit(net, X, y, optimizer=tiny, epochs=1, batch_size=7)
    assert history.history["accuracy"][0] == pytest.approx(net.score(X, y))


@pytest.mark.parametrize("shape", [(6, 5), (100, 50)])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_inplace_kernels_match_the_activation(rng, hidden, shape):
    g = _act.get(hidden)
    k = _kernels.inplace_kernels(g)
    Z = rng.standard_normal(shape).astype(np.float32)
    Z[0, 0] = 0.0  # the kink: the notes put z = 0 on the zero side
    Z[1, 1] = np.nan  # NaN stays NaN (a diverged step must show)
    Zbuf, out = Z.copy(), np.empty_like(Z)
    A = k.forward_into(Zbuf, out)
    assert A is Zbuf or A is out
    np.testing.assert_array_equal(A, g.forward(Z))
    dA = rng.standard_normal(shape).astype(np.float32)
    expected = dA * g.derivative(Z, g.forward(Z))
    got = k.backward_into(dA.copy(), Zbuf, out)  # the buffers forward_into was given
    np.testing.assert_array_equal(got, expected)


def test_user_activation_named_relu_runs_its_own_code(rng):
    double = _act.Activation("relu", lambda Z: 2 * Z, lambda Z, A: np.full_like(Z, 2.0))
    k = _kernels.inplace_kernels(double)
    Z = rng.standard_normal((3, 2))
    np.testing.assert_array_equal(k.forward_into(Z, np.empty_like(Z)), 2 * Z)
    np.testing.assert_array_equal(k.backward_into(np.ones_like(Z), Z, 2 * Z), 2.0)


# ------------------------------------------- lecture backprop: a loop over dense_backward
MIXED = ["relu", "tanh", "sigmoid", "leaky_relu", "identity"]


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    acts=st.lists(st.sampled_from(MIXED), min_size=4, max_size=4),
    output=st.sampled_from(["binary", "multiclass", "regression"]),
    n=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_backward_with_mixed_activations_matches_differences_and_the_fast_path(
    sizes, acts, output, n, seed
):
    """Different activations per layer: backward agrees with two-sided differences, and the
    fast path (Workspace, backward_into) agrees with backward."""
    if output == "multiclass":
        sizes[-1] = max(sizes[-1], 2)
    hidden = acts[: len(sizes) - 2]
    rng = np.random.default_rng(seed)
    net = mlplab.Network(sizes, hidden=hidden, output=output, seed=seed, dtype="float64")
    net.biases = [rng.normal(size=b.shape) * 0.5 for b in net.biases]
    X, y = _data(rng, n, sizes[0], output, sizes[-1])
    Xc, Y = net._prepare_X(X), net._prepare_y(y, n)
    Z_L, caches = _bp.forward(net._params, Xc, net.hidden)
    # away from the kinks of ReLU and leaky ReLU, where g' jumps
    assume(all(np.all(np.abs(c.Z) > 1e-4) for c in caches[:-1]))
    assert mlplab.gradcheck(net, X, y) < 1e-7
    J, dZ_L = net.head.loss_and_grad(Z_L, Y)
    grads = _bp.backward(dZ_L, net._params, caches, net.hidden)
    flat = np.zeros_like(net._theta)
    into = _ws.backward_into(dZ_L, net._params, caches, net.hidden, net._views(flat))
    ws_grads = net._views(np.zeros_like(net._theta))
    J_ws = _ws.Workspace(net, n).loss_and_grads(net._params, Xc, Y, ws_grads)
    assert J_ws == pytest.approx(J, rel=1e-12)
    for (dW, db), (iW, ib), (wW, wb), p in zip(grads, into, ws_grads, net._params, strict=True):
        assert dW.shape == p.W.shape and db.shape == p.b.shape
        np.testing.assert_array_equal(iW, dW)  # the same products, written into place
        np.testing.assert_array_equal(ib, db)
        np.testing.assert_allclose(wW, dW, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(wb, db, rtol=1e-10, atol=1e-14)


def test_backward_is_a_loop_over_dense_backward(rng, monkeypatch):
    """One dense_backward per layer, L down to 1; no dA[0] product for the first layer."""
    net = mlplab.Network([3, 5, 4, 2], hidden=["tanh", "relu"], output="multiclass", seed=0)
    X, y = _data(rng, 6, 3, "multiclass", 2)
    calls = []
    real = _layers.dense_backward

    def spy(dZ, params, cache, *, need_dA_prev=True):
        calls.append((params.W.shape, need_dA_prev))
        return real(dZ, params, cache, need_dA_prev=need_dA_prev)

    monkeypatch.setattr(_bp, "dense_backward", spy)
    _, grads = net.loss_and_grads(X, y)
    assert calls == [((2, 4), True), ((4, 5), True), ((5, 3), False)]
    assert [g.W.shape for g in grads] == [(5, 3), (4, 5), (2, 4)]


def test_backward_lays_dW_out_like_W_and_needs_no_out_buffers(rng):
    """dW[l] has W[l]'s shape and memory layout (a Network stores W[l]ᵀ): the pure update
    W − α dW then runs on one layout. init_params draws W[l] in that layout too."""
    net = mlplab.Network([4, 6, 3], output="multiclass", seed=0)
    X, y = _data(rng, 5, 4, "multiclass", 3)
    _, grads = net.loss_and_grads(X, y)
    for (dW, _), (W, _) in zip(grads, net.params, strict=True):
        assert dW.shape == W.shape and dW.flags.f_contiguous and W.flags.f_contiguous
    inits = [mlplab.initializers.get("he")] * 2
    params = _bp.init_params([4, 6, 3], inits, np.random.default_rng(0))
    for p, shape in zip(params, [(6, 4), (3, 6)], strict=True):
        assert p.W.flags.f_contiguous and p.W.shape == shape
    assert "out" not in inspect.signature(_bp.backward).parameters
    assert "out" not in inspect.signature(_act.stable_sigmoid).parameters


# ------------------------------------------------- optimizer kernels: built-ins recognised
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fast_kernels_are_found_for_every_built_in_optimizer(rng, name):
    opt = OPTIMIZERS[name]()
    k = _kernels.for_optimizer(opt)
    assert k is not None
    blas_form = name in ("sgd", "momentum", "nesterov")
    assert k.lr_bound == (opt.hyperparams["lr"] if blas_form else None)
    assert (k.blas is not None) == blas_form
    assert opt.update.__dict__ == {}  # nothing is hung on update
    factory = _sk.SKLEARN_OPTIMIZERS.get(opt.name) or (lambda **kw: _opt.get(name, **kw))
    assert _kernels.for_optimizer(factory(**opt.hyperparams)) is not None
    # The kernels use the hyperparameters update binds, not the (editable) display dict.
    relabelled = opt._replace(name="mine", hyperparams={"lr": 123.0})
    theta = rng.standard_normal(40)
    g = rng.standard_normal(40)
    state = relabelled.init(theta)
    u_pure, s_pure = relabelled.update(g, state, theta)
    s_fast, u_fast, _ = _step.CheckedStep(relabelled).propose(g, state, theta)
    np.testing.assert_array_equal(u_fast, u_pure)
    for a, b in zip(s_fast[1:], s_pure[1:], strict=True):
        np.testing.assert_array_equal(a, b)


def test_fast_kernels_are_not_used_for_a_user_optimizer(rng):
    """A user's Optimizer(init, update) runs its own update, even named and shaped like a
    built-in: recognition is by the bound function, never by name."""

    def init(params):
        return _opt.MomentumState(0, np.zeros_like(params))

    def update(grads, state, params=None):  # "momentum" that steps twice as far
        v = 0.9 * state.v + 0.1 * grads
        return -0.2 * v, _opt.MomentumState(state.count + 1, v)

    fake = _opt.Optimizer(init, update, "momentum", {"lr": 0.1, "beta": 0.9})
    assert _kernels.for_optimizer(fake) is None
    wrapped = _opt.Optimizer(init, functools.partial(update), "momentum")
    assert _kernels.for_optimizer(wrapped) is None
    step = _step.CheckedStep(fake)
    assert step._propose is None
    theta, g = np.zeros(8), np.ones(8)
    _, u, _ = step.propose(g, fake.init(theta), theta)
    np.testing.assert_allclose(u, -0.02)  # the user's update, not the built-in's -0.01


def test_kernels_are_looked_up_once_per_step_object(rng, monkeypatch):
    calls = []
    real = _kernels.for_optimizer
    monkeypatch.setattr(_kernels, "for_optimizer", lambda opt: calls.append(1) or real(opt))
    opt = _opt.adam(1e-3)
    theta = rng.standard_normal(30)
    step = _step.CheckedStep(opt)
    inplace = _step.inplace_step(opt)
    state, state2 = opt.init(theta), opt.init(theta.copy())
    for _ in range(5):
        g = rng.standard_normal(30)
        state, _, _ = step.propose(g, state, theta)
        state2 = inplace(g, state2, theta.copy())
    assert len(calls) == 2


# ------------------------------------------------------------------ float32 end to end
class _Spy(np.ndarray):
    """An ndarray that records every ufunc call (incl. in-place ops) touching float64."""

    log: ClassVar[list[str]] = []

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        def unwrap(x):
            return x.view(np.ndarray) if isinstance(x, _Spy) else x

        args = [unwrap(x) for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(unwrap(o) for o in kwargs["out"])
        result = getattr(ufunc, method)(*args, **kwargs)
        results = result if isinstance(result, tuple) else (result,)
        arrays = [a for a in (*args, *kwargs.get("out", ()), *results) if isinstance(a, np.ndarray)]
        if any(a.dtype == np.float64 for a in arrays):
            _Spy.log.append(f"{ufunc.__name__}.{method}: {[a.dtype.name for a in arrays]}")
        if "out" in kwargs and method != "at":
            outs = tuple(o.view(_Spy) for o in kwargs["out"])
            return outs if isinstance(result, tuple) else outs[0]
        if isinstance(result, np.ndarray):
            return result.view(_Spy)
        return result

    def __array_function__(self, func, types, args, kwargs):
        # numpy functions that are not ufuncs (np.where, np.dot, np.take, ...)
        result = super().__array_function__(func, types, args, kwargs)
        for r in result if isinstance(result, tuple) else (result,):
            if isinstance(r, np.ndarray) and r.dtype == np.float64:
                _Spy.log.append(f"{func.__name__}: float64 result")
        return result


def _spy_training(dtype, hidden, output, n_out, opt):
    """One fit whose every array inside the loop is a _Spy; returns the float64 log."""
    rng = np.random.default_rng(0)
    X, y = _data(rng, 30, 4, output, n_out)
    net = mlplab.Network([4, 6, 5, n_out], hidden=hidden, output=output, dtype=dtype, l2=0.01)
    net._theta = net._theta.view(_Spy)
    net._params = net._views(net._theta)
    trainer = mlplab.Trainer(net, opt)
    trainer._grad_flat = trainer._grad_flat.view(_Spy)
    trainer.grads[:] = net._views(trainer._grad_flat)  # the lists the step writes into
    trainer.gradient.workspaces.clear()
    for n_b in (8, 6):  # 30 rows: three batches of 8, one of 6
        ws = _ws.Workspace(net, n_b)
        for name, value in vars(ws).items():
            if isinstance(value, np.ndarray):
                setattr(ws, name, value.view(_Spy))
            elif isinstance(value, list) and value and isinstance(value[0], np.ndarray):
                setattr(ws, name, [v.view(_Spy) for v in value])
        trainer.gradient.workspaces[n_b] = ws
    _Spy.log = []
    trainer.fit(X, y, epochs=2, batch_size=8)
    assert isinstance(trainer.gradient.last_Z, _Spy)  # the spy really was inside the loop
    assert all(isinstance(leaf, _Spy) for leaf in trainer.opt_state[1:])
    return list(_Spy.log), trainer


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(("output", "n_out"), [("binary", 1), ("multiclass", 3), ("regression", 2)])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_nothing_upcasts_to_float64_in_the_training_loop(hidden, output, n_out, name):
    log, trainer = _spy_training("float32", hidden, output, n_out, OPTIMIZERS[name]())
    assert log == [], "float64 arrays appeared in a float32 training loop:\n" + "\n".join(log)
    assert trainer.net._theta.dtype == np.float32
    assert trainer._grad_flat.dtype == np.float32
    assert all(leaf.dtype == np.float32 for leaf in trainer.opt_state[1:])


def test_the_float64_spy_does_see_float64():
    # Control: the same run in float64 must fill the log, or the spy checks nothing.
    log, _ = _spy_training("float64", "tanh", "multiclass", 3, OPTIMIZERS["adam"]())
    assert len(log) > 50


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", ["binary", "multiclass", "regression"])
def test_lecture_functions_keep_float32(rng, hidden, output):
    n_out = 3 if output != "binary" else 1
    net = mlplab.Network([4, 5, n_out], hidden=hidden, output=output, l2=0.1)
    X, y = _data(rng, 9, 4, output, n_out)
    Xc, Y = net._prepare_X(X), net._prepare_y(y, 9)
    assert Xc.dtype == np.float32
    assert Y.dtype == np.float32
    Z_L, caches = _net.forward(net._params, Xc, net.hidden)
    arrays = [Z_L] + [a for c in caches for a in c]
    J, grads = _net.loss_and_grads(net._params, Xc, Y, net.hidden, net.head, net.l2)
    arrays += [a for g in grads for a in g]
    arrays += [net.head.loss_and_grad(Z_L, Y)[1], net.forward(X), net.logits(X)]
    assert [a.dtype.name for a in arrays] == ["float32"] * len(arrays)
    assert isinstance(J, float)


# ---------------------------------------------------------------------------- memory
def _traced_peak(fn):
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_training_peak_memory_within_issue_budget():
    """Peak ≤ 1.5 × (parameters + one batch of activations + data), as issue 6 asks."""
    rng = np.random.default_rng(0)
    sizes, n, batch = [256, 256, 256, 1], 4096, 128
    X = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = mlplab.Network(sizes, seed=0)
    params = net.n_params * 4
    activations = batch * sum(sizes) * 4
    data = X.nbytes + n * sizes[-1] * 4
    opt = _opt.momentum(0.1, 0.9)
    peak = _traced_peak(lambda: mlplab.fit(net, X, y, optimizer=opt, epochs=1, batch_size=batch))
    assert peak <= 1.5 * (params + activations + data), (peak, params, activations, data)


def test_training_steps_allocate_nothing_parameter_sized():
    """After the first step, a step allocates only small temporaries: no copy of θ."""
    rng = np.random.default_rng(0)
    net = mlplab.Network([64, 512, 512, 1], seed=0)
    X = rng.standard_normal((64, 64), dtype=np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    trainer = mlplab.Trainer(net, _opt.adam(1e-3))
    trainer.fit(X, y, epochs=1, batch_size=16)  # builds workspaces, state, scratch
    Xc, Y = net._prepare_X(X), net._prepare_y(y, 64)
    step = _step.CheckedStep(trainer.optimizer)  # the trainer's step
    idx = np.arange(16)

    def steps():
        for _ in range(5):
            trainer.gradient(Xc, Y, None, idx)
            g = trainer._grad_flat
            trainer.opt_state, u, ug = step.propose(g, trainer.opt_state, net._theta)
            assert np.isfinite(ug)
            net._theta[...] += u

    steps()  # the new step's scratch buffers
    theta_bytes = net._theta.nbytes
    assert theta_bytes > 1_000_000
    assert _traced_peak(steps) < theta_bytes / 8
    # The pure update, for contrast, allocates several θ-sized arrays per step.
    g = trainer._grad_flat
    pure = _traced_peak(lambda: trainer.optimizer.update(g, trainer.opt_state, net._theta))
    assert pure > theta_bytes


# ------------------------------------------------------------------------------ import
HEAVY = ["sklearn", "scipy", "matplotlib", "tqdm", "torch", "mpi4py", "starlette", "pandas"]


ON_USE = [
    "zipfile", "tempfile", "hashlib", "mlplab.saving", "mlplab.persist.modelfile",
    "mlplab._archive", "mlplab.train.checkpoint", "mlplab.train.digest",
]  # fmt: skip
"""Loaded when a model file or a checkpoint is written or read, not by ``import mlplab``
nor by a fit that saves nothing (hashlib apart: NumPy's random module, which a fit uses,
imports it through ``secrets``)."""

_SAVE_AND_RESUME = """
X = np.random.default_rng(0).standard_normal((40, 3))
y = X[:, 0] > 0
def fit(**kw):
    net = mlplab.Network([3, 4, 1], seed=0)
    mlplab.fit(net, X, y, optimizer=mlplab.optimizers.adam(0.01), batch_size=8, **kw)
    return net
net = fit(epochs=3)
print('FIT', [m for m in ON_USE if m in sys.modules and m != 'hashlib'])  # numpy.random's
path = os.path.join(sys.argv[1], 'm.npz')
mlplab.save(net, path)
same = np.array_equal(mlplab.load(path).predict_proba(X), net.predict_proba(X))
open(path, 'wb').write(b'junk')
try:
    mlplab.load(path)
except mlplab.ModelFileError:
    print('SAVED', same, 'refused')
ck = os.path.join(sys.argv[1], 'ck.npz')
fit(epochs=2, checkpoint=ck)
resumed = fit(epochs=3, checkpoint=ck, resume=True)
print('RESUMED', np.array_equal(resumed.get_flat_params(), net.get_flat_params()))
"""


def test_import_mlplab_is_light(tmp_path):
    """``import mlplab`` loads NumPy, the standard library and mlplab itself, nothing else
    (no scikit-learn, SciPy, pandas, Numba, PyTorch, ...), and not the model files' and
    checkpoints' modules (:data:`ON_USE`) until they are used: then ``mlplab.save``,
    ``load``, ``ModelFileError`` and a checkpointed fit that resumes work as before. What
    it costs in time is measured by the benchmarks (benchmarks/time_to_model.py), not
    asserted here: a timed unit test fails on a busy machine, a list of imported packages
    does not."""
    code = (
        "import os, sys, numpy, numpy as np\n"
        "before = set(sys.modules)\n"
        "import mlplab\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print('NEW', sorted(new - set(sys.stdlib_module_names) - {'numpy'}))\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
        f"ON_USE = {ON_USE!r}\n"
        "print('ON_USE', [m for m in ON_USE if m in sys.modules and m not in before])\n"
        + _SAVE_AND_RESUME
    )
    p = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert "HEAVY []" in p.stdout, p.stdout
    assert "NEW ['mlplab']" in p.stdout, p.stdout
    assert "ON_USE []" in p.stdout and "FIT []" in p.stdout, p.stdout
    assert "SAVED True refused" in p.stdout and "RESUMED True" in p.stdout, p.stdout


def test_sigmoid_is_scipys_expit_loaded_without_scipy_special():
    """σ on NumPy arrays is scipy's ``expit`` ufunc itself, loaded without importing
    ``scipy.special`` (0.2–0.3 s: more than training a small network): a binary fit and
    its predictions leave scipy.special unimported, and a later ``import scipy.special``
    hands out that very ufunc (the same object, so the same bits as before)."""
    code = (
        "import sys, numpy as np, mlplab\n"
        "X = np.random.default_rng(0).standard_normal((40, 3)).astype(np.float32)\n"
        "net = mlplab.Network([3, 4, 1], hidden='sigmoid', seed=0)\n"
        "mlplab.fit(net, X, X[:, 0] > 0, optimizer=mlplab.optimizers.sgd(0.1), epochs=2,\n"
        "           batch_size=8)\n"
        "p = net.predict_proba(X)\n"
        "print('SPECIAL', 'scipy.special' in sys.modules)\n"
        "from mlplab import _array_api\n"
        "import scipy.special\n"
        "print('SAME', _array_api._expit() is sys.modules['scipy.special._ufuncs'].expit)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "SPECIAL False" in p.stdout and "SAME True" in p.stdout, p.stdout + p.stderr
    import scipy.special  # noqa: F401  (both loaded here, in either order)

    from mlplab import _array_api

    assert _array_api._expit() is sys.modules["scipy.special._ufuncs"].expit  # in this process


def test_sigmoid_falls_back_to_scipy_special(monkeypatch):
    """Where SciPy has no separate ``_special_ufuncs`` extension, σ is imported the usual way."""
    import scipy.special

    from mlplab import _array_api

    def missing():
        raise ImportError("another SciPy layout")

    monkeypatch.setattr(_array_api, "_special_ufuncs", missing)
    assert _array_api._expit.__wrapped__() is scipy.special.expit


# ------------------------------------------------------------------- no copy of X
def test_fit_uses_float32_X_without_copying_it_and_never_writes_into_it(rng):
    net = mlplab.Network([3, 4, 1], seed=0)
    X = rng.standard_normal((20, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    assert net._prepare_X(X) is X  # already float32, C-contiguous, finite: no copy
    before = X.copy()
    mlplab.fit(net, X, y, optimizer=_opt.sgd(0.1), epochs=3, batch_size=6)
    net.predict(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize(
    "make",
    [
        lambda X: X.astype(np.float64),  # another dtype: converted
        lambda X: np.asfortranarray(X),  # not C-contiguous
        lambda X: X[:, :2],  # wrong number of features: the usual error
    ],
)
def test_other_inputs_still_go_through_the_checks(rng, make):
    net = mlplab.Network([3, 1], seed=0)
    X = make(rng.standard_normal((5, 3)).astype(np.float32))
    if X.shape[1] != 3:
        with pytest.raises(ValueError, match="features"):
            net._prepare_X(X)
        return
    Xc = net._prepare_X(X)
    assert Xc.dtype == np.float32
    assert Xc.flags.c_contiguous
    assert not np.shares_memory(Xc, X)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_float32_X_is_still_rejected(rng, bad):
    net = mlplab.Network([3, 1], seed=0)
    X = rng.standard_normal((5, 3)).astype(np.float32)
    X[2, 1] = bad
    with pytest.raises(ValueError, match="row 2, column 1"):
        net._prepare_X(X)


def test_finite_X_whose_sum_overflows_is_accepted():
    net = mlplab.Network([2, 1], seed=0)
    X = np.full((4, 2), 3e38, dtype=np.float32)  # finite, but the float32 sum is inf
    np.testing.assert_array_equal(net._prepare_X(X), X)


# ------------------------------------------------------------------ input checks
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 4100, -1])  # first block, a middle one, the last row
def test_finite_extremes_reads_blocks_and_sees_every_non_finite(rng, bad, where):
    from mlplab._validation import finite_extremes

    X = rng.standard_normal((9000, 70)).astype(np.float32)  # about 9 blocks of 1 MB
    if bad is not None:
        X[where, 7] = bad
    lo, hi = finite_extremes(X)
    if bad is None:
        assert (lo, hi) == (float(X.min()), float(X.max()))
    else:
        assert not (np.isfinite(lo) and np.isfinite(hi))
        net = mlplab.Network([70, 1], seed=0)
        name = "NaN" if bad != bad else "infinite"
        with pytest.raises(ValueError, match=f"X contains {name}.*row {where % 9000}"):
            mlplab.fit(net, X, (X[:, 0] > 0).astype(int), epochs=1)


def test_trainer_in_place_steps_keep_the_last_finite_theta_on_divergence(rng):
    """A network big enough for in-place steps (>= 2**14 parameters): a NaN gradient at
    step 5 stops training with θ exactly as after step 4."""
    X = rng.standard_normal((64, 64)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    net = mlplab.Network([64, 256, 1], seed=0)
    assert net.n_params >= 1 << 14
    trainer = mlplab.Trainer(net, _opt.momentum(0.1), seed=0)
    seen = []
    record = mlplab.callbacks.LambdaCallback(
        on_batch_end=lambda b, logs: seen.append(net.get_flat_params())
    )
    trainer.callbacks.append(record)
    real = trainer.gradient

    def poisoned(*args):
        out = real(*args)
        if trainer.step == 4:
            trainer._grad_flat[3] = np.nan
        return out

    trainer.gradient = poisoned
    with pytest.raises(mlplab.DivergenceError):
        trainer.fit(X, y, epochs=1, batch_size=8)
    assert len(seen) == 4
    np.testing.assert_array_equal(net.get_flat_params(), seen[-1])


def test_theta_stores_w_transposed_but_everything_outside_reads_rows(rng, tmp_path):
    """Storage order is internal: W[l]ᵀ row by row in θ (the faster product layout), while
    get/set_flat_params, pickles and checkpoints keep W[l] row by row."""
    import pickle

    from mlplab.train.checkpoint import read_checkpoint

    net = mlplab.Network([5, 4, 3], output="multiclass", seed=1)
    for p in net.params:  # views of θ; Wᵀ contiguous: A @ W.T reads it row by row
        assert np.shares_memory(p.W, net._theta) and p.W.T.flags.c_contiguous
    rows = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in net.params])
    np.testing.assert_array_equal(net.get_flat_params(), rows)
    assert not np.array_equal(net._theta, rows)  # stored otherwise
    new = rng.standard_normal(rows.shape[0]).astype(np.float32)
    net.set_flat_params(new)
    np.testing.assert_array_equal(net.weights[0], new[:20].reshape(4, 5))
    np.testing.assert_array_equal(net.biases[0], new[20:24])
    np.testing.assert_array_equal(net.get_flat_params(), new)
    # Pickles hold rows (as those written before θ stored Wᵀ), and load back.
    np.testing.assert_array_equal(net.__getstate__()["_theta"], new)
    back = pickle.loads(pickle.dumps(net))
    for (W, b), (W2, b2) in zip(net.params, back.params, strict=True):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)
    assert np.shares_memory(back.weights[1], back._theta)
    # Checkpoints: θ and the optimizer's θ-sized state arrays written as rows.
    X, y = _data(rng, 30, 5, "multiclass", 3)
    trainer = mlplab.Trainer(net, _opt.momentum(0.1), seed=0)
    trainer.fit(X, y, epochs=2, batch_size=8, checkpoint=tmp_path / "ck.npz")
    ck = read_checkpoint(tmp_path / "ck.npz")
    np.testing.assert_array_equal(ck.arrays["theta"], net.get_flat_params())
    np.testing.assert_array_equal(ck.arrays["opt_1"], net._to_rows(trainer.opt_state.v))
    np.testing.assert_array_equal(net._from_rows(net._to_rows(net._theta)), net._theta)
