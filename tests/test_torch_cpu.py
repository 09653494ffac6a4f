"""The PyTorch CPU step (issue 19, ``train/torch_cpu.py``): fused kernels and an in-place
sgd/momentum step, checked on the host, equal to the NumPy path up to rounding."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.core import optimizers as O
from mlplab.train import torch_cpu
from mlplab.train.callbacks import Callback, ReduceLROnPlateau

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")


class _Spy(Callback):
    """Records which gradient and step the trainer used."""

    def on_train_begin(self, logs=None):
        self.guard = self.trainer._stepper.guard

    def on_epoch_end(self, epoch, logs=None):
        self.fused = self.trainer.gradient._torch is not None


def _data(head, rng, n=40):
    X = rng.normal(size=(n, 4))
    if head == "multiclass":
        return X, rng.integers(0, 3, n)
    if head == "binary":
        return X, rng.integers(0, 2, n)
    return X, rng.normal(size=(n, 2))


def _fit(net, X, y, opt, callbacks=(), **kw):
    trainer = mlplab.Trainer(net, opt, list(callbacks), seed=3)
    return trainer, trainer.fit(X, y, epochs=3, batch_size=8, **kw)


@pytest.mark.parametrize("head", ["multiclass", "binary", "regression"])
@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "identity"])
@pytest.mark.parametrize("opt", [lambda: O.momentum(0.1, 0.9), lambda: O.sgd(0.05)])
def test_fused_step_equals_numpy(head, act, opt):
    rng = np.random.default_rng(0)
    X, y = _data(head, rng)
    k = {"multiclass": 3, "binary": 1, "regression": 2}[head]
    ref = mlplab.Network([4, 6, 5, k], hidden=act, output=head, seed=1, dtype="float64")
    net = ref.copy()
    _, h0 = _fit(ref, X, y, opt(), validation_data=(X[:10], y[:10]))
    spy = _Spy()
    _, h1 = _fit(net, torch.asarray(X), torch.asarray(y), opt(), [spy],
                 validation_data=(torch.asarray(X[:10]), torch.asarray(y[:10])))  # fmt: skip
    assert spy.fused and isinstance(spy.guard, torch_cpu.TorchMomentumStep)
    for key, values in h0.history.items():
        np.testing.assert_allclose(h1.history[key], values, rtol=1e-10, atol=1e-13, err_msg=key)
    theta = net.get_flat_params().numpy()
    np.testing.assert_allclose(theta, ref.get_flat_params(), rtol=1e-10, atol=1e-13)


def test_other_activations_weights_and_optimizers_take_the_generic_path():
    """leaky_relu and sample weights: the generic gradient; adam: the generic step."""
    rng = np.random.default_rng(1)
    X, y = _data("binary", rng)
    for hidden, opt, w in [("leaky_relu", O.sgd(0.1), None), ("relu", O.adam(0.01), None),
                           ("relu", O.sgd(0.1), rng.uniform(0.5, 2, len(y)))]:  # fmt: skip
        ref = mlplab.Network([4, 5, 1], hidden=hidden, seed=0, dtype="float64")
        net = ref.copy()
        spy = _Spy()
        _, h0 = _fit(ref, X, y, opt, sample_weight=w)
        _, h1 = _fit(net, torch.asarray(X), torch.asarray(y), opt, [spy], sample_weight=w)
        assert spy.fused == (hidden == "relu" and w is None)
        assert isinstance(spy.guard, torch_cpu.TorchMomentumStep) == (opt.name == "sgd")
        np.testing.assert_allclose(h1.history["loss"], h0.history["loss"], rtol=1e-10)


def test_reduce_lr_on_plateau_scales_the_fused_step():
    rng = np.random.default_rng(2)
    X, y = _data("multiclass", rng)
    ref = mlplab.Network([4, 6, 3], output="multiclass", seed=0, dtype="float64")
    net = ref.copy()
    cb = lambda: ReduceLROnPlateau("loss", factor=0.5, patience=1, min_delta=10.0)  # noqa: E731
    _, h0 = _fit(ref, X, y, O.momentum(0.2), [cb()])
    _, h1 = _fit(net, torch.asarray(X), torch.asarray(y), O.momentum(0.2), [cb()])
    assert h0.history["lr"][-1] < 0.2  # the plateau did shrink α
    np.testing.assert_allclose(h1.history["lr"], h0.history["lr"])
    np.testing.assert_allclose(h1.history["loss"], h0.history["loss"], rtol=1e-10)


def _state(v):
    return O.MomentumState(4, torch.asarray(v, dtype=torch.float32))


def test_a_refused_step_changes_nothing_and_later_steps_neither():
    step = torch_cpu.TorchMomentumStep(O.momentum(0.1, 0.9))
    theta, v = torch.ones(3), [0.5, -0.5, 1.0]
    g = torch.tensor([1.0, float("nan"), 0.0])
    state = step(torch.tensor(0.3), g, _state(v), theta)
    assert not step.ok and step.applied == 0 and state.count == 5
    assert theta.tolist() == [1.0, 1.0, 1.0] and state.v.tolist() == v
    state = step(torch.tensor(0.3), torch.zeros(3), state, theta)  # refused from now on
    assert theta.tolist() == [1.0, 1.0, 1.0] and state.count == 6 and step.applied == 0
    step2 = torch_cpu.TorchMomentumStep(O.sgd(0.1))
    step2(torch.tensor(float("inf")), torch.zeros(3), O.EmptyState(0), theta)  # J = inf
    assert not step2.ok and theta.tolist() == [1.0, 1.0, 1.0]


def test_the_check_survives_a_sum_that_overflows():
    step = torch_cpu.TorchMomentumStep(O.sgd(1e-38))
    theta = torch.zeros(2)
    g = torch.tensor([3e38, 3e38])  # finite entries, Σ = inf in float32
    step(torch.tensor(0.0), g, O.EmptyState(0), theta)
    assert step.ok and step.applied == 1
    np.testing.assert_allclose(theta.numpy(), [-3.0, -3.0], rtol=1e-6)


def test_a_large_rate_whose_update_overflows_is_refused():
    step = torch_cpu.TorchMomentumStep(O.momentum(100.0, 0.5))
    theta, v = torch.zeros(2), [1e37, 0.0]
    state = step(torch.tensor(0.0), torch.tensor([1e37, 1.0]), _state(v), theta)
    assert not step.ok  # v = 1e37 is finite, α v = -1e39 is not
    assert theta.tolist() == [0.0, 0.0] and state.v.tolist() == pytest.approx(v)


def test_float32_wide_layers_train_like_numpy():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(64, 20)).astype(np.float32)
    y = rng.integers(0, 2, 64)
    ref = mlplab.Network([20, 32, 32, 1], seed=0)
    net = ref.copy()
    _, h0 = _fit(ref, X, y, O.momentum(0.1))
    _, h1 = _fit(net, torch.from_numpy(X), torch.from_numpy(y), O.momentum(0.1))
    assert net.get_flat_params().dtype == torch.float32
    np.testing.assert_allclose(h1.history["loss"], h0.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(h1.history["accuracy"], h0.history["accuracy"])


def test_fit_uses_a_ready_tensor_as_is_and_never_writes_into_it():
    """A float32 CPU tensor of the right shape with finite entries is trained on as it is
    (no copy, as NumPy's X: the copy and ``all(isfinite)`` cost a tenth of an mnist-shape
    epoch), and stays unchanged; anything else is still checked and converted."""
    rng = np.random.default_rng(0)
    X = torch.asarray(rng.normal(size=(30, 4)).astype(np.float32))
    y = torch.asarray(rng.integers(0, 2, 30))
    net = mlplab.Network([4, 5, 1], seed=0)
    net.to(X)
    assert net._prepare_X(X) is X
    before = X.clone()
    mlplab.fit(net, X, y, optimizer=O.momentum(0.1), epochs=3, batch_size=8)
    net.predict(X)
    assert torch.equal(X, before)
    assert net._prepare_X(X.T.contiguous().T) is not X  # any layout: used as it is too
    for other in (X.double(), X[:, :3]):
        if other.shape[1] != 4:
            with pytest.raises(ValueError, match="features"):
                net._prepare_X(other)
            continue
        Xc = net._prepare_X(other)
        assert Xc is not other and Xc.dtype == torch.float32
        assert torch.equal(Xc, X)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_ready_tensor_with_a_non_finite_entry_is_named(bad):
    X = torch.zeros((6, 3), dtype=torch.float32)
    X[4, 2] = bad
    net = mlplab.Network([3, 2, 1], seed=0)
    net.to(X)
    with pytest.raises(ValueError, match="row 4") as err:
        mlplab.fit(net, X, torch.asarray([0, 1] * 3), optimizer=O.sgd(0.1), epochs=1)
    assert "column 2" in str(err.value)


def test_scale_check_of_a_ready_tensor_reads_its_extremes():
    """The unnormalized-input warning and the overflow refusal use X's min and max."""
    net = mlplab.Network([2, 2, 1], seed=0)
    X = torch.tensor([[0.0, 1.0], [-3e5, 2.0]], dtype=torch.float32)
    net.to(X)
    with pytest.warns(UserWarning, match="row 1, column 0"):
        mlplab.fit(net, X, torch.asarray([0, 1]), optimizer=O.sgd(0.01), epochs=1)
    X[1, 0] = -1e17
    with pytest.raises(ValueError, match="row 1, column 0"):
        mlplab.fit(net, X, torch.asarray([0, 1]), optimizer=O.sgd(0.01), epochs=1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_momentum_kernel_equals_the_two_calls(dtype):
    """v ← βv + (1−β)g, θ ← θ − αv through PyTorch's fused SGD kernel (one pass) or, where
    it is missing, two in-place calls: the same numbers up to rounding, in θ's dtype."""
    fused = torch_cpu.TorchMomentumStep(O.momentum(0.5, 0.9))
    assert fused.fused is not None  # this PyTorch has the kernel: the path under test
    plain = torch_cpu.TorchMomentumStep(O.momentum(0.5, 0.9))
    plain.fused = None
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(1000, generator=gen, dtype=dtype)
    v = torch.randn(1000, generator=gen, dtype=dtype)
    states = [O.MomentumState(4, v.clone()), O.MomentumState(4, v.clone())]
    thetas = [theta.clone(), theta.clone()]
    for _ in range(5):
        g = torch.randn(1000, generator=gen, dtype=dtype)
        states = [step(torch.tensor(0.3), g, st, th) for step, st, th
                  in zip((fused, plain), states, thetas, strict=True)]  # fmt: skip
    assert fused._fused_ok == {dtype: True} and fused.applied == plain.applied == 5
    tol = 1e-6 if dtype == torch.float32 else 1e-14
    assert thetas[0].dtype == states[0].v.dtype == dtype
    torch.testing.assert_close(thetas[0], thetas[1], rtol=tol, atol=tol)
    torch.testing.assert_close(states[0].v, states[1].v, rtol=tol, atol=tol)
    assert not torch.equal(thetas[0], theta)  # the steps were taken


def test_a_fused_kernel_that_does_another_update_is_not_used():
    """The kernel is tried once per dtype on known numbers; one that refuses the tensors or
    computes something else (another PyTorch's semantics) leaves the two calls in charge."""

    def refuses(*args, **kwargs):
        raise RuntimeError("fused=True requires CUDA tensors")

    def other(params, grads, bufs, **kwargs):
        params[0].sub_(grads[0])  # plain SGD, no momentum buffer

    for kernel in (refuses, other):
        step = torch_cpu.TorchMomentumStep(O.momentum(0.5, 0.5))
        step.fused = kernel
        theta = torch.ones(3)
        state = step(torch.tensor(0.0), torch.full((3,), 3.0), _state([1.0, 1.0, 1.0]), theta)
        assert step._fused_ok == {torch.float32: False}
        assert state.v.tolist() == [2.0] * 3 and theta.tolist() == [0.0] * 3


@pytest.mark.parametrize("batch_size", [16, 44])  # a short last batch; one batch of all rows
@pytest.mark.parametrize("head", ["multiclass", "binary", "regression"])
def test_buffers_per_batch_size_train_like_numpy(head, batch_size):
    """The gathered rows, z/a, da, g' and the head's output live in tensors kept per batch
    size: a fit with a short last batch (16, 16, 12) or with every row in one batch gives
    NumPy's numbers, and the tensors are made once per size, not once per step."""
    rng = np.random.default_rng(5)
    X, y = _data(head, rng, n=44)
    k = {"multiclass": 3, "binary": 1, "regression": 2}[head]
    ref = mlplab.Network([4, 7, 5, k], seed=2, output=head, dtype="float64")
    net = ref.copy()
    kw = {"epochs": 3, "batch_size": batch_size}
    h0 = mlplab.Trainer(ref, O.momentum(0.1), seed=3).fit(X, y, **kw)
    trainer = mlplab.Trainer(net, O.momentum(0.1), seed=3)
    made = []
    original = torch_cpu._Buffers.__init__

    def counted(self, *args, **kwargs):
        made.append(args[2])  # m
        original(self, *args, **kwargs)

    torch_cpu._Buffers.__init__ = counted
    try:
        h1 = trainer.fit(torch.asarray(X), torch.asarray(y), **kw)
    finally:
        torch_cpu._Buffers.__init__ = original
    assert sorted(made) == ([12, 16] if batch_size == 16 else [44])
    for key, values in h0.history.items():
        np.testing.assert_allclose(h1.history[key], values, rtol=1e-10, atol=1e-13, err_msg=key)
    np.testing.assert_allclose(net.get_flat_params().numpy(), ref.get_flat_params(), rtol=1e-10)


def test_relu_derivative_keeps_inf_times_zero_a_nan():
    """ReLU'(z) is taken as sign(a), a = max(z, 0): where a = 0 an infinite da gives NaN
    (inf·0), as the NumPy path's mask [z > 0] does, so the step is refused; a
    ``threshold_backward``-style select would give 0 there and take the step."""
    net = mlplab.Network([2, 2, 1], output="regression", seed=0)
    X = torch.tensor([[1.0, 1.0]])
    net.to(X)
    (W1, b1), (W2, b2) = net._params
    W1[...] = torch.tensor([[-1.0, -1.0], [1.0, 1.0]])  # z[1] = (−2, 2): a[1] = (0, 2)
    W2[...] = torch.tensor([[1e30, 1.0]])
    b1[...], b2[...] = 0.0, 0.0
    g = torch.zeros_like(net._theta)
    grads = net._views(g)
    grad = torch_cpu.TorchGradient(net, grads)
    J, m, _ = grad(X, torch.tensor([[-1e10]]), None, None)  # dZ[2] = 1e10: da[1] = (inf, 1e10)
    assert m == 1 and torch.isfinite(J)
    dW1 = grads[0].W
    assert torch.isnan(dW1[0]).all() and torch.isfinite(dW1[1]).all()
    step = torch_cpu.TorchMomentumStep(O.sgd(0.1))
    theta = net._theta.clone()
    step(J, g, O.EmptyState(0), net._theta)
    assert not step.ok and torch.equal(net._theta, theta)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_extremes_read_min_and_max_with_non_finite_entries(lib):
    """_array_api.extremes (PyTorch: one aminmax pass): NaN makes both NaN, ±inf shows."""
    from mlplab import _array_api

    make = np.asarray if lib == "numpy" else torch.asarray
    assert _array_api.extremes(make([[2.0, -3.0], [0.5, 7.0]])) == (-3.0, 7.0)
    lo, hi = _array_api.extremes(make([[2.0, float("nan")], [0.5, 7.0]]))
    assert np.isnan(lo) and np.isnan(hi)
    assert _array_api.extremes(make([[-np.inf, 1.0]])) == (-np.inf, 1.0)
    assert _array_api.extremes(make([[np.inf, 1.0]])) == (1.0, np.inf)


def test_cached_views_follow_replaced_gradient_views():
    """The per-layer views are made once, and again when the trainer replaces its gradient
    views in place (``grads[:] = ...``, as when θ moves): the new vector is written."""
    net = mlplab.Network([3, 4, 2], output="multiclass", seed=0)
    X = torch.asarray(np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32))
    net.to(X)
    Y = torch.eye(2)[[0, 1, 1, 0, 1, 0]]
    g1, g2 = torch.zeros_like(net._theta), torch.zeros_like(net._theta)
    grads = net._views(g1)
    grad = torch_cpu.TorchGradient(net, grads)
    grad(X, Y, None, None)
    first = g1.clone()
    assert first.abs().sum() > 0
    grads[:] = net._views(g2)
    grad(X, Y, None, None)
    assert torch.equal(g2, first) and torch.equal(g1, first)
