"""Exact tests of ``core/network.py`` that mutation testing asked for (issue 21).

Every error message names its problem; predictions and scores of every head computed by
hand; the parameter setters' index range, shapes, dtypes and finiteness; θ's layout.
"""

import numpy as np
import pytest

import mlplab
from mlplab import Network
from mlplab.core import initializers
from mlplab.core.backprop import init_params

X = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0]])


def _net(output="binary", sizes=(2, 3, 1), dtype="float64", **kw):
    net = Network(list(sizes), hidden="tanh", output=output, dtype=dtype, seed=0, **kw)
    n = net.n_params
    net.set_flat_params(np.linspace(-1.0, 1.0, n))
    return net


def _logits(net, Xs=X):
    A = Xs
    for l, (W, b) in enumerate(net.params):
        Z = A @ W.T + b
        A = np.tanh(Z) if l < net.L - 1 else Z
    return Z


def test_construction_checks_and_records():
    with pytest.raises(ValueError, match=r"needs n\[L\] >= 2 output units .* got n\[L\]=1; use"):
        Network([2, 1], output="multiclass")
    assert Network([2, 2], output="multiclass").head.name == "multiclass"
    with pytest.raises(ValueError, match="^hidden has 1 activations, but the network has L-1=2 "):
        Network([2, 3, 3, 1], hidden=["relu"])
    net = Network([2, 3, 3, 1], hidden=["relu", "tanh"], seed=5)
    assert [g.name for g in net.hidden] == ["relu", "tanh"] and net.init == [
        "he",
        "xavier",
        "xavier",
    ]
    assert net.seed == 5 and Network([2, 1], seed=np.random.default_rng(0)).seed is None
    assert (net.L, net.n_params) == (3, 3 * 2 + 3 + 3 * 3 + 3 + 3 + 1)
    with pytest.raises(ValueError, match="l2 must be >= 0"):
        Network([2, 1], l2=-0.1)
    assert Network([2, 1], l2=0.0).l2 == 0.0
    bn = Network([2, 3, 1], batch_norm=True)
    assert bn.n_params == 3 * 2 + 3 + 3 + 1 + 2 * 3  # γ[1], β[1] at the end of θ


def test_parameters_are_init_params_draws_from_the_seed():
    net = Network([2, 3, 1], hidden="relu", dtype="float64", seed=7)
    inits = [initializers.he, initializers.xavier]
    want = init_params([2, 3, 1], inits, np.random.default_rng(7), np.float64)
    for got, ref in zip(net.params, want, strict=True):
        np.testing.assert_array_equal(got.W, ref.W)
        np.testing.assert_array_equal(got.b, ref.b)
    assert net.weights[0].dtype == np.float64


def test_setters_check_index_shape_dtype_and_finiteness():
    net = _net(sizes=(2, 3, 1))
    net.weights[-1] = [[1.0, 2.0, 3.0]]  # -L..L-1
    np.testing.assert_array_equal(net.params[1].W, [[1.0, 2.0, 3.0]])
    net.biases[-2] = [True, False, True]  # booleans are numbers
    np.testing.assert_array_equal(net.biases[0], [1.0, 0.0, 1.0])
    for l in (2, -3):
        with pytest.raises(IndexError, match=f"^layer index {l} out of range for L=2 layers$"):
            net.weights[l] = np.zeros((1, 3))
    with pytest.raises(ValueError, match=r"^W\[2\] must have shape \(1, 3\), got \(3,\)$"):
        net.weights[-1] = np.zeros(3)
    with pytest.raises(TypeError, match=r"^b\[1\] must be numeric, got dtype complex128$"):
        net.biases[0] = np.zeros(3, dtype=complex)
    with pytest.raises(ValueError, match=r"^b\[2\] contains NaN or infinite values$"):
        net.biases[1] = [np.inf]
    with pytest.raises(ValueError, match="^params needs 2 .W, b. pairs, got 1$"):
        net.params = net.params[:1]
    with pytest.raises(ValueError, match="^weights needs 2 arrays, got 3$"):
        net.weights = [np.zeros((3, 2))] * 3
    with pytest.raises(ValueError, match="^biases needs 2 arrays, got 1$"):
        net.biases = [np.zeros(3)]
    net.params = [(np.ones((3, 2)), np.full(3, 2.0)), (np.ones((1, 3)), [5.0])]
    net.weights = [np.zeros((3, 2)), np.full((1, 3), 4.0)]
    net.biases = [np.zeros(3), [-1.0]]
    np.testing.assert_array_equal(net.get_flat_params(), [0.0] * 9 + [4.0, 4.0, 4.0, -1.0])


def test_flat_params_are_rows_then_biases_and_checked():
    net = _net(sizes=(2, 3, 1))
    W1 = np.arange(6.0).reshape(3, 2)
    net.params = [(W1, [10.0, 11.0, 12.0]), ([[20.0, 21.0, 22.0]], [30.0])]
    want = [0, 1, 2, 3, 4, 5, 10, 11, 12, 20, 21, 22, 30]
    np.testing.assert_array_equal(net.get_flat_params(), want)
    net.set_flat_params(np.arange(13.0))
    np.testing.assert_array_equal(net.weights[0], np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match=r"^theta must have shape \(13,\), got \(12,\)$"):
        net.set_flat_params(np.zeros(12))
    with pytest.raises(ValueError, match="^theta contains NaN or infinite values$"):
        net.set_flat_params(np.full(13, np.nan))


def test_predict_every_head_by_hand():
    net = _net("binary")
    Z = _logits(net)
    np.testing.assert_allclose(net.logits(X), Z, rtol=1e-14)
    pred = net.predict(X)
    assert pred.shape == (3,) and pred.dtype == np.int64
    np.testing.assert_array_equal(pred, (Z[:, 0] > 0).astype(int))
    np.testing.assert_allclose(net.predict_proba(X), 1 / (1 + np.exp(-Z)), rtol=1e-14)
    two = _net("binary", sizes=(2, 3, 2))
    assert two.predict(X).shape == (3, 2)
    np.testing.assert_array_equal(two.predict(X), (_logits(two) > 0).astype(int))
    multi = _net("multiclass", sizes=(2, 3, 3))
    np.testing.assert_array_equal(multi.predict(X), _logits(multi).argmax(axis=1))
    reg = _net("regression", sizes=(2, 3, 1))
    np.testing.assert_allclose(reg.predict(X), _logits(reg)[:, 0], rtol=1e-14)
    poi = _net("poisson", sizes=(2, 3, 2))
    np.testing.assert_allclose(poi.predict(X), np.exp(_logits(poi)), rtol=1e-14)
    for head in ("regression", "poisson"):
        with pytest.raises(
            AttributeError, match=f"^predict_proba needs a classification head, not {head}$"
        ):
            _net(head).predict_proba(X)


def test_score_every_head_by_hand():
    net = _net("binary")
    y = np.array([1, 0, 1])
    assert net.score(X, y) == np.mean((_logits(net)[:, 0] > 0) == (y > 0.5))
    multi = _net("multiclass", sizes=(2, 3, 3))
    y3 = np.array([2, 0, 1])
    assert multi.score(X, y3) == np.mean(_logits(multi).argmax(axis=1) == y3)
    reg = _net("regression", sizes=(2, 3, 2))
    Y = np.array([[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]])  # column 2 constant: ss_tot = 0
    Z = _logits(reg)
    ss_res = ((Y - Z) ** 2).sum(axis=0)
    r2 = [1 - ss_res[0] / ((Y[:, 0] - Y[:, 0].mean()) ** 2).sum(), 1 - ss_res[1]]
    assert reg.score(X, Y) == pytest.approx(np.mean(r2), rel=1e-14)
    poi = _net("poisson", sizes=(2, 3, 1))
    yp = np.array([0.0, 1.0, 3.0])
    A = np.exp(_logits(poi)[:, 0])
    r2 = 1 - ((yp - A) ** 2).sum() / ((yp - yp.mean()) ** 2).sum()
    assert poi.score(X, yp) == pytest.approx(r2, rel=1e-14)


def test_loss_is_the_head_cost_plus_l2_as_a_float():
    net = _net("regression", l2=0.5)
    y = np.array([1.0, 0.0, -1.0])
    Z = _logits(net)[:, 0]
    J = 0.5 * np.mean((Z - y) ** 2) + 0.5 / 6 * sum((W**2).sum() for W in net.weights)
    assert isinstance(net.loss(X, y), float) and net.loss(X, y) == pytest.approx(J, rel=1e-14)
    bn = Network([2, 3, 1], hidden="tanh", output="regression", dtype="float64", batch_norm=True)
    bn.set_flat_params(np.linspace(-1, 1, bn.n_params))
    bn.set_running_stats(np.array([0.5, 0.0, -0.5, 2.0, 1.0, 0.5]))
    W1, b1 = bn.params[0]
    g, beta = bn.norm_params[0]
    Z1 = X @ W1.T + b1
    A1 = np.tanh(g * (Z1 - [0.5, 0.0, -0.5]) / np.sqrt(np.array([2.0, 1.0, 0.5]) + 1e-5) + beta)
    Z = A1 @ bn.params[1].W.T + bn.params[1].b
    J, grads = bn.loss_and_grads(X, y)
    assert isinstance(J, float) and J == pytest.approx(0.5 * np.mean((Z[:, 0] - y) ** 2), rel=1e-13)
    assert [g.W.shape for g in grads] == [(3, 2), (1, 3)]


def test_copy_is_deep_and_to_numpy_is_a_no_op():
    net = _net(standardizer=mlplab.Standardizer().fit(X))
    twin = net.copy()
    twin.weights[0] = np.zeros((3, 2))
    twin.standardizer.mean_[0] = 99.0
    assert net.weights[0].any() and net.standardizer.mean_[0] != 99.0
    np.testing.assert_array_equal(twin.get_flat_params()[6:], net.get_flat_params()[6:])
    assert net.to(np) is net and net.xp is np and net.device is None


# ---------------------------------------------------------------- another array library
# The branches for a network moved off NumPy (to(), the setters, y's conversion) are
# invisible to NumPy; array-api-strict on a non-default device sees a wrong namespace,
# device or dtype (mixing them raises).


def _strict_net(output="binary", sizes=(2, 3, 1), **kw):
    xps = pytest.importorskip("array_api_strict")
    dev = xps.Device("device1")
    return _net(output, sizes, **kw).to(xps, device=dev), xps, dev


def _on(a, xps, dev, dtype=None):
    return xps.asarray(np.asarray(a, dtype=dtype), device=dev)


def _is_strict(a, xps, dev, dtype):
    return type(a) is type(xps.zeros(1)) and a.device == dev and a.dtype == getattr(xps, dtype)


def test_to_moves_theta_and_its_views_once(monkeypatch):
    net = _net("binary", sizes=(2, 3, 1), batch_norm=True)
    theta = net.get_flat_params()
    stats = net._bn_stats.copy()
    checked = []
    real = mlplab._array_api.check_views_write_through
    monkeypatch.setattr(
        mlplab._array_api, "check_views_write_through", lambda *a: checked.append(a) or real(*a)
    )
    assert net.to(np) is net and checked == []  # NumPy: nothing to check, nothing moved
    xps = pytest.importorskip("array_api_strict")
    dev = xps.Device("device1")
    assert net.to(xps, device=dev) is net and checked == [(net.xp, dev)]
    assert net.device == dev and net.xp is mlplab._array_api.namespace(net._theta)
    assert _is_strict(net._theta, xps, dev, "float64")
    assert _is_strict(net._bn_stats, xps, dev, "float64")
    assert _is_strict(net.weights[0], xps, dev, "float64")
    np.testing.assert_array_equal(mlplab._array_api.to_numpy(net.get_flat_params()), theta)
    np.testing.assert_array_equal(mlplab._array_api.to_numpy(net._bn_stats), stats)
    moved = net._theta
    assert net.to(xps, device=dev) is net and net._theta is moved  # already there
    assert len(checked) == 1
    dev2 = xps.Device("device2")  # same library, another device: moved again
    net.to(xps, device=dev2)
    assert net._theta is not moved and net.device == dev2 and net._theta.device == dev2
    net.weights[0] = np.zeros((3, 2))  # W[1] is a view of the moved θ
    assert float(mlplab._array_api.to_numpy(net._theta)[:6].sum()) == 0.0
    net.to(np)
    assert type(net._theta) is np.ndarray and net.device is None and net.xp is np
    np.testing.assert_array_equal(net.get_flat_params()[6:], theta[6:])


def test_setters_convert_to_the_networks_arrays():
    net, xps, dev = _strict_net(dtype="float32")
    net.weights[0] = np.full((3, 2), 0.1)  # float64 from the host, into float32 on dev
    net.biases[-1] = _on([2.5], xps, dev, np.float64)  # a device array of the same library
    assert _is_strict(net.weights[0], xps, dev, "float32")
    np.testing.assert_array_equal(
        mlplab._array_api.to_numpy(net.get_flat_params())[[0, 5, 12]],
        np.array([0.1, 0.1, 2.5], dtype=np.float32),
    )
    with pytest.raises(ValueError, match=r"^W\[1\] must have shape \(3, 2\), got \(2, 3\)$"):
        net.weights[0] = _on(np.zeros((2, 3)), xps, dev)
    with pytest.raises(ValueError, match=r"^b\[2\] contains NaN or infinite values$"):
        net.biases[1] = _on([np.nan], xps, dev)
    host = _net(sizes=(2, 3, 1))
    host.biases[0] = _on([1.0, 2.0, 3.0], xps, dev)  # a foreign value on a NumPy network
    assert type(host.biases[0]) is np.ndarray
    np.testing.assert_array_equal(host.biases[0], [1.0, 2.0, 3.0])


def test_set_flat_params_in_another_library():
    net, xps, dev = _strict_net(dtype="float32")
    rows = np.arange(13.0)
    net.set_flat_params(_on(rows, xps, dev, np.float64))  # same library: on the device
    assert _is_strict(net._theta, xps, dev, "float32")
    np.testing.assert_array_equal(mlplab._array_api.to_numpy(net.get_flat_params()), rows)
    np.testing.assert_array_equal(
        mlplab._array_api.to_numpy(net.weights[0]), np.arange(6.0).reshape(3, 2)
    )
    net.set_flat_params(-rows)  # from the host
    assert _is_strict(net._theta, xps, dev, "float32")
    np.testing.assert_array_equal(mlplab._array_api.to_numpy(net.get_flat_params()), -rows)
    for bad in (_on(np.zeros(12), xps, dev), np.zeros(12)):
        with pytest.raises(ValueError, match=r"^theta must have shape \(13,\), got \(12,\)$"):
            net.set_flat_params(bad)
    for bad in (_on(np.full(13, np.inf), xps, dev), np.full(13, np.nan)):
        with pytest.raises(ValueError, match="^theta contains NaN or infinite values$"):
            net.set_flat_params(bad)
    np.testing.assert_array_equal(mlplab._array_api.to_numpy(net.get_flat_params()), -rows)
    host = _net(sizes=(2, 3, 1))
    host.set_flat_params(_on(rows, xps, dev))  # a foreign θ on a NumPy network
    assert type(host._theta) is np.ndarray
    np.testing.assert_array_equal(host.get_flat_params(), rows)


@pytest.mark.parametrize("output", ["binary", "multiclass", "regression", "poisson"])
def test_predict_score_and_loss_in_another_library(output):
    sizes = (2, 3, 3) if output == "multiclass" else (2, 3, 1)
    ref = _net(output, sizes=sizes)
    net, xps, dev = _strict_net(output, sizes=sizes)
    y = {"binary": [1, 0, 1], "multiclass": [2, 0, 1]}.get(output, [0.0, 1.0, 3.0])
    y = np.asarray(y)
    for X_in, y_in in ((X, y), (_on(X, xps, dev), _on(y, xps, dev))):
        pred = net.predict(X_in)
        assert type(pred) is type(xps.zeros(1)) and pred.device == dev
        np.testing.assert_allclose(mlplab._array_api.to_numpy(pred), ref.predict(X), rtol=1e-14)
        assert mlplab._array_api.to_numpy(pred).dtype == ref.predict(X).dtype
        assert net.score(X_in, y_in) == pytest.approx(ref.score(X, y), rel=1e-14)
        assert net.loss(X_in, y_in) == pytest.approx(ref.loss(X, y), rel=1e-14)


def test_same_library_theta_is_checked_and_copied_on_its_device(monkeypatch):
    net, xps, dev = _strict_net(dtype="float32")
    rows = _on(np.arange(13.0), xps, dev)

    def no_host_copy(x):
        raise AssertionError("θ of the network's own library was read back to the host")

    monkeypatch.setattr(mlplab._array_api, "to_numpy", no_host_copy)
    net.set_flat_params(rows)
    with pytest.raises(ValueError, match=r"^theta must have shape \(13,\), got \(12,\)$"):
        net.set_flat_params(_on(np.zeros(12), xps, dev))
    monkeypatch.undo()
    np.testing.assert_array_equal(
        mlplab._array_api.to_numpy(net.get_flat_params()), np.arange(13.0)
    )
    net.set_flat_params(_on(-np.arange(13.0), xps, xps.Device("device2")))  # moved to dev
    assert net._theta.device == dev
    np.testing.assert_array_equal(
        mlplab._array_api.to_numpy(net.get_flat_params()), -np.arange(13.0)
    )


def test_lists_and_ragged_input():
    net = _net(sizes=(2, 3, 1))
    net.set_flat_params(list(range(13)))  # a list on a NumPy network
    np.testing.assert_array_equal(net.get_flat_params(), np.arange(13.0))
    with pytest.raises(ValueError):
        net.set_flat_params([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError):
        net.weights[0] = [[1.0, 2.0], [3.0], [4.0, 5.0]]
    with pytest.raises(ValueError):
        net.loss(X, [[1.0], [0.0, 1.0], [1.0]])


def test_defaults_options_init_names_and_dtypes():
    ref = Network([2, 3, 1], seed=0)
    net = Network([2, 3, 1])  # seed 0, relu, binary
    np.testing.assert_array_equal(net.get_flat_params(), ref.get_flat_params())
    assert [g.name for g in net.hidden] == ["relu"] and net.head.name == "binary"
    with pytest.raises(ValueError, match=r"needs n\[L\] >= 2 .* got n\[L\]=1; use"):
        Network([2, 3, 1], output="multiclass")  # n[L], not n[1]
    with pytest.raises(
        ValueError, match="^hidden has 1 activations, but the network has L-1=2 hidden layers$"
    ):
        Network([2, 3, 3, 1], hidden=["relu"])
    bn = Network([2, 3, 1], batch_norm=True, bn_momentum=0.7, bn_eps=1e-3)
    assert (bn.options.bn_momentum, bn.options.bn_eps) == (0.7, 1e-3)
    assert bn._bn_stats.dtype == np.float32 and bn.running_stats[0].mean.dtype == np.float32

    given = []

    class Ones:  # an initializer without __name__: named by its repr
        def __call__(self, rng, shape, dtype):
            given.append(dtype)
            return np.ones(shape, dtype)

        def __repr__(self):
            return "Ones()"

    net = Network([2, 3, 1], init=[Ones(), "xavier"], dtype="float32")
    assert net.init == ["Ones()", "xavier"] and given == [np.dtype(np.float32)]
    net = _net("regression", dtype="float32")
    J, grads = net.loss_and_grads(X, [1.0, 0.0, 2.0])
    assert grads[0].W.dtype == np.float32 and net._prepare_y([1.0, 0.0, 2.0], 3).dtype == (
        np.float32
    )
    extremes = []
    net._prepare_X(X.astype(np.float32), extremes)  # the trainer's scale check reuses them
    assert extremes == [(-2.0, 3.0)]


def _bn_net():
    bn = Network([2, 3, 1], hidden="tanh", output="regression", dtype="float64", batch_norm=True)
    bn.set_flat_params(np.linspace(-1, 1, bn.n_params))
    bn.set_running_stats(np.array([0.5, 0.0, -0.5, 2.0, 1.0, 0.5]))
    W1, b1 = bn.params[0]
    g, beta = bn.norm_params[0]
    Z1 = X @ W1.T + b1
    A1 = np.tanh(g * (Z1 - [0.5, 0.0, -0.5]) / np.sqrt(np.array([2.0, 1.0, 0.5]) + 1e-5) + beta)
    return bn, A1, A1 @ bn.params[1].W.T + bn.params[1].b


def test_logits_score_and_caches_use_the_running_averages():
    bn, A1, Z = _bn_net()
    np.testing.assert_allclose(bn.logits(X), Z, rtol=1e-13)
    y = np.array([1.0, 0.0, -1.0])
    r2 = 1 - ((y - Z[:, 0]) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert bn.score(X, y) == pytest.approx(r2, rel=1e-13)
    caches = bn.forward_cache(X)
    assert len(caches) == 2
    np.testing.assert_array_equal(caches[0].A_prev, X)
    np.testing.assert_allclose(caches[0].A, A1, rtol=1e-13)
    np.testing.assert_allclose(caches[1].Z, Z, rtol=1e-13)
    twin = bn.copy()
    np.testing.assert_array_equal(twin._bn_stats, bn._bn_stats)
    twin._bn_stats[0] = 9.0
    assert bn._bn_stats[0] == 0.5


def test_thresholds_at_zero_and_multiclass_score_per_row():
    net = _net("binary")
    net.set_flat_params(np.zeros(net.n_params))  # z = 0: σ(z) = 0.5 is not > 0.5
    np.testing.assert_array_equal(net.predict(X), [0, 0, 0])
    assert net.score(X, [0, 0, 0]) == 1.0
    net.biases[1] = [0.5]  # 0 < z < 1: class 1
    assert net.score(X, [1, 1, 0]) == pytest.approx(2 / 3)
    multi = _net("multiclass", sizes=(2, 3, 3))
    pred = multi.predict(X)
    assert len(set(pred.tolist())) > 1
    assert multi.score(X, pred) == 1.0


def test_summary_repr_and_state_dict_describe_this_network():
    net = _net(sizes=(2, 3, 1))
    assert "W[1] (3, 2)" in net.summary() and "total parameters: 13" in net.summary()
    assert repr(net).startswith("Network([2, 3, 1], hidden='tanh'")
    state = net.state_dict()
    np.testing.assert_array_equal(state["theta"], net.get_flat_params())
    back = Network.from_state_dict(state)
    assert type(back) is Network and back.config() == net.config()
    np.testing.assert_array_equal(back.get_flat_params(), net.get_flat_params())
