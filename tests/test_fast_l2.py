"""The trainer's L2 term through buffers (mlplab.fast.kernels.l2_into) is bit for bit the
pure one (core l2_penalty and dW += (λ/n) W), so trained models and checkpoints stay the
same to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.core import backprop as _bp
from mlplab.fast import kernels as _kernels
from mlplab.train.step import add_l2


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes", [[64, 100, 10], [5, 7, 3, 2], [300, 40, 2]])
@pytest.mark.parametrize("size", [200, 37.25])
def test_l2_into_is_bit_for_bit_the_pure_l2_term(dtype, sizes, size):
    rng = np.random.default_rng(len(sizes))
    net = mlplab.Network(sizes, output="multiclass", seed=1, dtype=dtype, l2=1e-4)
    net._theta[...] = rng.normal(size=net._theta.shape) * 3
    lam = 0.37
    g0 = rng.normal(size=net._theta.shape).astype(dtype)
    g_pure = g0.copy()
    J_pure = 0.5 + _bp.l2_penalty(net._params, lam, size)
    for g, p in zip(net._views(g_pure), net._params, strict=True):
        g.W[...] += (lam / size) * p.W
    scratch: list[np.ndarray] = []
    for _ in range(2):  # the second call reuses the buffers
        g_fast = g0.copy()
        J_fast = 0.5 + _kernels.l2_into(net._params, net._views(g_fast), lam, size, scratch)
        assert J_fast == J_pure and type(J_fast) is float
        np.testing.assert_array_equal(g_fast, g_pure)
    assert len(scratch) == len(net._params)
    for b, p in zip(scratch, net._params, strict=True):  # W[l]'s layout: its sum order
        assert b.flags.f_contiguous == p.W.flags.f_contiguous


def test_trainer_l2_uses_buffers_and_trains_to_the_same_bits():
    """A fit with the trainer's buffers gives exactly the θ and losses of one without."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(90, 6)), rng.integers(0, 3, 90)
    runs = []
    for buffers in (True, False):
        net = mlplab.Network([6, 9, 3], output="multiclass", seed=0, l2=0.01)
        trainer = mlplab.Trainer(net, mlplab.optimizers.adam(0.01), seed=0)
        if not buffers:
            trainer._l2 = None  # add_l2's pure form
        hist = trainer.fit(X, y, epochs=3, batch_size=16)
        runs.append((net._theta.copy(), hist.history["loss"], trainer._l2))
    (t1, l1, scratch), (t2, l2, _) = runs
    assert scratch and len(scratch) == 2  # the buffers were used
    np.testing.assert_array_equal(t1, t2)
    assert l1 == l2


def test_add_l2_without_buffers_is_unchanged():
    net = mlplab.Network([3, 4, 2], output="multiclass", seed=0, l2=0.5)
    grads = net._views(np.zeros_like(net._theta))
    J = add_l2(net, grads, 1.0, 10)
    assert J == 1.0 + _bp.l2_penalty(net._params, 0.5, 10)
    np.testing.assert_array_equal(grads[0].W, (0.5 / 10) * net._params[0].W)
