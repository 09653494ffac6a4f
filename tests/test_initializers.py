import numpy as np
import pytest

from mlplab import Network
from mlplab.core import initializers
from mlplab.core.initializers import DEFAULT_INIT, INITIALIZERS, get

# name -> expected Var(W) for shape (n[l], n[l-1]) = (n_out, n_in)
EXPECTED_VAR = {
    "xavier": lambda n_out, n_in: 1 / n_in,
    "xavier_uniform": lambda n_out, n_in: 1 / n_in,
    "he": lambda n_out, n_in: 2 / n_in,
    "he_uniform": lambda n_out, n_in: 2 / n_in,
    "glorot": lambda n_out, n_in: 2 / (n_out + n_in),
    "glorot_uniform": lambda n_out, n_in: 2 / (n_out + n_in),
    "normal": lambda n_out, n_in: 1.0,
    "large": lambda n_out, n_in: 100.0,
    "uniform": lambda n_out, n_in: 0.05**2 / 3,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_VAR))
@pytest.mark.parametrize("shape", [(400, 100), (50, 800)])
def test_empirical_variance_matches_formula(name, shape):
    W = get(name)(np.random.default_rng(1), shape, np.float64)
    assert W.shape == shape
    expected = EXPECTED_VAR[name](*shape)
    # 40 000 draws: the sample variance is within a few % of the truth
    assert W.var() == pytest.approx(expected, rel=0.05)
    assert abs(W.mean()) < 4 * np.sqrt(expected / W.size)


def test_every_registry_entry_is_tested():
    assert set(INITIALIZERS) == set(EXPECTED_VAR) | {"zeros"}


def test_zeros_and_dtype():
    W = initializers.zeros(np.random.default_rng(0), (3, 2), np.float32)
    assert W.dtype == np.float32 and not W.any()
    assert get("he")(np.random.default_rng(0), (3, 2), np.float32).dtype == np.float32


def test_identity_and_normal_factories():
    W = get("identity(1.5)")(np.random.default_rng(0), (2, 2), np.float64)
    np.testing.assert_array_equal(W, 1.5 * np.eye(2))
    W = get("normal(10)")(np.random.default_rng(0), (300, 300), np.float64)
    assert W.std() == pytest.approx(10, rel=0.02)


def test_seeded_draws_are_reproducible():
    a = get("he")(np.random.default_rng(7), (5, 4), np.float32)
    b = get("he")(np.random.default_rng(7), (5, 4), np.float32)
    np.testing.assert_array_equal(a, b)


def test_default_rule_per_activation():
    assert DEFAULT_INIT["relu"] == "he" and DEFAULT_INIT["tanh"] == "xavier"
    assert DEFAULT_INIT["sigmoid"] == "xavier"
    assert Network([3, 4, 4, 1], hidden="relu").init == ["he", "he", "xavier"]
    assert Network([3, 4, 1], hidden="tanh").init == ["xavier", "xavier"]
    assert Network([3, 4, 4, 1], hidden=["relu", "tanh"]).init == ["he", "xavier", "xavier"]


def test_biases_start_at_zero():
    net = Network([5, 7, 3, 1], init="normal(3)", seed=0)
    assert all(not b.any() for b in net.biases)


def test_unknown_initializer():
    with pytest.raises(ValueError, match="unknown initializer 'kaiming'"):
        get("kaiming")
