"""The compiled steps for small networks (mlplab.fast.compiled, train/compiled.py; the
optional extra [numba]) run the NumPy path's equations: the same losses and parameters
to float rounding, the same divergence error, exact resume from checkpoints, bit-identical
reruns, and the NumPy path wherever they do not apply."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.core import optimizers as opt
from mlplab.fast import compiled
from mlplab.train import compiled as train_compiled
from mlplab.train.callbacks import Callback
from mlplab.train.divergence import DivergenceError

pytest.importorskip("numba")


def _data(n=150, d=5, head="binary", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if head == "multiclass":
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    elif head == "regression":
        y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] ** 2])
    else:
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _fit(monkeypatch, mode, sizes, head, hidden, optimizer, dtype, l2=0.0, **kw):
    monkeypatch.setenv("MLPLAB_COMPILED", mode)
    X, y = _data(head=head)
    net = mlplab.Network(sizes, hidden=hidden, output=head, seed=3, dtype=dtype, l2=l2)
    trainer = mlplab.Trainer(net, optimizer, seed=1)
    history = trainer.fit(X.astype(dtype), y, **kw)
    return net, trainer, history


CASES = [
    ([5, 8, 1], "binary", "relu", opt.momentum(0.3, 0.9), 0.0, 16),
    ([5, 8, 6, 3], "multiclass", "tanh", opt.sgd(0.2), 0.01, 32),
    ([5, 7, 2], "regression", "sigmoid", opt.momentum(0.05, 0.8), 0.1, 40),
    ([5, 4, 1], "binary", ["identity"], opt.sgd(0.1), 0.0, None),  # batch GD
]


@pytest.mark.parametrize(("sizes", "head", "hidden", "optimizer", "l2", "batch"), CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compiled_steps_equal_the_numpy_path(
    monkeypatch, sizes, head, hidden, optimizer, l2, batch, dtype
):
    args = (sizes, head, hidden, optimizer, dtype, l2)
    kw = {"epochs": 4, "batch_size": batch}
    net_np, tr_np, h_np = _fit(monkeypatch, "never", *args, **kw)
    net_c, tr_c, h_c = _fit(monkeypatch, "always", *args, **kw)
    tol = 1e-10 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(h_c.history["loss"], h_np.history["loss"], rtol=tol)
    if head != "regression":
        assert h_c.history["accuracy"] == h_np.history["accuracy"]
    np.testing.assert_allclose(net_c._theta, net_np._theta, rtol=tol, atol=tol)
    assert tr_c.step == tr_np.step
    assert tr_c.opt_state.count == tr_np.opt_state.count
    if hasattr(tr_np.opt_state, "v"):
        np.testing.assert_allclose(tr_c.opt_state.v, tr_np.opt_state.v, rtol=tol, atol=tol)


def test_the_compiled_path_is_really_taken_and_reruns_bit_for_bit(monkeypatch):
    calls = []
    real = compiled.Kernel.run
    monkeypatch.setattr(compiled.Kernel, "run", lambda self, *a: calls.append(1) or real(self, *a))
    args = ([5, 8, 1], "binary", "relu", opt.momentum(0.3, 0.9), "float32")
    a, _, _ = _fit(monkeypatch, "always", *args, epochs=3, batch_size=16)
    b, _, _ = _fit(monkeypatch, "always", *args, epochs=3, batch_size=16)
    assert len(calls) == 6  # one call per epoch of 10 batches (< CHUNK)
    assert a._theta.tobytes() == b._theta.tobytes()


def test_divergence_is_refused_at_the_same_step_with_the_same_parameters(monkeypatch):
    args = ([5, 8, 1], "regression", "relu", opt.sgd(1e6), "float32")
    errors, thetas = [], []
    for mode in ("never", "always"):
        monkeypatch.setenv("MLPLAB_COMPILED", mode)
        X, y = _data(head="binary")
        y = y * 1e30
        net = mlplab.Network(args[0], hidden="relu", output="regression", seed=3)
        with pytest.raises(DivergenceError) as info:
            mlplab.Trainer(net, args[3], seed=1).fit(X, y, epochs=3, batch_size=16)
        errors.append(info.value)
        thetas.append(net._theta.copy())
        assert np.isfinite(net._theta).all()
    assert (errors[0].epoch, errors[0].step) == (errors[1].epoch, errors[1].step)
    assert str(errors[0]).split(":")[0] == str(errors[1]).split(":")[0]
    np.testing.assert_allclose(thetas[1], thetas[0], rtol=1e-5)


def test_checkpoints_every_k_steps_resume_exactly(monkeypatch, tmp_path):
    monkeypatch.setenv("MLPLAB_COMPILED", "always")
    X, y = _data()
    path = tmp_path / "run.npz"

    def run(epochs, **kw):
        net = mlplab.Network([5, 8, 1], seed=3)
        tr = mlplab.Trainer(net, opt.momentum(0.3, 0.9), seed=1)
        tr.fit(X, y, epochs=epochs, batch_size=16, **kw)
        return net, tr

    straight, _ = run(5)
    _, first = run(2, checkpoint=path, checkpoint_every=7)  # 20 steps: checkpoints at 7, 14
    assert first.step == 20
    resumed, tr = run(5, checkpoint=path, checkpoint_every=7, resume=True)
    assert tr.step == 50
    assert resumed._theta.tobytes() == straight._theta.tobytes()


def test_where_it_does_not_apply_the_numpy_loop_runs(monkeypatch):
    X, y = _data()

    class PerBatch(Callback):
        def on_batch_end(self, batch, logs=None):
            pass

    def chosen(mode, callbacks=(), optimizer=None, epochs=2, sizes=(5, 8, 1), **kw):
        monkeypatch.setenv("MLPLAB_COMPILED", mode)
        net = mlplab.Network(list(sizes), seed=3)
        tr = mlplab.Trainer(net, optimizer or opt.sgd(0.1), callbacks=list(callbacks))
        seen = []
        real = train_compiled.for_run
        monkeypatch.setattr(train_compiled, "for_run", lambda *a: seen.append(real(*a)) or seen[-1])
        tr.fit(X, y, epochs=epochs, batch_size=16, **kw)
        monkeypatch.setattr(train_compiled, "for_run", real)
        return seen[0] is not None

    assert chosen("always")
    assert not chosen("never")
    monkeypatch.setattr(compiled, "MIN_STEPS", 30)
    assert not chosen("auto")  # 2 epochs of 10 steps < MIN_STEPS
    assert chosen("auto", epochs=3)
    assert not chosen("always", callbacks=[PerBatch()])
    assert not chosen("always", optimizer=opt.adam(0.01))
    assert not chosen("always", sample_weight=np.ones(len(y)))
    assert not chosen("always", sizes=(5, 300, 200, 1))  # > MAX_PARAMS parameters


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_step_flushes_only_subnormal_velocities_to_zero(dtype):
    from mlplab.fast import _compiled_kernel as kernel

    tiny = np.finfo(dtype).tiny
    lr, beta = dtype(0.1), dtype(0.9)
    one_m = dtype(1 - beta)
    v = np.array([tiny * 1.05, -tiny * 1.05, tiny * 4, 1e-3, -0.5, 0.0, tiny / 8], dtype)
    g = np.array([0.0, 0.0, 0.0, 0.25, 1.0, 0.0, 0.0], dtype)
    theta = np.linspace(-1, 1, v.size).astype(dtype)
    v_np = beta * v + one_m * g  # the NumPy step: the first two and the last are subnormal
    subnormal = (v_np != 0) & (np.abs(v_np) < tiny)
    assert subnormal.tolist() == [True, True, False, False, False, False, True]
    v_want = np.where(subnormal, dtype(0), v_np)
    theta_want = theta - lr * v_want
    assert kernel._finite_after(theta, v, g, lr, beta, one_m, dtype(tiny))
    kernel._apply(theta, v, g, lr, beta, one_m, dtype(tiny))
    assert v.tobytes() == v_want.tobytes()  # flushed entries 0, the others bit for bit
    assert theta.tobytes() == theta_want.tobytes()


def test_a_step_that_would_overflow_is_found_before_anything_changes():
    from mlplab.fast import _compiled_kernel as kernel

    f = np.float32
    theta, v = np.array([1.0, -3e38], f), np.zeros(2, f)
    g = np.array([0.0, 1e38], f)
    before = theta.copy(), v.copy()
    assert not kernel._finite_after(theta, v, g, f(10), f(0.9), f(0.1), f(np.finfo(f).tiny))
    assert not kernel._finite_after(theta, v, g, f(10), f(0), f(1), f(np.finfo(f).tiny))
    g_nan = np.array([np.nan, 0.0], f)  # a NaN gradient is not flushed away as "tiny"
    assert not kernel._finite_after(theta, v, g_nan, f(0.1), f(0.9), f(0.1), f(1e-38))
    assert theta.tobytes() == before[0].tobytes() and v.tobytes() == before[1].tobytes()
