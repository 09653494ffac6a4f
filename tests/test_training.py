import numpy as np
import pytest

import mlplab
from mlplab import EarlyStopping, GradientNormLogger, Network, fit
from mlplab.core import optimizers
from mlplab.core.data import load_dataset, train_test_split
from mlplab.train.callbacks import Callback


@pytest.fixture(scope="module")
def cancer():
    X, y = load_dataset("breast_cancer")
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, seed=0)
    std = mlplab.Standardizer().fit(X_tr)
    return std.transform(X_tr), std.transform(X_te), y_tr, y_te


def test_logistic_regression_reaches_95_percent(cancer):
    X_tr, X_te, y_tr, y_te = cancer
    net = Network([30, 1], output="binary", seed=0)
    hist = fit(net, X_tr, y_tr, optimizer=optimizers.sgd(0.5), epochs=200, batch_size=None)
    assert net.score(X_te, y_te) >= 0.95
    losses = hist.history["loss"]
    assert all(
        b <= a + 1e-7 for a, b in zip(losses[:-1], losses[1:], strict=True)
    )  # batch GD, small α: monotone


def test_deep_network_with_momentum_reaches_95_percent(cancer):
    X_tr, X_te, y_tr, y_te = cancer
    net = Network([30, 16, 8, 1], seed=0)
    fit(net, X_tr, y_tr, optimizer=optimizers.momentum(0.1, 0.9), epochs=60, batch_size=32)
    assert net.score(X_te, y_te) >= 0.95


def test_batch_gd_history_loss_is_J_before_the_update(rng):
    X = rng.normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(int)
    net = Network([3, 4, 1], seed=0, dtype="float64")
    J0 = net.loss(X, y)
    hist = fit(net, X, y, optimizer=optimizers.sgd(0.1), epochs=3, batch_size=None)
    assert hist.history["loss"][0] == pytest.approx(J0, rel=1e-12)
    assert len(hist.history["loss"]) == 3 == len(hist.epoch)


def test_one_batch_gd_step_is_W_minus_alpha_dW(rng):
    X = rng.normal(size=(8, 3))
    y = rng.integers(0, 2, size=8)
    net = Network([3, 2, 1], hidden="tanh", seed=0, dtype="float64")
    before = [W.copy() for W in net.weights]
    _, grads = net.loss_and_grads(X, y)
    fit(net, X, y, optimizer=optimizers.sgd(0.3), epochs=1, batch_size=None)
    for W0, g, W1 in zip(before, grads, net.weights, strict=True):
        np.testing.assert_allclose(W1, W0 - 0.3 * g.W, rtol=1e-12)


def test_minibatches_cover_every_sample_and_keep_last_batch(rng):
    X = rng.normal(size=(10, 2))
    y = rng.integers(0, 2, size=10)
    sizes = []

    class Sizes(Callback):
        def on_batch_end(self, batch, logs):
            sizes.append(logs["size"])

    trainer = mlplab.Trainer(Network([2, 1]), optimizers.sgd(0.1), [Sizes()])
    trainer.fit(X, y, epochs=2, batch_size=4)
    assert sizes == [4, 4, 2, 4, 4, 2]
    assert trainer.step == 6 and trainer.epoch == 2


def test_minibatch_loss_is_size_weighted_mean_of_batch_costs(rng):
    X = rng.normal(size=(10, 2))
    y = rng.integers(0, 2, size=10)
    costs = []

    class Costs(Callback):
        def on_batch_end(self, batch, logs):
            costs.append((logs["loss"], logs["size"]))

    trainer = mlplab.Trainer(Network([2, 1], dtype="float64"), optimizers.sgd(0.1), [Costs()])
    hist = trainer.fit(X, y, epochs=1, batch_size=4)
    expected = sum(J * n for J, n in costs) / 10
    assert hist.history["loss"][0] == pytest.approx(expected)


def test_same_seed_same_weights(rng):
    X = rng.normal(size=(30, 3))
    y = rng.integers(0, 2, size=30)
    nets = [Network([3, 5, 1], seed=1) for _ in range(3)]
    fit(nets[0], X, y, epochs=5, batch_size=8, seed=3)
    fit(nets[1], X, y, epochs=5, batch_size=8, seed=3)
    fit(nets[2], X, y, epochs=5, batch_size=8, seed=4)
    np.testing.assert_array_equal(nets[0].get_flat_params(), nets[1].get_flat_params())
    assert not np.array_equal(nets[0].get_flat_params(), nets[2].get_flat_params())


def test_history_keys_and_validation(cancer):
    X_tr, X_te, y_tr, y_te = cancer
    net = Network([30, 8, 1])
    hist = fit(
        net, X_tr, y_tr, epochs=3, validation_data=(X_te, y_te), callbacks=[GradientNormLogger()]
    )
    h = hist.history
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "grad_norm/W1", "grad_norm/W2"} <= set(
        h
    )
    assert all(len(v) == 3 for v in h.values())
    assert h["val_loss"][-1] == pytest.approx(net.loss(X_te, y_te), rel=1e-5)
    assert h["val_accuracy"][-1] == pytest.approx(net.score(X_te, y_te))
    assert all(v > 0 for v in h["grad_norm/W1"])


def test_multiclass_and_regression_training(rng):
    X, y = load_dataset("digits")
    X = X / 16.0
    net = Network([64, 32, 10], output="multiclass", seed=0)
    hist = fit(net, X[:1000], y[:1000], optimizer=optimizers.adam(0.01), epochs=15)
    assert hist.history["accuracy"][-1] > 0.95
    assert net.score(X[1000:], y[1000:]) > 0.9
    Xr = rng.normal(size=(200, 2))
    Y = np.c_[Xr[:, 0] * 2 - Xr[:, 1], np.sin(Xr[:, 0])]
    reg = Network([2, 16, 2], hidden="tanh", output="regression", seed=0)
    hist = fit(reg, Xr, Y, optimizer=optimizers.adam(0.01), epochs=100)
    assert hist.history["loss"][-1] < 0.05 * hist.history["loss"][0]
    assert reg.score(Xr, Y) > 0.9


def test_early_stopping_stops_and_restores_best(cancer):
    X_tr, X_te, y_tr, y_te = cancer
    net = Network([30, 32, 1], seed=0)
    es = EarlyStopping(monitor="val_loss", patience=3, restore_best=True)
    hist = fit(
        net,
        X_tr,
        y_tr,
        optimizer=optimizers.adam(0.05),
        epochs=500,
        validation_data=(X_te, y_te),
        callbacks=[es],
    )
    assert es.stopped_epoch is not None and len(hist.epoch) < 500
    best = min(hist.history["val_loss"])
    assert net.loss(X_te, y_te) == pytest.approx(best, rel=1e-5)


def test_divergence_raises_and_keeps_finite_weights():
    X = np.array([[1e4, -1e4], [2e4, 3e4], [-1e4, 5e3]], dtype=np.float32)
    y = np.array([0.0, 1.0, 2.0])
    net = Network([2, 8, 8, 1], output="regression", init="normal(10)")
    with pytest.raises(mlplab.DivergenceError, match="epoch .*step .*learning rate") as info:
        fit(net, X, y, optimizer=optimizers.sgd(10.0), epochs=50, batch_size=None)
    assert info.value.epoch >= 0
    assert np.isfinite(net.get_flat_params()).all()


def test_callback_can_stop_training(rng):
    X = rng.normal(size=(12, 2))
    y = rng.integers(0, 2, size=12)

    class StopAt2(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                self.trainer.stop_training = True

    hist = fit(Network([2, 1]), X, y, epochs=10, callbacks=[StopAt2()])
    assert hist.epoch == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "exc", "msg"),
    [
        ({"batch_size": 0}, ValueError, "batch_size must be > 0"),
        ({"batch_size": 11}, ValueError, "larger than the 10 training samples"),
        ({"epochs": -1}, ValueError, "epochs must be >= 0"),
        ({"epochs": 2.5}, TypeError, "epochs must be an integer"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be an mlplab optimizer"),
        ({"validation_data": np.ones((3, 2))}, TypeError, "validation_data"),
    ],
)
def test_bad_fit_arguments(kwargs, exc, msg, rng):
    X = rng.normal(size=(10, 2))
    y = rng.integers(0, 2, size=10)
    with pytest.raises(exc, match=msg):
        fit(Network([2, 1]), X, y, **kwargs)


def test_l2_step_in_fit_matches_the_penalized_gradient(rng):
    X = rng.normal(size=(8, 3))
    y = rng.integers(0, 2, size=8)
    net = Network([3, 2, 1], hidden="tanh", seed=0, dtype="float64", l2=0.5)
    before = [W.copy() for W in net.weights]
    _, grads = net.loss_and_grads(X, y)  # includes (λ/n) W
    plain = Network([3, 2, 1], hidden="tanh", seed=0, dtype="float64")
    _, plain_grads = plain.loss_and_grads(X, y)
    np.testing.assert_allclose(grads[0].W, plain_grads[0].W + 0.5 / 8 * before[0])
    np.testing.assert_allclose(grads[0].b, plain_grads[0].b)  # biases are not penalized
    fit(net, X, y, optimizer=optimizers.sgd(0.3), epochs=1, batch_size=None)
    for W0, g, W1 in zip(before, grads, net.weights, strict=True):
        np.testing.assert_allclose(W1, W0 - 0.3 * g.W, rtol=1e-12)
