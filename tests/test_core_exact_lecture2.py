"""Exact tests of the next lecture's core (dropout, batch norm) that mutation testing asked for.

Issue 21: each test here kills a mutant that the module's other tests let survive.
"""

import numpy as np
import pytest

from mlplab.core import batchnorm as B
from mlplab.core import dropout as D


class _Draws:
    """A stand-in Generator whose ``random`` returns given uniforms (u in [0, 1))."""

    def __init__(self, u):
        self.u = np.asarray(u, dtype=np.float64)

    def random(self, shape):
        return self.u.reshape(shape)


def test_dropout_keeps_a_unit_exactly_when_u_is_below_p():
    """d = [u < p]: P(d = 1) = p for u ~ U[0, 1); a draw equal to p is dropped."""
    mask = D.dropout_mask(_Draws([0.0, 0.25, 0.5, 0.75]), (2, 2), 0.5, np.float64)
    np.testing.assert_array_equal(mask, [[2.0, 2.0], [0.0, 0.0]])
    mask = D.dropout_mask(_Draws([0.8, 0.79]), (1, 2), 0.8, np.float32)
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask, np.array([[0.0, 1 / 0.8]], dtype=np.float32))


def _bn(gamma, beta, mean, var, eps):
    return B.BatchNorm(
        B.BNParams(np.asarray(gamma), np.asarray(beta)),
        B.BNStats(np.asarray(mean), np.asarray(var)),
        eps,
    )


def test_running_averages_exact_for_one_and_several_rows():
    """σ² takes the unbiased batch variance m/(m−1)·σ²_B, and σ²_B itself for m = 1."""
    running = B.BNStats(np.array([1.0, -2.0]), np.array([4.0, 1.0]))
    mean, var = np.array([3.0, 0.0]), np.array([2.0, 0.5])
    out = B.update_running(running, mean, var, 1, 0.75)
    np.testing.assert_array_equal(out.mean, [0.75 * 1 + 0.25 * 3, 0.75 * -2 + 0.0])
    np.testing.assert_array_equal(out.var, [0.75 * 4 + 0.25 * 2, 0.75 * 1 + 0.25 * 0.5])
    out = B.update_running(running, mean, var, 2, 0.75)
    np.testing.assert_array_equal(out.var, [0.75 * 4 + 0.25 * 4, 0.75 * 1 + 0.25 * 1])
    out = B.update_running(running, mean, var, 4, 0.5)
    np.testing.assert_allclose(out.var, [0.5 * 4 + 0.5 * 8 / 3, 0.5 * 1 + 0.5 * 2 / 3])
    np.testing.assert_array_equal(out.mean, [2.0, -1.0])


def test_batch_moments_and_forward_exact():
    Z = np.array([[1.0, 10.0], [3.0, 10.0], [8.0, 13.0]])
    mean, var = B.batch_moments(Z)
    np.testing.assert_array_equal(mean, [4.0, 11.0])
    np.testing.assert_array_equal(var, [(9 + 1 + 16) / 3, (1 + 1 + 4) / 3])  # biased: 1/m
    bn = _bn([2.0, 0.5], [1.0, -1.0], [0.0, 10.0], [3.0, 0.25], 1.0)
    Zt, cache = B.batchnorm_forward(Z, bn, training=False)  # the running averages, ε = 1
    np.testing.assert_allclose(Zt[:, 0], 2.0 * Z[:, 0] / 2.0 + 1.0, rtol=1e-15)
    np.testing.assert_allclose(Zt[:, 1], 0.5 * (Z[:, 1] - 10.0) / np.sqrt(1.25) - 1.0)
    assert cache.training is False
    np.testing.assert_array_equal(cache.mean, [0.0, 10.0])
    np.testing.assert_array_equal(cache.var, [3.0, 0.25])
    Zt, cache = B.batchnorm_forward(Z, bn, training=True)  # the batch's μ_B, σ²_B
    assert cache.training is True
    np.testing.assert_array_equal(cache.mean, mean)
    np.testing.assert_allclose(cache.inv_std, 1 / np.sqrt(var + 1.0), rtol=1e-15)
    np.testing.assert_allclose(Zt, [2.0, 0.5] * (Z - mean) / np.sqrt(var + 1.0) + [1.0, -1.0])


def test_batchnorm_backward_exact_in_both_modes():
    rng = np.random.default_rng(4)
    Z, dZt = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    bn = _bn([2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [0.5, 0.0, -1.0], [2.0, 1.0, 0.5], 1e-3)
    for training in (True, False):
        Zt, cache = B.batchnorm_forward(Z, bn, training)
        dZ, grads = B.batchnorm_backward(dZt, cache)
        np.testing.assert_allclose(grads.beta, dZt.sum(axis=0), rtol=1e-14)
        np.testing.assert_allclose(grads.gamma, (dZt * cache.Z_hat).sum(axis=0), rtol=1e-14)
        sigma, gamma, m = 1 / cache.inv_std, bn.params.gamma, Z.shape[0]
        if training:  # the collected form: (γ/σ)(dz̃ − dβ/m − ẑ ⊙ dγ/m)
            want = gamma / sigma * (dZt - grads.beta / m - cache.Z_hat * grads.gamma / m)
        else:  # μ, σ² constants: dẑ/σ
            want = dZt * gamma / np.sqrt(bn.running.var + bn.eps)
        np.testing.assert_allclose(dZ, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_bn_starts_at_one_zero_zero_one(dtype):
    params, stats = B.init_bn(3, dtype)
    for array, value in [(params.gamma, 1), (params.beta, 0), (stats.mean, 0), (stats.var, 1)]:
        assert array.dtype == dtype and array.shape == (3,) and (array == value).all()
    assert B.BatchNorm(params, stats).eps == 1e-5


def test_batchnorm_in_another_array_library():
    xps = pytest.importorskip("array_api_strict")
    pytest.importorskip("array_api_compat")
    rng = np.random.default_rng(5)
    Z, dZt = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    bn = _bn([2.0, 0.5, 1.0], [0.1, 0.2, 0.3], [0.5, 0.0, -1.0], [2.0, 1.0, 0.5], 1e-3)
    bn_s = B.BatchNorm(
        B.BNParams(*(xps.asarray(a) for a in bn.params)),
        B.BNStats(*(xps.asarray(a) for a in bn.running)),
        bn.eps,
    )
    for training in (True, False):
        Zt, cache = B.batchnorm_forward(Z, bn, training)
        Zt_s, cache_s = B.batchnorm_forward(xps.asarray(Z), bn_s, training)
        assert type(Zt_s) is type(xps.asarray(Z))
        np.testing.assert_allclose(np.asarray(Zt_s), Zt, rtol=1e-14)
        dZ, grads = B.batchnorm_backward(dZt, cache)
        dZ_s, grads_s = B.batchnorm_backward(xps.asarray(dZt), cache_s)
        np.testing.assert_allclose(np.asarray(dZ_s), dZ, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(grads_s.gamma), grads.gamma, rtol=1e-13)
    mean, var = B.batch_moments(xps.asarray(Z))
    np.testing.assert_allclose(np.asarray(var), Z.var(axis=0), rtol=1e-14)
