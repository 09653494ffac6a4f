"""Training with dropout, batch norm, schedules, clipping and ReduceLROnPlateau: the fast
path equals the lecture functions, runs repeat bit for bit and resume exactly."""

import numpy as np
import pytest

import mlplab
from mlplab import Network, Trainer, fit
from mlplab.core import backprop as bp
from mlplab.core import batchnorm as B
from mlplab.core import dropout as D
from mlplab.core import layer_options as opts
from mlplab.core import optimizers as O
from mlplab.core import schedules as S
from mlplab.train.callbacks import Callback, ReduceLROnPlateau
from mlplab.train.regularize import RegularizedGradient, norm_grad_views
from mlplab.train.step import BatchGradient


class CrashError(RuntimeError):
    pass


class CrashAt(Callback):
    def __init__(self, step):
        self.at = step

    def on_batch_end(self, batch, logs):
        if self.trainer.step == self.at:
            raise CrashError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(61, 4))
    y = (X[:, 0] * X[:, 1] + 0.3 * X[:, 2] > 0).astype(int)
    return X, y


def _net(dtype="float32", **kw):
    kw = {"batch_norm": [True, False, True], "keep_prob": [0.7, 0.9, 1.0], "hidden": "tanh", **kw}
    return Network([4, 8, 7, 6, 1], seed=2, dtype=dtype, **kw)


def test_plain_networks_keep_the_plain_gradient():
    t = Trainer(Network([3, 4, 1]))
    assert type(t.gradient) is BatchGradient
    assert type(Trainer(_net()).gradient) is RegularizedGradient


@pytest.mark.parametrize("rows", [None, "permuted"])
@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_fast_step_equals_the_lecture_functions(rng, rows, act):
    net = _net("float64", hidden=act)
    net.set_flat_params(rng.normal(size=net.n_params) * 0.5)
    X = rng.normal(size=(23, 4)) * 2
    y = rng.integers(0, 2, size=23)
    trainer = Trainer(net)
    Xc, Yc = net._prepare_X(X), net._prepare_y(y, 23)
    idx = None if rows is None else rng.permutation(23)[:17]
    m = 23 if idx is None else 17
    # what the lecture functions do with the same masks and the running averages before
    copy = np.random.Generator(np.random.PCG64())
    copy.bit_generator.state = trainer.state.rng.bit_generator.state
    drawn = [
        D.dropout_mask(copy, (m, n), p, np.float64) if p < 1 else None
        for n, p in zip(net.layer_sizes[1:-1], net.options.keep_prob, strict=True)
    ]
    rank = np.arange(m) if idx is None else np.argsort(np.argsort(idx))
    masks = [None if d is None else d[rank] for d in drawn]
    Xb, Yb = (Xc, Yc) if idx is None else (Xc[idx], Yc[idx])
    norms = [
        None if n is None else n._replace(running=B.BNStats(*(a.copy() for a in n.running)))
        for n in opts.inference_norms(net)
    ]
    J_ref, g_ref = bp.loss_and_all_grads(
        net._params, Xb, Yb, net.hidden, net.head, 0.0, norms, masks, training=True
    )
    J, mm, _ = trainer.gradient(Xc, Yc, None, idx)
    assert mm == m
    assert J == pytest.approx(J_ref, rel=1e-12)
    for g, r in zip(trainer.grads, g_ref.dense, strict=True):
        np.testing.assert_allclose(g.W, r.W, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g.b, r.b, rtol=1e-10, atol=1e-12)
    for g, r in zip(norm_grad_views(trainer), g_ref.norms, strict=True):
        assert (g is None) == (r is None)
        if g is not None:
            np.testing.assert_allclose(g.gamma, r.gamma, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(g.beta, r.beta, rtol=1e-10, atol=1e-12)
    _, caches = bp.forward(net._params, Xb, net.hidden, norms, masks, training=True)
    for l, (s, n) in enumerate(zip(net.running_stats, norms, strict=True)):
        if n is not None:
            want = B.update_running(n.running, caches[l].bn.mean, caches[l].bn.var, m, 0.9)
            np.testing.assert_allclose(s.mean, want.mean, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(s.var, want.var, rtol=1e-10, atol=1e-12)
    # the trainer's stream moved exactly as far as the masks' draws
    assert copy.bit_generator.state == trainer.state.rng.bit_generator.state


def _fit(data, extra=(), epochs=6, opt=None, **kw):
    X, y = data
    net = _net()
    hist = fit(
        net,
        X,
        y,
        optimizer=opt or O.adam(S.cosine_decay(0.02, 40)),
        epochs=epochs,
        batch_size=8,
        seed=4,
        callbacks=list(extra),
        **kw,
    )
    return net, hist


def test_runs_repeat_bit_for_bit(data):
    a, ha = _fit(data)
    b, hb = _fit(data)
    np.testing.assert_array_equal(a._theta, b._theta)
    np.testing.assert_array_equal(a._bn_stats, b._bn_stats)
    assert ha.history == hb.history
    assert len(ha.history["lr"]) == 6


@pytest.mark.parametrize("crash_at", [5, 16, 17])
def test_resume_is_exact_with_masks_batchnorm_schedule_and_plateau(data, tmp_path, crash_at):
    def callbacks():
        return [ReduceLROnPlateau("loss", factor=0.5, patience=1, min_delta=10.0)]

    opt = O.clip_by_global_norm(O.momentum(S.step_decay(0.1, 10, 0.5), 0.9), 1.0)
    full, hist = _fit(data, callbacks(), opt=opt)
    path = tmp_path / "ck.npz"
    with pytest.raises(CrashError):
        _fit(data, [*callbacks(), CrashAt(crash_at)], opt=opt, checkpoint=path, checkpoint_every=3)
    resumed, hist2 = _fit(data, callbacks(), opt=opt, checkpoint=path, resume=True)
    np.testing.assert_array_equal(resumed._theta, full._theta)
    np.testing.assert_array_equal(resumed._bn_stats, full._bn_stats)
    assert hist2.history == hist.history
    assert hist.history["lr"][-1] < hist.history["lr"][0] / 2  # the plateau did reduce α


def test_checkpointed_network_keeps_its_statistics(data, tmp_path):
    net, _ = _fit(data, checkpoint=tmp_path / "ck.npz", epochs=2)
    ck = mlplab.train.checkpoint.load_latest(tmp_path / "ck.npz")
    again = ck.network()
    X = data[0]
    np.testing.assert_array_equal(again.logits(X), net.logits(X))


def test_validation_uses_the_running_averages(data):
    X, y = data
    net, hist = _fit(data, validation_data=(X, y), epochs=3)
    assert hist.history["val_loss"][-1] == pytest.approx(net.loss(X, y), rel=1e-5)


def test_dropout_changes_training_only(data):
    X, y = data
    net, _ = _fit(data, epochs=2)
    np.testing.assert_array_equal(net.predict_proba(X), net.predict_proba(X))
    no_drop = Network(**{**_kw(net), "keep_prob": 1.0})
    no_drop.set_flat_params(net.get_flat_params())
    no_drop.set_running_stats(net._bn_stats)
    np.testing.assert_array_equal(no_drop.logits(X), net.logits(X))


def _kw(net):
    return {
        "layer_sizes": net.layer_sizes,
        "hidden": "tanh",
        "dtype": "float32",
        "batch_norm": list(net.options.batch_norm),
    }


def test_plateau_multiplies_every_learning_rate(data):
    X, y = data
    net = Network([4, 5, 1], seed=0)
    cb = ReduceLROnPlateau("loss", factor=0.5, patience=1, min_delta=100.0, min_lr=0.01)
    hist = fit(net, X, y, optimizer=O.sgd(0.1), epochs=6, batch_size=None, callbacks=[cb])
    # "lr" is the α of each epoch's last step; the callback acts after the epoch's logs
    assert hist.history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.0125, 0.01])
    with pytest.raises(ValueError, match="factor must lie in"):
        ReduceLROnPlateau(factor=1.5)


def test_plateau_scale_equals_a_smaller_learning_rate(data):
    X, y = data
    a, b = Network([4, 5, 1], seed=0), Network([4, 5, 1], seed=0)

    class Halve(Callback):
        def on_train_begin(self, logs):
            from mlplab.train import lr

            lr.set_scale(self.trainer, 0.5)

    fit(a, X, y, optimizer=O.adam(0.01), epochs=3, batch_size=16, callbacks=[Halve()])
    fit(b, X, y, optimizer=O.adam(0.005), epochs=3, batch_size=16)
    np.testing.assert_allclose(a._theta, b._theta, rtol=1e-6, atol=1e-7)


class _RecordStats(Callback):
    """θ and the running averages at the end of every epoch."""

    def __init__(self):
        self.theta, self.stats = [], []

    def on_epoch_end(self, epoch, logs):
        self.theta.append(self.trainer.net.get_flat_params().copy())
        self.stats.append(np.array(self.trainer.net._bn_stats))


def test_restore_best_puts_back_the_running_averages_of_the_best_epoch(data):
    """EarlyStopping(restore_best=True) restores θ *and* μ[l], σ²[l] of its best epoch:
    prediction then uses the statistics those parameters were trained with."""
    from mlplab.train.callbacks import EarlyStopping

    X, y = data
    stop = EarlyStopping("val_loss", patience=3, min_delta=0.0, restore_best=True)
    rec = _RecordStats()
    net, hist = _fit(data, [stop, rec], validation_data=(X[:20], y[:20]), epochs=12)
    best = stop.best_epoch
    assert best is not None and best < len(rec.stats) - 1  # the last epoch was not the best
    assert not np.array_equal(rec.stats[best], rec.stats[-1])
    np.testing.assert_array_equal(net.get_flat_params(), rec.theta[best])
    np.testing.assert_array_equal(net._bn_stats, rec.stats[best])
    assert net.loss(X[:20], y[:20]) == pytest.approx(hist.history["val_loss"][best], rel=1e-6)
