"""Exact tests of ``core/initializers.py`` that mutation testing asked for (issue 21).

The registry's initializers are built once, at import time; these tests build them at
call time (``variance_scaling``, ``normal``, ``uniform``, ...) and compare the draws with
the formula evaluated on the same seeded stream, bit for bit.
"""

import numpy as np
import pytest

from mlplab.core import initializers
from mlplab.core.initializers import get, variance_scaling

SHAPE = (3, 5)  # (n[l], n[l-1]): fan_in 5, fan_out 3, fan_avg 4


@pytest.mark.parametrize(("mode", "fan"), [("fan_in", 5.0), ("fan_out", 3.0), ("fan_avg", 4.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_variance_scaling_draws_exactly_the_formula(mode, fan, dtype):
    scale = 2.0
    W = variance_scaling(scale, mode, "normal")(np.random.default_rng(3), SHAPE, dtype)
    expected = np.random.default_rng(3).standard_normal(SHAPE) * np.sqrt(scale / fan)
    assert W.dtype == dtype and W.shape == SHAPE
    np.testing.assert_array_equal(W, expected.astype(dtype))
    U = variance_scaling(scale, mode, "uniform")(np.random.default_rng(3), SHAPE, dtype)
    limit = np.sqrt(3.0 * (scale / fan))
    expected = np.random.default_rng(3).uniform(-limit, limit, size=SHAPE)
    assert U.dtype == dtype and U.shape == SHAPE
    np.testing.assert_array_equal(U, expected.astype(dtype))
    assert U.min() < 0 < U.max()


def test_variance_scaling_defaults_name_and_doc():
    init = variance_scaling(1.0)  # fan_in, normal
    W = init(np.random.default_rng(0), SHAPE)  # float32 by default
    assert W.dtype == np.float32
    expected = np.random.default_rng(0).standard_normal(SHAPE) * np.sqrt(1.0 / 5)
    np.testing.assert_array_equal(W, expected.astype(np.float32))
    assert init.__name__ == "variance_scaling(1.0, fan_in, normal)"
    assert init.__doc__ == "Var(W) = 1.0 / fan_in (normal)."
    assert variance_scaling(2.0, "fan_out", "uniform", "mine").__name__ == "mine"


def test_variance_scaling_refuses_unknown_mode_and_distribution():
    for mode in ("FAN_IN", "fan", "fan_avg "):
        message = f"mode must be fan_in, fan_out or fan_avg, got {mode!r}"
        with pytest.raises(ValueError, match=message):
            variance_scaling(1.0, mode)
    for dist in ("NORMAL", "gaussian"):
        with pytest.raises(ValueError, match=f"normal or uniform, got {dist!r}"):
            variance_scaling(1.0, "fan_in", dist)
    for mode in ("fan_in", "fan_out", "fan_avg"):  # every valid pair is accepted
        for dist in ("normal", "uniform"):
            assert callable(variance_scaling(1.0, mode, dist))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_factories_draw_exactly_and_in_the_asked_dtype(dtype):
    rng = np.random.default_rng
    W = initializers.normal(3.0)(rng(1), SHAPE, dtype)
    assert W.dtype == dtype
    np.testing.assert_array_equal(W, (rng(1).standard_normal(SHAPE) * 3.0).astype(dtype))
    U = initializers.uniform(0.5)(rng(1), SHAPE, dtype)
    assert U.dtype == dtype and U.min() < 0 < U.max()
    np.testing.assert_array_equal(U, rng(1).uniform(-0.5, 0.5, size=SHAPE).astype(dtype))
    C = initializers.constant(0.25)(rng(1), SHAPE, dtype)
    assert C.dtype == dtype and C.shape == SHAPE and (C == 0.25).all()
    Z = initializers.zeros(rng(1), SHAPE, dtype)
    assert Z.dtype == dtype and Z.shape == SHAPE and not Z.any()
    for shape in [(3, 5), (5, 3)]:  # rectangular: the leading identity block
        eye = initializers.identity(2.0)(rng(1), shape, dtype)
        assert eye.dtype == dtype and eye.shape == shape
        np.testing.assert_array_equal(eye, 2.0 * np.eye(*shape))


def test_factory_defaults_names_and_docs():
    rng = np.random.default_rng
    assert initializers.normal().__name__ == "normal"
    assert initializers.normal(2.0).__name__ == "normal(2.0)"
    assert initializers.normal(2.0).__doc__ == "W ~ N(0, 2.0²)."
    np.testing.assert_array_equal(
        initializers.normal()(rng(2), SHAPE), rng(2).standard_normal(SHAPE).astype(np.float32)
    )
    assert initializers.uniform().__name__ == "uniform"
    assert initializers.uniform(1.05).__name__ == "uniform(1.05)"
    assert initializers.uniform(0.5).__name__ == "uniform(0.5)"
    np.testing.assert_array_equal(
        initializers.uniform()(rng(2), SHAPE),
        rng(2).uniform(-0.05, 0.05, size=SHAPE).astype(np.float32),
    )
    assert initializers.constant(0.5).__name__ == "constant(0.5)"
    assert initializers.identity(0.5).__name__ == "identity(0.5)"
    np.testing.assert_array_equal(initializers.identity()(rng(0), (2, 2)), np.eye(2))
    assert initializers.identity()(rng(0), (2, 2)).dtype == np.float32


def test_get_parses_factory_names_exactly():
    rng = np.random.default_rng
    assert get("normal()").__name__ == "normal"  # empty argument: the default 1.0
    assert get("  Normal(2)  ").__name__ == "normal(2.0)"
    assert get("uniform(0.5)").__name__ == "uniform(0.5)"
    assert get("constant(3)").__name__ == "constant(3.0)"
    assert get("identity(2)").__name__ == "identity(2.0)"
    np.testing.assert_array_equal(get("identity()")(rng(0), (2, 2)), np.eye(2))
    np.testing.assert_array_equal(get("constant(3)")(rng(0), (1, 2)), [[3.0, 3.0]])
    mine = initializers.constant(1.0)
    assert get(mine) is mine
    assert get(initializers.zeros) is initializers.zeros
    for bad in ("normal)", "normal(1)(2)", "normal(x)", "kaiming(1)", "normal(1"):
        with pytest.raises(ValueError, match=r"unknown initializer .*identity\(s\)$"):
            get(bad)
    with pytest.raises(TypeError, match="^init must be a name or a callable, got int$"):
        get(3)


def test_default_for_reads_the_activation_name_before_its_argument():
    assert initializers.default_for("leaky_relu(0.2)") is initializers.he
    assert initializers.default_for("relu") is initializers.he
    assert initializers.default_for("tanh") is initializers.xavier
    assert initializers.default_for("softplus") is initializers.xavier  # not listed: Xavier
