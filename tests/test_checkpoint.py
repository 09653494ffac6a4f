"""Checkpoints: exact resume, atomic files, fallback to the previous one, clear errors."""

import json
import zipfile

import numpy as np
import pytest

import mlplab
from mlplab import EarlyStopping, GradientNormLogger, Network, Trainer, fit
from mlplab.core import optimizers
from mlplab.fast import step as fast_step
from mlplab.train.callbacks import Callback
from mlplab.train.checkpoint import (
    CheckpointError,
    CheckpointWarning,
    checkpoint_files,
    load_latest,
    read_checkpoint,
)


class CrashError(RuntimeError):
    pass


class CrashAt(Callback):
    """Simulates a crash: raises after update number ``step`` (before its checkpoint)."""

    def __init__(self, step):
        self.at = step

    def on_batch_end(self, batch, logs):
        if self.trainer.step == self.at:
            raise CrashError


class FirstStep(Callback):
    """Records the trainer's step count when the first update of this call is done."""

    first = None

    def on_batch_end(self, batch, logs):
        if self.first is None:
            self.first = self.trainer.step


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    return X, y


OPTIMIZERS = {
    "sgd": lambda: optimizers.sgd(0.5),
    "momentum": lambda: optimizers.momentum(0.5, 0.9),
    "nesterov": lambda: optimizers.nesterov(0.3, 0.9),
    "rmsprop": lambda: optimizers.rmsprop(0.01),
    "adam": lambda: optimizers.adam(0.05),
}


def _callbacks():
    return [GradientNormLogger(), EarlyStopping(monitor="loss", patience=8, restore_best=True)]


def _train(data, opt, batch_size, extra=(), **kw):
    X, y = data
    net = Network([3, 6, 1], seed=0)
    hist = fit(
        net,
        X,
        y,
        optimizer=OPTIMIZERS[opt](),
        epochs=15,
        batch_size=batch_size,
        seed=5,
        validation_data=(X[:10], y[:10]),
        callbacks=[*_callbacks(), *extra],
        restore_best=True,
        **kw,
    )
    return net.get_flat_params(), hist.history


@pytest.mark.parametrize("kernels", ["ufunc", "blas"])
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("batch_size", [7, None])
@pytest.mark.parametrize(("crash", "every"), [(11, 4), (13, None), (6, 5)])
def test_crash_and_resume_gives_exactly_the_uninterrupted_run(
    data, tmp_path, opt, batch_size, crash, every, kernels, monkeypatch
):
    if kernels == "blas":  # the long-vector step (BLAS, in place) on this small network
        monkeypatch.setattr(fast_step, "BLAS_MIN", 0)
        monkeypatch.setattr(fast_step, "IN_PLACE_MIN", 0)
    ref_theta, ref_hist = _train(data, opt, batch_size)
    path = tmp_path / "run.npz"
    with pytest.raises(CrashError):
        _train(data, opt, batch_size, [CrashAt(crash)], checkpoint=path, checkpoint_every=every)
    saved = read_checkpoint(path)
    assert 0 < saved.step < crash
    probe = FirstStep()
    theta, hist = _train(
        data, opt, batch_size, [probe], checkpoint=path, checkpoint_every=every, resume=True
    )
    assert probe.first == saved.step + 1  # really resumed, not restarted
    np.testing.assert_array_equal(theta, ref_theta)
    assert hist == ref_hist


def test_resume_mid_epoch_restores_permutation_and_running_sums(data, tmp_path):
    X, y = data
    ref = Network([3, 4, 1], seed=0)
    ref_hist = fit(ref, X, y, optimizer=optimizers.adam(0.05), epochs=3, batch_size=8, seed=2)
    net = Network([3, 4, 1], seed=0)
    with pytest.raises(CrashError):
        fit(
            net,
            X,
            y,
            optimizer=optimizers.adam(0.05),
            epochs=3,
            batch_size=8,
            seed=2,
            callbacks=[CrashAt(10)],
            checkpoint=tmp_path,
            checkpoint_every=3,
        )
    ck = read_checkpoint(tmp_path / "checkpoint.npz")
    pos = ck.header["position"]
    assert ck.step == 9 and ck.epoch == 1 and pos["batch"] == 2  # 7 batches per epoch
    assert sorted(ck.arrays["order"]) == list(range(50))
    assert pos["loss_sum"] > 0 and ck.header["callbacks"][0]["class"] == "History"
    net2 = Network([3, 4, 1], seed=123)  # a different init: everything comes from the file
    hist = fit(
        net2,
        X,
        y,
        optimizer=optimizers.adam(0.05),
        epochs=3,
        batch_size=8,
        seed=99,  # ... the shuffling RNG too
        checkpoint=tmp_path,
        checkpoint_every=3,
        resume=True,
    )
    np.testing.assert_array_equal(net2.get_flat_params(), ref.get_flat_params())
    assert hist.history == ref_hist.history and hist.epoch == [0, 1, 2]


def test_trainer_resume_with_float32_multiclass_and_l2(tmp_path, rng):
    X = rng.normal(size=(40, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=40)

    def make():
        net = Network([4, 5, 3], output="multiclass", hidden="tanh", l2=0.1, seed=3)
        return net, Trainer(net, optimizers.adam(0.02), [], seed=np.random.default_rng(4))

    net_a, ta = make()
    ta.fit(X, y, epochs=4, batch_size=6)
    net_b, tb = make()
    tb.fit(X, y, epochs=2, batch_size=6, checkpoint=tmp_path / "c.npz", checkpoint_every=2)
    net_c, tc = make()
    tc.fit(X, y, epochs=4, batch_size=6, checkpoint=tmp_path / "c.npz", resume=True)
    assert tc.step == ta.step == 28
    np.testing.assert_array_equal(net_c.weights[0], net_a.weights[0])
    np.testing.assert_array_equal(net_c.get_flat_params(), net_a.get_flat_params())
    assert tc.history.history == ta.history.history
    assert net_c.dtype == np.float32


def test_resume_without_a_checkpoint_starts_afresh_and_finished_run_is_a_no_op(data, tmp_path):
    X, y = data
    path = tmp_path / "ck.npz"
    a = Network([3, 1], seed=0)
    fit(a, X, y, epochs=3, batch_size=10, checkpoint=path, resume=True)
    assert read_checkpoint(path).epoch == 3
    b = Network([3, 1], seed=7)
    probe = FirstStep()
    hist = fit(b, X, y, epochs=3, batch_size=10, checkpoint=path, resume=True, callbacks=[probe])
    assert probe.first is None  # nothing left to train
    np.testing.assert_array_equal(b.get_flat_params(), a.get_flat_params())
    assert len(hist.epoch) == 3
    c = Network([3, 1], seed=0)
    fit(c, X, y, epochs=5, batch_size=10)
    fit(b, X, y, epochs=5, batch_size=10, checkpoint=path, resume=True)  # extend the run
    np.testing.assert_array_equal(b.get_flat_params(), c.get_flat_params())
    with pytest.raises(ValueError, match="already done 5 epochs"):
        fit(Network([3, 1]), X, y, epochs=2, batch_size=10, checkpoint=path, resume=True)


def test_early_stopped_run_stays_stopped_on_resume(data, tmp_path):
    X, y = data

    def run(**kw):
        net = Network([3, 1], seed=0)
        es = EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
        hist = fit(net, X, y, epochs=50, batch_size=10, callbacks=[es], **kw)
        return net, hist

    net, hist = run(checkpoint=tmp_path)
    assert len(hist.epoch) == 2  # no epoch improves by 10
    net2, hist2 = run(checkpoint=tmp_path, resume=True)
    assert hist2.epoch == hist.epoch
    np.testing.assert_array_equal(net2.get_flat_params(), net.get_flat_params())


def test_checkpoint_is_atomic_keeps_previous_and_is_data_only(data, tmp_path):
    X, y = data
    fit(Network([3, 2, 1]), X, y, epochs=4, batch_size=10, checkpoint=tmp_path, checkpoint_every=3)
    newest, prev = checkpoint_files(tmp_path)
    assert newest == tmp_path / "checkpoint.npz" and prev == tmp_path / "checkpoint.prev.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == [newest.name, prev.name]  # no .tmp
    a, b = read_checkpoint(newest), read_checkpoint(prev)
    assert (a.epoch, a.step) == (4, 20) and b.step == 18  # the final one, and step 18
    with np.load(newest, allow_pickle=False) as npz:  # plain arrays: nothing to unpickle
        assert all(npz[k].dtype != object for k in npz.files)
        header = json.loads(npz["header"].tobytes())
    assert header["format"] == "mlplab-checkpoint" and header["opt_state"]["type"] == "AdamState"
    net = a.network()
    np.testing.assert_array_equal(net.get_flat_params(), a.arrays["theta"])


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "delete"])
def test_damaged_newest_falls_back_to_previous_with_a_warning(data, tmp_path, damage):
    X, y = data
    ref = Network([3, 4, 1], seed=0)
    fit(ref, X, y, epochs=5, batch_size=8, seed=1)
    with pytest.raises(CrashError):
        fit(
            Network([3, 4, 1], seed=0),
            X,
            y,
            epochs=5,
            batch_size=8,
            seed=1,
            callbacks=[CrashAt(17)],
            checkpoint=tmp_path,
            checkpoint_every=5,
        )
    newest, prev = checkpoint_files(tmp_path)
    raw = newest.read_bytes()
    if damage == "truncate":
        newest.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":  # one bit of the theta array's data
        with zipfile.ZipFile(newest) as z:
            start = z.getinfo("theta.npy").header_offset
        name_len, extra_len = np.frombuffer(raw[start + 26 : start + 30], dtype="<u2")
        pos = start + 30 + int(name_len) + int(extra_len) + 128 + 5  # past the .npy header
        newest.write_bytes(raw[:pos] + bytes([raw[pos] ^ 1]) + raw[pos + 1 :])
    elif damage == "garbage":
        newest.write_bytes(b"not a checkpoint")
    else:
        newest.unlink()
    if damage != "delete":
        with pytest.raises(CheckpointError):
            read_checkpoint(newest)
    probe = FirstStep()
    net = Network([3, 4, 1], seed=0)
    with pytest.warns(CheckpointWarning, match="resuming from the previous checkpoint"):
        fit(
            net,
            X,
            y,
            epochs=5,
            batch_size=8,
            seed=1,
            callbacks=[probe],
            checkpoint=tmp_path,
            checkpoint_every=5,
            resume=True,
        )
    assert probe.first == 11  # from the previous checkpoint (step 10), not 15
    np.testing.assert_array_equal(net.get_flat_params(), ref.get_flat_params())
    assert read_checkpoint(newest).step == 35  # the damaged file was replaced
    assert read_checkpoint(prev).step == 35


def test_both_checkpoints_damaged_is_a_clear_error(tmp_path):
    newest, prev = checkpoint_files(tmp_path / "c.npz")
    newest.write_bytes(b"junk")
    prev.write_bytes(b"PK\x03\x04junk")
    with pytest.raises(CheckpointError, match=r"no usable checkpoint: .*c\.npz.*c\.prev\.npz"):
        load_latest(newest)
    assert load_latest(tmp_path / "other.npz") is None


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"X": "scaled"}, "training data"),
        ({"layers": [3, 5, 1]}, "different network"),
        ({"opt": optimizers.adam(0.02)}, "optimizer setting"),
        ({"opt": optimizers.sgd(0.05)}, "different optimizer"),
        ({"batch_size": 5}, "batch_size"),
    ],
)
def test_resume_refuses_a_checkpoint_of_another_run(data, tmp_path, change, what):
    X, y = data
    fit(
        Network([3, 4, 1]),
        X,
        y,
        optimizer=optimizers.adam(0.05),
        epochs=1,
        batch_size=8,
        checkpoint=tmp_path,
    )
    X2 = X * 2 if change.get("X") else X
    net = Network(change.get("layers", [3, 4, 1]))
    before = net.get_flat_params()
    with pytest.raises(CheckpointError, match=f"cannot resume .*{what}"):
        fit(
            net,
            X2,
            y,
            optimizer=change.get("opt", optimizers.adam(0.05)),
            epochs=2,
            batch_size=change.get("batch_size", 8),
            checkpoint=tmp_path,
            resume=True,
        )
    np.testing.assert_array_equal(net.get_flat_params(), before)  # nothing was changed


class Counter(Callback):
    """A user callback with its own state, checkpointed through state_dict()."""

    def __init__(self):
        self.n = 0
        self.seen = np.zeros(3)

    def on_batch_end(self, batch, logs):
        self.n += 1
        self.seen += logs["loss"]

    def state_dict(self):
        return {"n": self.n, "seen": self.seen}

    def load_state_dict(self, state):
        self.n, self.seen = state["n"], state["seen"]


def test_user_callback_state_is_checkpointed(data, tmp_path):
    X, y = data
    ref = Counter()
    fit(Network([3, 1]), X, y, epochs=3, batch_size=10, callbacks=[ref])
    with pytest.raises(CrashError):
        fit(
            Network([3, 1]),
            X,
            y,
            epochs=3,
            batch_size=10,
            callbacks=[Counter(), CrashAt(8)],
            checkpoint=tmp_path,
            checkpoint_every=2,
        )
    again = Counter()
    fit(
        Network([3, 1]),
        X,
        y,
        epochs=3,
        batch_size=10,
        callbacks=[again],
        checkpoint=tmp_path,
        resume=True,
    )
    assert again.n == ref.n == 15
    np.testing.assert_array_equal(again.seen, ref.seen)


def test_missing_callback_on_resume_warns(data, tmp_path):
    X, y = data
    fit(
        Network([3, 1]),
        X,
        y,
        epochs=1,
        batch_size=10,
        callbacks=[GradientNormLogger()],
        checkpoint=tmp_path,
    )
    with pytest.warns(CheckpointWarning, match="GradientNormLogger"):
        fit(Network([3, 1]), X, y, epochs=2, batch_size=10, checkpoint=tmp_path, resume=True)


@pytest.mark.parametrize(
    ("kwargs", "exc", "msg"),
    [
        ({"resume": True}, ValueError, "resume=True needs checkpoint"),
        ({"checkpoint_every": 5}, ValueError, "checkpoint_every needs checkpoint"),
        (
            {"checkpoint": "c.npz", "checkpoint_every": 0},
            ValueError,
            "checkpoint_every must be > 0",
        ),
        (
            {"checkpoint": "c.npz", "checkpoint_every": 2.5},
            TypeError,
            "checkpoint_every must be an",
        ),
        ({"checkpoint": 3}, TypeError, "checkpoint must be a path"),
        ({"checkpoint": ""}, ValueError, "checkpoint must be a file or folder name"),
        ({"checkpoint": "c.npz", "resume": "yes"}, TypeError, "resume must be True or False"),
        ({"restore_best": 1}, TypeError, "restore_best must be True, False, 'loss' or"),
        ({"restore_best": "best"}, ValueError, "restore_best must be True, False, 'loss' or"),
        ({"restore_best": "val_loss"}, ValueError, "restore_best='val_loss' needs validation"),
    ],
)
def test_bad_checkpoint_arguments(data, tmp_path, monkeypatch, kwargs, exc, msg):
    monkeypatch.chdir(tmp_path)
    X, y = data
    with pytest.raises(exc, match=msg):
        fit(Network([3, 1]), X, y, epochs=1, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_read_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory"):
        read_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_checkpoint(tmp_path / "none.npz")
    model = mlplab.save(Network([2, 1]), tmp_path / "model.npz")  # a model is no checkpoint
    with pytest.raises(CheckpointError, match="no 'checksum' array"):
        read_checkpoint(model)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x80\x04junk")  # starts like a pickle: refused before np.load sees it
    with pytest.raises(CheckpointError, match="not an .npz archive"):
        read_checkpoint(junk)
    with pytest.raises(RuntimeError, match="call fit"):
        Trainer(Network([2, 1])).save_checkpoint(tmp_path / "x.npz")


def test_save_checkpoint_by_hand_then_continue_elsewhere(data, tmp_path):
    X, y = data
    t = Trainer(Network([3, 2, 1]), optimizers.adam(0.05), seed=3)
    t.fit(X, y, epochs=2, batch_size=10)
    t.save_checkpoint(tmp_path / "c.npz")
    t.fit(X, y, epochs=3, batch_size=10)  # the same trainer goes on to epoch 5
    net = Network([3, 2, 1], seed=9)
    t2 = Trainer(net, optimizers.adam(0.05), seed=0)
    t2.fit(X, y, epochs=5, batch_size=10, checkpoint=tmp_path / "c.npz", resume=True)
    assert (t2.epoch, t2.step) == (t.epoch, t.step) == (5, 25)
    np.testing.assert_array_equal(net.get_flat_params(), t.net.get_flat_params())
    assert t2.history.history == t.history.history
