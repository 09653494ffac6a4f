"""Reliability: reproducibility, Ctrl-C, divergence and numerical warnings."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import mlplab
from mlplab import DivergenceError, Network, Trainer, fit
from mlplab._validation import InputScaleWarning
from mlplab.core import optimizers
from mlplab.core.activations import Activation
from mlplab.core.optimizers import Optimizer
from mlplab.train.callbacks import Callback
from mlplab.train.checkpoint import read_checkpoint

# ------------------------------------------------------------------ reproducibility

REPRO = """
import hashlib, sys
import numpy as np
import mlplab

def run(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    y = rng.integers(0, 3, size=300)
    net = mlplab.Network([8, 16, 16, 3], output="multiclass", dtype=dtype, seed=7)
    hist = mlplab.fit(net, X, y, optimizer=mlplab.optimizers.adam(0.01), epochs=15,
                      batch_size=20, seed=11)
    h = hashlib.sha256(net.get_flat_params().tobytes())
    h.update(repr(hist.history).encode())
    return h.hexdigest()

if __name__ == "__main__":
    print(run("float32"), run("float64"))
"""


def test_same_seed_gives_bit_identical_weights_in_one_process():
    ns: dict = {}
    exec(REPRO, ns)
    assert ns["run"]("float32") == ns["run"]("float32")
    assert ns["run"]("float64") == ns["run"]("float64")


def test_same_seed_gives_bit_identical_weights_in_two_processes(tmp_path):
    script = tmp_path / "repro.py"
    script.write_text(REPRO)
    children = [
        subprocess.Popen(
            [sys.executable, str(script)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outs.append(out.split())
    ns: dict = {}
    exec(REPRO, ns)
    here = [ns["run"]("float32"), ns["run"]("float64")]
    assert outs[0] == outs[1] == here
    assert here[0] != here[1]  # (the digests do see the weights)


def test_different_seeds_give_different_weights(rng):
    X = rng.normal(size=(40, 3))
    y = rng.integers(0, 2, size=40)
    a, b, c = Network([3, 4, 1], seed=0), Network([3, 4, 1], seed=0), Network([3, 4, 1], seed=1)
    fit(a, X, y, epochs=2, batch_size=8, seed=0)
    fit(b, X, y, epochs=2, batch_size=8, seed=1)  # other shuffles
    fit(c, X, y, epochs=2, batch_size=8, seed=0)  # other init
    assert not np.array_equal(a.get_flat_params(), b.get_flat_params())
    assert not np.array_equal(a.get_flat_params(), c.get_flat_params())


# ------------------------------------------------------------------ Ctrl-C


class CtrlCAt(Callback):
    """Presses Ctrl-C (a real SIGINT) during update number ``step``'s callbacks."""

    def __init__(self, step, times=1):
        self.at, self.times = step, times

    def on_batch_end(self, batch, logs):
        if self.trainer.step == self.at:
            for _ in range(self.times):
                signal.raise_signal(signal.SIGINT)


class Snapshot(Callback):
    def __init__(self, step):
        self.at, self.theta = step, None

    def on_batch_end(self, batch, logs):
        if self.trainer.step == self.at:
            self.theta = self.trainer.net.get_flat_params()


pytestmark = pytest.mark.usefixtures("python_sigint_handler")  # tests/conftest.py


@pytest.fixture
def xy(rng):
    X = rng.normal(size=(60, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def test_ctrl_c_stops_at_end_of_step_and_returns_history(xy, tmp_path):
    X, y = xy
    snap = Snapshot(17)
    ref = Network([4, 5, 1])
    ref_hist = fit(ref, X, y, epochs=6, batch_size=8, callbacks=[snap])
    net = Network([4, 5, 1])
    trainer = Trainer(net, None, [CtrlCAt(17)])
    with pytest.warns(RuntimeWarning, match="training interrupted at epoch 2, step 17"):
        hist = trainer.fit(X, y, epochs=6, batch_size=8, checkpoint=tmp_path)
    assert trainer.interrupted and trainer.step == 17 and trainer.epoch == 2
    assert hist.epoch == [0, 1]  # the completed epochs (8 steps each)
    assert hist.history["loss"] == ref_hist.history["loss"][:2]
    np.testing.assert_array_equal(net.get_flat_params(), snap.theta)  # step 17's parameters
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert read_checkpoint(tmp_path / "checkpoint.npz").step == 17
    resumed = Network([4, 5, 1], seed=3)
    hist2 = fit(resumed, X, y, epochs=6, batch_size=8, checkpoint=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed.get_flat_params(), ref.get_flat_params())
    assert hist2.history == ref_hist.history


def test_ctrl_c_at_an_epoch_end_and_restore_best(xy):
    X, y = xy
    net = Network([4, 5, 1])

    class CtrlCAtEpoch1(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                signal.raise_signal(signal.SIGINT)

    with pytest.warns(RuntimeWarning, match="keeps its best parameters"):
        hist = fit(
            net, X, y, epochs=9, batch_size=None, callbacks=[CtrlCAtEpoch1()], restore_best=True
        )
    assert hist.epoch == [0, 1]


def test_second_ctrl_c_aborts_at_once(xy):
    X, y = xy
    with pytest.raises(KeyboardInterrupt):
        fit(Network([4, 1]), X, y, epochs=5, batch_size=8, callbacks=[CtrlCAt(3, times=2)])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_training_in_a_thread_leaves_signals_alone(xy):
    X, y = xy
    result = {}

    def work():
        result["hist"] = fit(Network([4, 1]), X, y, epochs=2, batch_size=8)

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert result["hist"].epoch == [0, 1]


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning")
    return subprocess.Popen(
        [sys.executable, "-m", "mlplab", "train", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_cli_ctrl_c_saves_model_and_checkpoint_and_resume_is_exact(tmp_path):
    import time

    common = [
        "--dataset",
        "gaussian",
        "--layers",
        "8",
        "--batch-size",
        "8",
        "--epochs",
        "100",
        "--quiet",
        "--checkpoint-every",
        "200",
    ]
    run = _cli(*common, "--checkpoint", "ck", cwd=tmp_path)
    ckpt = tmp_path / "ck" / "checkpoint.npz"
    deadline = time.monotonic() + 120
    while not ckpt.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlplab: interrupted at epoch")
    assert "ck/model.npz" in lines[0] and "--resume" in lines[0]
    step = read_checkpoint(ckpt).step
    assert 200 <= step < 100 * 47
    stopped = mlplab.load(tmp_path / "ck" / "model.npz")
    np.testing.assert_array_equal(stopped.get_flat_params(), read_checkpoint(ckpt).arrays["theta"])
    resume = _cli(*common, "--checkpoint", "ck", "--resume", cwd=tmp_path)
    _, err = resume.communicate(timeout=300)
    assert resume.returncode == 0, err
    final = read_checkpoint(ckpt)
    assert final.step == 100 * 47

    # The uninterrupted run, in this process, through what the command calls.
    from mlplab.recipes import train_dataset

    result = train_dataset("gaussian", layers="8", batch_size=8, epochs=100)
    np.testing.assert_array_equal(final.arrays["theta"], result.net.get_flat_params())
    (saved,) = [c for c in final.header["callbacks"] if c["class"] == "History"]
    assert saved["values"]["history"] == result.history.history


def test_cli_ctrl_c_without_folders_saves_into_mlplab_interrupted(tmp_path, monkeypatch, capsys):
    from mlplab import cli
    from mlplab.commands import train as train_cmd

    def press_ctrl_c(self, batch, logs):
        if self.trainer.step == 30:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(train_cmd._KeepTrainer, "on_batch_end", press_ctrl_c, raising=False)
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["train", "--dataset", "xor", "--epochs", "50", "--quiet"])
    assert rc == 130
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "step 30" in captured.err
    folder = tmp_path / "mlplab-interrupted"
    assert read_checkpoint(folder / "checkpoint.npz").step == 30
    assert mlplab.load(folder / "model.npz").layer_sizes == [2, 16, 8, 1]
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    args = ["train", "--dataset", "xor", "--epochs", "50", "--quiet", "--json"]
    assert cli.main([*args, "--checkpoint", "mlplab-interrupted", "--resume"]) == 0
    resumed = capsys.readouterr().out
    assert cli.main(args) == 0
    assert capsys.readouterr().out == resumed  # the same metrics as an uninterrupted run


# ------------------------------------------------------------------ divergence


def test_divergence_names_epoch_step_layer_and_keeps_last_finite_parameters():
    X = np.array([[1e4, -1e4], [2e4, 3e4], [-1e4, 5e3]], dtype=np.float32)
    y = np.array([0.0, 1.0, 2.0])
    net = Network([2, 8, 8, 1], output="regression", init="normal(10)")
    seen = []

    class Keep(Callback):
        def on_batch_end(self, batch, logs):
            seen.append(self.trainer.net.get_flat_params())

    with pytest.raises(DivergenceError) as info:
        fit(
            net,
            X,
            y,
            optimizer=optimizers.sgd(10.0),
            epochs=50,
            batch_size=None,
            callbacks=[Keep()],
        )
    err = info.value
    assert err.step == len(seen) and err.epoch == err.step  # batch GD: one step per epoch
    assert err.layer == 3 and err.layers == [3, 2, 1]  # backprop meets layer L first
    msg = str(err)
    assert f"epoch {err.epoch}, step {err.step}" in msg and "layer 3 of L=3" in msg
    assert "learning rate" in msg and "\n" not in msg
    np.testing.assert_array_equal(net.get_flat_params(), seen[-1])  # the last finite step
    assert err.history.epoch == list(range(err.epoch))


def _bad_derivative(Z, A):
    out = np.ones_like(Z)
    out[0, 0] = np.inf  # g'(z) blows up in layer 1 only
    return out


def test_divergence_in_a_lower_layer_with_finite_cost(rng):
    X = rng.normal(size=(10, 3))
    y = rng.integers(0, 2, size=10)
    g = Activation("explodes", lambda Z: Z, _bad_derivative)
    ident = mlplab.activations.get("identity")
    net = Network([3, 4, 4, 1], hidden=[g, ident])
    before = net.get_flat_params()
    with pytest.raises(DivergenceError, match="first went non-finite in layer 1 of L=3") as info:
        fit(net, X, y, epochs=1, batch_size=None)
    assert info.value.layer == 1 and info.value.layers == [1]
    assert "cost J" not in str(info.value)  # J itself was finite
    np.testing.assert_array_equal(net.get_flat_params(), before)


def test_divergence_of_the_update_itself(rng):
    X = rng.normal(size=(10, 3))
    y = rng.integers(0, 2, size=10)
    base = optimizers.sgd(0.1)

    def update(grads, state, params=None):
        updates, state = base.update(grads, state, params)
        if state.count == 3:
            updates = updates.copy()
            updates[-1] = np.inf
        return updates, state

    net = Network([3, 1])
    with pytest.raises(DivergenceError, match=r"sgd update \(or θ plus it\) became") as info:
        fit(net, X, y, optimizer=Optimizer(base.init, update, "sgd"), epochs=5, batch_size=5)
    assert info.value.step == 2 and info.value.layer is None
    assert np.isfinite(net.get_flat_params()).all()


def test_restore_best_on_divergence_and_at_the_end(rng):
    X = rng.normal(size=(40, 2))
    y = X @ np.array([1.0, -2.0])
    base = optimizers.sgd(0.05)

    def update(grads, state, params=None):  # from step 8 on, a huge learning rate
        updates, state = base.update(grads, state, params)
        return (updates * 1e30 if state.count >= 8 else updates), state

    starts, losses = [], []

    class Record(Callback):
        def on_epoch_begin(self, epoch, logs):
            starts.append(self.trainer.net.get_flat_params())

        def on_epoch_end(self, epoch, logs):
            losses.append(logs["loss"])

    net = Network([2, 3, 1], output="regression", hidden="tanh", dtype="float64")
    with pytest.raises(DivergenceError, match="keeps the parameters of its best epoch"):
        fit(
            net,
            X,
            y,
            optimizer=Optimizer(base.init, update, "sgd"),
            epochs=50,
            batch_size=None,
            callbacks=[Record()],
            restore_best=True,
        )
    best = int(np.argmin(losses))  # batch GD: loss[e] is J at the start of epoch e
    assert 5 <= best < len(losses) - 1
    np.testing.assert_array_equal(net.get_flat_params(), starts[best])
    assert net.loss(X, y) == pytest.approx(min(losses), rel=1e-12)

    net2 = Network([2, 3, 1], output="regression", hidden="tanh")
    hist = fit(
        net2,
        X,
        y,
        optimizer=optimizers.sgd(0.3),
        epochs=15,
        batch_size=None,
        validation_data=(X[:10], y[:10]),
        restore_best=True,
    )
    assert np.isfinite(net2.get_flat_params()).all()
    best_val = min(hist.history["val_loss"])
    assert net2.loss(X[:10], y[:10]) == pytest.approx(best_val, rel=1e-5)

    # "loss": the training cost decides even when there is validation data
    starts.clear()
    losses.clear()
    net3 = Network([2, 3, 1], output="regression", hidden="tanh", dtype="float64")
    with pytest.raises(DivergenceError):
        fit(
            net3,
            X,
            y,
            optimizer=Optimizer(base.init, update, "sgd"),
            epochs=50,
            batch_size=None,
            callbacks=[Record()],
            validation_data=(X[:5], y[:5] + 100),
            restore_best="loss",
        )
    np.testing.assert_array_equal(net3.get_flat_params(), starts[int(np.argmin(losses))])


def test_cli_divergence_one_line_and_saves_last_finite_model(tmp_path):
    proc = _cli("--optimizer", "sgd", "--lr", "1e30", "--out", "o", "--epochs", "5", cwd=tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("mlplab: error: training diverged at epoch 0, step")
    assert "Saved the last finite parameters to o/model.npz" in lines[0]
    assert np.isfinite(mlplab.load(tmp_path / "o" / "model.npz").get_flat_params()).all()


# ------------------------------------------------------------------ numerical warnings


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_unnormalized_float32_inputs_warn_once_and_nothing_overflows_silently(optimizer, rng):
    X = rng.normal(size=(200, 5)) * np.array([1e6, 3e5, 1.0, 2e6, 10.0])
    y = (X[:, 0] > 0).astype(int)
    net = Network([5, 8, 1])
    opt = optimizers.get(optimizer, lr=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # A clear DivergenceError is fine; a silent overflow is not.
        with np.errstate(all="raise", under="ignore"), contextlib.suppress(DivergenceError):
            fit(net, X.astype(np.float32), y, optimizer=opt, epochs=20, batch_size=16)
    assert [type(w.message) for w in caught] == [InputScaleWarning]
    text = str(caught[0].message)
    assert "e+06 in magnitude" in text and "column 3" in text and "Standardizer" in text
    assert "float32" in text
    assert np.isfinite(net.get_flat_params()).all()


def test_normalized_inputs_do_not_warn(rng):
    X = rng.normal(size=(100, 3)) * 1e6
    y = (X[:, 0] > 0).astype(int)
    net = Network([3, 1], standardizer=mlplab.Standardizer().fit(X))
    fit(net, X, y, epochs=3)  # filterwarnings=error: any warning would fail
    fit(Network([3, 1]), X / 1e6, y, epochs=3)


def test_values_whose_squares_overflow_are_refused(rng):
    X = rng.normal(size=(20, 2)) * 1e20
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="too large to train on in float32"):
        fit(Network([2, 1]), X, y)
    with pytest.warns(InputScaleWarning, match="converges slowly, and can overflow"):
        fit(Network([2, 1], dtype="float64"), X, y, epochs=1)
