"""Exact tests of ``core/heads.py`` that mutation testing asked for (issue 21)."""

import numpy as np
import pytest

from mlplab.core import heads


def test_log_softmax_shifts_each_row_by_its_own_maximum():
    """Rows 1000 apart: one global maximum would give e^{-1000} = 0 and log(0) in row 0."""
    Z = np.array([[0.0, 0.0], [1000.0, 0.0]])
    Y = np.array([[1.0, 0.0], [1.0, 0.0]])
    J, dZ = heads.multiclass.loss_and_grad(Z.copy(), Y)
    # row 0: log 2; row 1: log(1 + e^{-1000}) = 0 (to double precision)
    assert J == pytest.approx(np.log(2) / 2, rel=1e-15)
    assert heads.multiclass.loss(Z, Y) == pytest.approx(np.log(2) / 2, rel=1e-15)
    np.testing.assert_allclose(dZ, [[-0.25, 0.25], [0.0, 0.0]], atol=1e-300)
    np.testing.assert_allclose(heads.per_sample_loss("multiclass", Z, Y), [np.log(2), 0.0])
    np.testing.assert_allclose(heads.softmax(Z), [[0.5, 0.5], [1.0, 0.0]])


def test_get_messages_name_the_problem():
    with pytest.raises(TypeError, match="^output must be a head name or a Head, got int$"):
        heads.get(3)
    with pytest.raises(ValueError, match=r"^unknown output head 'sigmoid'; choose one of \["):
        heads.get("sigmoid")
    assert heads.get(" Binary ") is heads.binary
    assert heads.get(heads.poisson) is heads.poisson


def test_binary_cross_entropy_of_integer_probabilities_clips_at_1e_15():
    """0/1 integers have no machine epsilon: a is clipped into [1e-15, 1 − 1e-15]."""
    A, Y = np.array([[0], [1]]), np.array([[1.0], [0.0]])
    want = (-np.log(1e-15) - np.log1p(-(1 - 1e-15))) / 2  # 1 − 1e-15 rounds in float64
    assert heads.binary_cross_entropy(A, Y) == pytest.approx(want, rel=1e-14)


def test_poisson_loss_with_fractional_targets():
    """y log y for 0 < y < 1 is negative and counts (rates need not be integers)."""
    Z, Y = np.array([[0.0], [1.0]]), np.array([[0.5], [0.25]])
    terms = Y * np.log(Y) - Y * Z - Y + np.exp(Z)
    assert heads.poisson.loss(Z, Y) == pytest.approx(terms.mean(), rel=1e-14)
    np.testing.assert_allclose(heads.per_sample_loss("poisson", Z, Y), terms[:, 0], rtol=1e-14)


@pytest.mark.parametrize("w", [np.array([0.25, 0.25]), np.array([0.5, 0.5]), np.array([1.0, 0.0])])
def test_weights_summing_to_at_most_one(w):
    """Σw in (0, 1] is a weighting like any other: J = Σ w L / Σw, dZ = w (a − y) / Σw."""
    Z, Y = np.array([[0.5], [-1.0]]), np.array([[1.0], [0.0]])
    L = np.logaddexp(0, Z[:, 0]) - Y[:, 0] * Z[:, 0]
    J, dZ = heads.weighted_loss_and_grad(heads.binary, Z.copy(), Y, w)
    assert J == pytest.approx((w @ L) / w.sum(), rel=1e-14)
    a = 1 / (1 + np.exp(-Z))
    np.testing.assert_allclose(dZ, w[:, None] * (a - Y) / w.sum(), rtol=1e-14)
    xps = pytest.importorskip("array_api_strict")
    pytest.importorskip("array_api_compat")
    J_s, dZ_s = heads.weighted_loss_and_grad(
        heads.binary, xps.asarray(Z), xps.asarray(Y), xps.asarray(w)
    )
    assert float(J_s) == pytest.approx(J, rel=1e-14)
    np.testing.assert_allclose(np.asarray(dZ_s), dZ, rtol=1e-14)


def test_weighted_gradient_scales_in_the_gradients_dtype():
    """The row factors n·w/Σw are cast to dZ's dtype (float32) before they multiply it."""
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(64, 1)).astype(np.float32)
    Y = (rng.random((64, 1)) < 0.5).astype(np.float32)
    w = rng.random(64) * 3
    _, dZ0 = heads.binary.loss_and_grad(Z.copy(), Y)
    _, dZ = heads.weighted_loss_and_grad(heads.binary, Z.copy(), Y, w)
    assert dZ.dtype == np.float32
    np.testing.assert_array_equal(dZ, dZ0 * (w * (64 / w.sum())).astype(np.float32)[:, None])
