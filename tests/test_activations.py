import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlplab.core import activations
from mlplab.core.activations import ACTIVATIONS, get, leaky_relu

SMOOTH = ["sigmoid", "tanh", "identity"]


@settings(max_examples=100)
@given(
    z=arrays(
        np.float64, st.tuples(st.integers(1, 6), st.integers(1, 4)), elements=st.floats(-20, 20)
    ),
    name=st.sampled_from(SMOOTH),
)
def test_derivative_matches_central_difference(z, name):
    act = get(name)
    h = 1e-6
    numeric = (act.forward(z + h) - act.forward(z - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(z, act.forward(z)), numeric, rtol=1e-5, atol=1e-8)


@settings(max_examples=100)
@given(
    z=arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 4)),
        elements=st.floats(-20, 20).filter(lambda v: abs(v) > 1e-3),
    ),
    name=st.sampled_from(["relu", "leaky_relu"]),
)
def test_piecewise_linear_derivative_away_from_kink(z, name):
    act = get(name)
    h = 1e-7
    numeric = (act.forward(z + h) - act.forward(z - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(z, act.forward(z)), numeric, rtol=1e-6, atol=1e-9)


def test_relu_and_derivative_follow_the_notes_at_zero():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(activations.relu.forward(z), [0.0, 0.0, 3.0])
    # ReLU'(z) = 0 for z <= 0 (the notes put z = 0 on the zero side), 1 for z > 0
    np.testing.assert_array_equal(activations.relu.derivative(z, None), [0.0, 0.0, 1.0])


def test_sigmoid_formula_and_derivative_identity(rng):
    z = rng.normal(size=50) * 5
    a = activations.sigmoid.forward(z)
    np.testing.assert_allclose(a, 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(activations.sigmoid.derivative(z, a), a * (1 - a))
    np.testing.assert_allclose(activations.tanh.derivative(z, np.tanh(z)), 1 - np.tanh(z) ** 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_finite_and_silent_at_extremes(dtype):
    z = np.array([-1e4, -1e3, -100, 0, 100, 1e3, 1e4], dtype=dtype)
    with np.errstate(all="raise", under="ignore"):
        a = activations.sigmoid.forward(z)
        d = activations.sigmoid.derivative(z, a)
    assert a.dtype == dtype
    assert np.isfinite(a).all() and np.isfinite(d).all()
    assert a[0] == 0 and a[-1] == 1 and a[3] == 0.5
    assert ((a >= 0) & (a <= 1)).all()


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_registry_entry_works_by_name_and_keeps_dtype(name):
    act = get(name)
    assert act.name.startswith(name)
    z = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    a = act.forward(z)
    d = act.derivative(z, a)
    assert a.shape == d.shape == z.shape
    assert a.dtype == np.float32 and d.dtype == np.float32


def test_leaky_relu_slope_and_validation():
    act = leaky_relu(0.2)
    z = np.array([-1.0, 2.0])
    np.testing.assert_allclose(act.forward(z), [-0.2, 2.0])
    np.testing.assert_allclose(act.derivative(z, act.forward(z)), [0.2, 1.0])
    assert get("leaky_relu(0.2)").forward(np.array([-1.0]))[0] == pytest.approx(-0.2)
    with pytest.raises(ValueError, match="slope"):
        leaky_relu(1.5)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu"):
        get("swish")
    with pytest.raises(TypeError):
        get(3)
