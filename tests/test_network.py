import numpy as np
import pytest

import mlplab
from mlplab import Network


def test_shapes_follow_the_lecture():
    net = Network([4, 5, 3, 2], output="multiclass")
    assert net.L == 3
    assert [W.shape for W in net.weights] == [(5, 4), (3, 5), (2, 3)]
    assert [b.shape for b in net.biases] == [(5,), (3,), (2,)]
    assert [tuple(p.W.shape) for p in net.params] == [(5, 4), (3, 5), (2, 3)]
    assert net.n_params == 5 * 4 + 5 + 3 * 5 + 3 + 2 * 3 + 2
    assert net.forward(np.zeros((7, 4))).shape == (7, 2)


def test_forward_is_z_equals_W_a_plus_b_per_sample(rng):
    net = Network([3, 4, 2], hidden="tanh", output="regression", dtype="float64")
    net.biases = [rng.normal(size=4), rng.normal(size=2)]
    X = rng.normal(size=(5, 3))
    W1, W2 = net.weights
    b1, b2 = net.biases
    for i in range(5):  # the notes' column-vector equations, one sample at a time
        a1 = np.tanh(W1 @ X[i] + b1)
        np.testing.assert_allclose(net.forward(X)[i], W2 @ a1 + b2, rtol=1e-12)


def test_logistic_regression_is_one_neuron(rng):
    net = Network([3, 1], output="binary", dtype="float64")
    net.weights = [np.array([[1.0, -2.0, 0.5]])]
    net.biases = [np.array([0.25])]
    X = rng.normal(size=(6, 3))
    p = 1 / (1 + np.exp(-(X @ np.array([1.0, -2.0, 0.5]) + 0.25)))
    np.testing.assert_allclose(net.predict_proba(X)[:, 0], p, rtol=1e-12)
    np.testing.assert_array_equal(net.predict(X), (p > 0.5).astype(int))


def test_params_weights_biases_are_assignable():
    net = Network([2, 3, 1], dtype="float32")
    net.weights[0] = np.ones((3, 2))
    assert net.weights[0].dtype == np.float32 and (net.weights[0] == 1).all()
    net.biases[1] = np.array([2.0])
    assert net.biases[1][0] == 2.0
    new = [(np.full((3, 2), 0.5), np.zeros(3)), (np.full((1, 3), -1.0), np.ones(1))]
    net.params = new
    np.testing.assert_array_equal(net.params[1].W, [[-1, -1, -1]])
    with pytest.raises(ValueError, match=r"W\[1\] must have shape \(3, 2\), got \(2, 3\)"):
        net.weights[0] = np.ones((2, 3))
    with pytest.raises(ValueError, match="params needs 2"):
        net.params = new[:1]
    with pytest.raises(ValueError, match="NaN"):
        net.biases = [np.array([np.nan, 0, 0]), np.zeros(1)]


def test_predict_per_head(rng):
    X = rng.normal(size=(10, 3))
    assert Network([3, 4, 1]).predict(X).shape == (10,)
    assert set(Network([3, 4, 1]).predict(X)) <= {0, 1}
    mc = Network([3, 4, 5], output="multiclass").predict(X)
    assert mc.shape == (10,) and mc.max() < 5
    np.testing.assert_allclose(
        Network([3, 4, 5], output="multiclass").predict_proba(X).sum(1), 1, rtol=1e-6
    )
    assert Network([3, 2], output="regression").predict(X).shape == (10, 2)
    with pytest.raises(AttributeError):
        Network([3, 1], output="regression").predict_proba(X)


def test_dtype_policy(rng):
    X = rng.normal(size=(4, 3))  # float64 input
    net32 = Network([3, 2, 1])
    assert net32.forward(X).dtype == np.float32
    J, grads = net32.loss_and_grads(X, [0, 1, 1, 0])
    assert all(g.W.dtype == np.float32 and g.b.dtype == np.float32 for g in grads)
    assert Network([3, 1], dtype="float64").forward(X).dtype == np.float64
    with pytest.raises(ValueError, match="dtype"):
        Network([3, 1], dtype="int32")


def test_per_layer_activations_and_seed():
    net = Network([2, 3, 3, 1], hidden=["tanh", "relu"], seed=5)
    assert [g.name for g in net.hidden] == ["tanh", "relu"]
    same = Network([2, 3, 3, 1], hidden=["tanh", "relu"], seed=5)
    other = Network([2, 3, 3, 1], hidden=["tanh", "relu"], seed=6)
    np.testing.assert_array_equal(net.get_flat_params(), same.get_flat_params())
    assert not np.array_equal(net.get_flat_params(), other.get_flat_params())
    with pytest.raises(ValueError, match="hidden has 1 activations"):
        Network([2, 3, 3, 1], hidden=["tanh"])


def test_copy_is_independent():
    net = Network([2, 3, 1])
    clone = net.copy()
    clone.weights[0] = np.zeros((3, 2))
    assert net.weights[0].any()


def test_standardizer_attached_is_applied(rng):
    X = rng.normal(5, 100, size=(20, 3))
    std = mlplab.Standardizer().fit(X)
    net = Network([3, 2, 1], dtype="float64", standardizer=std)
    plain = Network([3, 2, 1], dtype="float64")
    np.testing.assert_allclose(net.forward(X), plain.forward(std.transform(X)))


# -- bad input at the public boundary (issue 2's list) -------------------------------------
BAD_X = [
    (np.array([[1.0, np.nan, 0.0]]), ValueError, "NaN"),
    (np.array([[1.0, np.inf, 0.0]]), ValueError, "infinite"),
    (np.ones((2, 4)), ValueError, "4 features, but the network expects n\\[0\\]=3"),
    (np.ones(3), ValueError, "must be 2-D.*1-D"),
    (np.ones((0, 3)), ValueError, "0 samples"),
    (np.ones((2, 3, 1)), ValueError, "3-D"),
    ([["a", "b", "c"]], TypeError, "non-numeric"),
    (np.array([[1 + 2j, 0, 0]]), TypeError, "complex"),
    ([[1.0, 2.0, 3.0], [1.0]], ValueError, "ragged"),
]


@pytest.mark.parametrize(("X", "exc", "msg"), BAD_X)
def test_bad_X_gives_clear_errors(X, exc, msg):
    net = Network([3, 2, 1])
    with pytest.raises(exc, match=msg):
        net.forward(X)


@pytest.mark.parametrize(
    ("y", "output", "msg"),
    [
        ([0, 1, 2, 1], "binary", r"only 0 and 1, got values \{0, 1, 2\}"),
        ([0, 1, np.nan, 1], "binary", "NaN"),
        ([0, 1, 1], "binary", "different lengths: 4 samples in X, 3 in y"),
        ([0, 1, 5, 1], "multiclass", "label 5.*labels 0..2"),
        ([0, 1.5, 1, 1], "multiclass", "integers"),
        ([0.1, np.inf, 0, 1], "regression", "infinite"),
    ],
)
def test_bad_y_gives_clear_errors(y, output, msg):
    net = Network([2, 3] if output == "multiclass" else [2, 1], output=output)
    with pytest.raises(ValueError, match=msg):
        net.loss_and_grads(np.ones((4, 2)), y)


@pytest.mark.parametrize(
    ("sizes", "exc", "msg"),
    [
        ([3, 0, 1], ValueError, r"n\[1\] must be >= 1"),
        ([3, -2], ValueError, "must be >= 1"),
        ([3], ValueError, "at least"),
        ([3, 2.5, 1], TypeError, "integer"),
        ("31", TypeError, "list"),
    ],
)
def test_bad_layer_sizes(sizes, exc, msg):
    with pytest.raises(exc, match=msg):
        Network(sizes)


def test_multiclass_needs_two_outputs():
    with pytest.raises(ValueError, match="n\\[L\\] >= 2"):
        Network([3, 1], output="multiclass")


def test_input_arrays_are_never_modified(rng):
    X = rng.normal(size=(6, 2))
    X.setflags(write=False)
    y = np.array([0, 1, 0, 1, 1, 0])
    before = X.copy()
    net = Network([2, 3, 1], standardizer=mlplab.Standardizer().fit(X))
    mlplab.fit(net, X, y, epochs=2, batch_size=2)
    net.predict(X[:, ::1])
    np.testing.assert_array_equal(X, before)


def test_from_config_rebuilds_the_architecture():
    net = Network([3, 4, 2], hidden="tanh", output="multiclass", init="he", dtype="float64", l2=0.1)
    clone = Network.from_config(net.config())
    assert clone.config() == net.config()
    assert not clone.get_flat_params().any()
