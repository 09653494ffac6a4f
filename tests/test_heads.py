import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlplab.core import heads
from mlplab.core.activations import sigmoid


def _one_hot(labels, k):
    Y = np.zeros((len(labels), k))
    Y[np.arange(len(labels)), labels] = 1
    return Y


def _targets(head, n, k, rng):
    if head == "binary":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if head == "multiclass":
        return _one_hot(rng.integers(0, k, size=n), k)
    if head == "poisson":  # counts, zeros included
        return rng.poisson(2.0, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


@settings(max_examples=60)
@given(
    head=st.sampled_from(["binary", "multiclass", "regression", "poisson"]),
    n=st.integers(1, 6),
    k=st.integers(2, 4),
    seed=st.integers(0, 2**16),
)
def test_gradient_matches_finite_differences_of_the_loss(head, n, k, seed):
    rng = np.random.default_rng(seed)
    h = heads.get(head)
    Z = rng.normal(size=(n, k)) * 3
    Y = _targets(head, n, k, rng)
    J, dZ = h.loss_and_grad(Z, Y)
    assert J == pytest.approx(h.loss(Z, Y))
    eps = 1e-6
    num = np.zeros_like(Z)
    for idx in np.ndindex(*Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += eps
        Zm[idx] -= eps
        num[idx] = (h.loss(Zp, Y) - h.loss(Zm, Y)) / (2 * eps)
    np.testing.assert_allclose(dZ, num, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("head", ["binary", "multiclass", "regression", "poisson"])
def test_gradient_is_a_minus_y_over_n(head, rng):
    h = heads.get(head)
    Z = rng.normal(size=(5, 3))
    Y = _targets(head, 5, 3, rng)
    _, dZ = h.loss_and_grad(Z, Y)
    np.testing.assert_allclose(dZ, (h.link(Z) - Y) / 5, rtol=1e-12)


def test_binary_head_equals_lecture_cross_entropy(rng):
    Z = rng.normal(size=(40, 1)) * 2
    Y = rng.integers(0, 2, size=(40, 1)).astype(float)
    A = sigmoid.forward(Z)
    lecture = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    assert heads.binary.loss(Z, Y) == pytest.approx(lecture, rel=1e-10)
    assert heads.binary_cross_entropy(A, Y) == pytest.approx(lecture, rel=1e-10)


def test_multiclass_loss_is_cross_entropy_of_softmax(rng):
    Z = rng.normal(size=(8, 4))
    labels = rng.integers(0, 4, size=8)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(P[np.arange(8), labels]))
    assert heads.multiclass.loss(Z, _one_hot(labels, 4)) == pytest.approx(expected, rel=1e-10)


def test_multi_output_regression_loss_and_gradient_agree(rng):
    # scikit-learn #8349: a loss averaged over outputs with a gradient summed over them.
    Z = rng.normal(size=(6, 3))
    Y = rng.normal(size=(6, 3))
    J, dZ = heads.regression.loss_and_grad(Z, Y)
    assert J == pytest.approx(((Z - Y) ** 2).sum() / (2 * 6))
    t = 1e-3  # J(Z - t dZ) ≈ J - t ‖dZ‖²: the gradient is the loss's own
    assert heads.regression.loss(Z - t * dZ, Y) == pytest.approx(J - t * (dZ**2).sum(), rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e3, 1e4])
@pytest.mark.parametrize("head", ["binary", "multiclass"])
def test_classification_heads_stay_finite_at_large_logits(head, scale, dtype):
    h = heads.get(head)
    Z = np.array([[scale, -scale, 0.5], [-scale, scale, -0.5]], dtype=dtype)
    Y = np.array([[1, 0, 0], [1, 0, 0]], dtype=dtype)
    with np.errstate(all="raise", under="ignore"):
        J, dZ = h.loss_and_grad(Z, Y)
    assert np.isfinite(J) and J >= 0
    assert dZ.dtype == dtype and np.isfinite(dZ).all()
    assert np.abs(dZ).max() <= 1 / Z.shape[0] + 1e-6
    # the confidently wrong sample costs about |z| (log(1+e^z) ≈ z), not inf
    assert J == pytest.approx(scale, rel=0.05) if head == "binary" else J > scale / 2


@settings(max_examples=50)
@given(Z=arrays(np.float64, (3, 2), elements=st.floats(-1e4, 1e4)))
def test_binary_loss_nonnegative_and_bounded_gradient(Z):
    Y = np.array([[0, 1], [1, 0], [1, 1]], dtype=float)
    J, dZ = heads.binary.loss_and_grad(Z, Y)
    assert np.isfinite(J) and J >= 0
    assert np.abs(dZ).max() <= 1 / 3 + 1e-12


def test_unfused_bce_agrees_away_from_saturation_and_clips_at_it():
    Z = np.array([[-3.0], [0.2], [4.0]])
    Y = np.array([[0.0], [1.0], [1.0]])
    assert heads.binary_cross_entropy(sigmoid.forward(Z), Y) == pytest.approx(
        heads.binary.loss(Z, Y), rel=1e-9
    )
    # a = 0 exactly with y = 1: log(0) would be inf; the clip keeps it finite
    assert np.isfinite(heads.binary_cross_entropy(np.array([[0.0]]), np.array([[1.0]])))


def test_unknown_head():
    with pytest.raises(ValueError, match="unknown output head"):
        heads.get("hinge")


def test_poisson_loss_is_scikit_learns_half_deviance(rng):
    from sklearn.neural_network._base import poisson_loss

    Z = rng.normal(size=(7, 2))
    Y = rng.poisson(3.0, size=(7, 2)).astype(float)
    assert heads.poisson.loss(Z, Y) == pytest.approx(poisson_loss(Y, np.exp(Z)), rel=1e-12)
    assert heads.poisson.loss(np.log(np.where(Y > 0, Y, 1.0)), Y) == pytest.approx(
        float(np.exp(0.0) * (Y == 0).sum() / 7), rel=1e-12
    )  # the best fit of every y > 0 costs nothing; y = 0 at a = 1 costs 1
