"""mlplab.fit's fused step (mlplab.train.fitstep): the same bits as the trainer's chain of
calls on every route it takes, and the chain wherever it does not apply."""

from __future__ import annotations

import hashlib
import signal

import numpy as np
import pytest

from mlplab import DivergenceError, EarlyStopping, Network, ReduceLROnPlateau, fit
from mlplab.core import optimizers
from mlplab.train import fitstep
from mlplab.train.callbacks import Callback
from mlplab.train.loop import Trainer
from mlplab.train.run import Checkpoints

rng = np.random.default_rng(7)
X = rng.normal(size=(67, 4))  # batches of 16: four full ones and a short one of 3
Xv = rng.normal(size=(20, 4))
TARGETS = {
    "binary": lambda A: (A[:, 0] * A[:, 1] > 0).astype(int),
    "multiclass": lambda A: (A[:, 0] > 0).astype(int) + (A[:, 2] > 0.5).astype(int),
    "regression": lambda A: A[:, 0] - 0.5 * A[:, 3],
}
OPTIMIZERS = {
    "sgd": lambda: optimizers.sgd(0.3),
    "momentum": lambda: optimizers.momentum(0.3, 0.9),
    "nesterov": lambda: optimizers.nesterov(0.2, 0.9),
    "adam": lambda: optimizers.adam(0.03),
    "rmsprop": lambda: optimizers.rmsprop(0.01),
}


def _digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _fit(counted_steps, fused, *args, **kw):
    """(history, network, trainer, steps by the chain, steps by the fused step) of
    ``fit(*args, **kw)`` with the fused step on or off."""
    with counted_steps(fused, fitstep._Plan, "gradient") as counts:
        hist = fit(*args, **kw)
    return hist, args[0], hist.trainer, counts["chain"], counts["fused"]


def _state(net, trainer, hist):
    """Everything a fit leaves behind, as bits."""
    opt = [(f, _digest(np.asarray(v))) for f, v in trainer.opt_state._asdict().items()]
    grads = _digest(trainer._grad_flat)
    return _digest(net.get_flat_params()), opt, grads, trainer.step, trainer.epoch, hist.history


def _same(counted_steps, make_net, *args, **kw):
    """Fit with the fused step and without; assert the same bits. Returns the steps the
    chain and the fused step ran, and the history."""
    h1, n1, t1, chain1, fused1 = _fit(counted_steps, True, make_net(), *args, **kw)
    h0, n0, t0, chain0, fused0 = _fit(counted_steps, False, make_net(), *args, **kw)
    assert fused0 == 0
    assert _state(n1, t1, h1) == _state(n0, t0, h0)
    assert chain1 + fused1 == chain0
    return chain1, fused1, h1.history


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("head", list(TARGETS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_bits_as_the_chain(opt, head, dtype, counted_steps):
    y = TARGETS[head](X)
    k = 3 if head == "multiclass" else 1
    hidden = {"binary": "relu", "multiclass": "tanh", "regression": "sigmoid"}[head]
    l2 = 0.01 if dtype == "float64" else 0.0

    def make():
        return Network([4, 6, 5, k], hidden=hidden, output=head, dtype=dtype, l2=l2, seed=3)

    val = (Xv, TARGETS[head](Xv))
    kw = dict(epochs=4, batch_size=16, seed=2, validation_data=val)
    chain, fused, history = _same(counted_steps, make, X, y, OPTIMIZERS[opt](), **kw)
    # the first step of each batch size (and, stepping into the second θ vector, of
    # each θ vector) runs the chain; every other step the fused one
    assert fused >= 20 - 4 and chain <= 4


@pytest.mark.parametrize("restore_best", [True, "loss"])
def test_restore_best_and_early_stopping(counted_steps, restore_best):
    y = TARGETS["binary"](X)
    val = (Xv, TARGETS["binary"](Xv)) if restore_best is True else None
    stop = "val_loss" if val else "loss"
    chain, fused, history = _same(
        counted_steps,
        lambda: Network([4, 8, 1], seed=1),
        X,
        y,
        optimizers.momentum(1.5, 0.9),
        epochs=6,
        batch_size=10,
        seed=4,
        validation_data=val,
        restore_best=restore_best,
        callbacks=[EarlyStopping(monitor=stop, patience=1)],
    )
    assert fused > chain


@pytest.mark.parametrize("opt", ["momentum", "adam"])
def test_reduce_lr_on_plateau_rebuilds_the_step(counted_steps, opt):
    """ReduceLROnPlateau swaps the checked step for one with the new α mid-fit."""
    y = TARGETS["multiclass"](X)
    chain, fused, history = _same(
        counted_steps,
        lambda: Network([4, 6, 3], output="multiclass", seed=2),
        X,
        y,
        OPTIMIZERS[opt](),
        epochs=6,
        batch_size=16,
        callbacks=[ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1.0)],
    )
    lrs = history["lr"]
    assert fused > chain and lrs[-1] < lrs[0]  # α was cut, the step rebuilt, mid-fit


class Hook(Callback):
    """A callback with ``on_batch_end``: the fused step must not run."""

    def __init__(self):
        self.seen = []

    def on_batch_end(self, batch, logs):
        self.seen.append(logs["loss"])


def test_batch_hooks_run_the_chain(counted_steps):
    y = TARGETS["binary"](X)
    hook = Hook()
    h, _, _, chain, fused = _fit(
        counted_steps, True, Network([4, 5, 1], seed=0), X, y, optimizers.momentum(0.1),
        epochs=2, batch_size=16, callbacks=[hook],
    )  # fmt: skip
    assert fused == 0 and chain == 10 and len(hook.seen) == 10


def test_sample_weights_dropout_and_batch_gd_run_the_chain(counted_steps):
    y = TARGETS["binary"](X)
    cases = [
        (Network([4, 5, 1], seed=0), dict(sample_weight=np.ones(67), batch_size=16)),
        (Network([4, 5, 1], keep_prob=0.8, seed=0), dict(batch_size=16)),
        (Network([4, 5, 1], seed=0), dict(batch_size=None)),
    ]
    for net, kw in cases:
        _, _, _, chain, fused = _fit(counted_steps, True, net, X, y, epochs=2, **kw)
        assert fused == 0 and chain > 0


class CrashError(RuntimeError):
    pass


@pytest.mark.parametrize("opt", ["momentum", "adam"])
def test_checkpoints_and_resume_mid_epoch(monkeypatch, tmp_path, opt, counted_steps):
    """A run killed after a checkpoint mid-epoch resumes to the uninterrupted run's bits,
    whichever route took the steps before and after."""
    y = TARGETS["multiclass"](X)

    def make():
        return Network([4, 6, 3], hidden="relu", output="multiclass", seed=5)

    kw = dict(epochs=3, batch_size=16, seed=1)
    ref = _fit(counted_steps, False, make(), X, y, OPTIMIZERS[opt](), **kw)
    ref_state = _state(ref[1], ref[2], ref[0])
    write = Checkpoints.write

    def crash_after(self, trainer, position):
        write(self, trainer, position)
        if trainer.step == 8:  # batch 3 of epoch 1
            raise CrashError

    for before, after in [(True, True), (False, True), (True, False)]:
        path = tmp_path / f"{before}{after}"
        with monkeypatch.context() as m:
            m.setattr(Checkpoints, "write", crash_after)
            with pytest.raises(CrashError):
                _fit(counted_steps, before, make(), X, y, OPTIMIZERS[opt](), **kw,
                     checkpoint=path, checkpoint_every=4)  # fmt: skip
        h, net, tr, _, fused = _fit(
            counted_steps, after, Network([4, 6, 3], output="multiclass", seed=9), X, y,
            OPTIMIZERS[opt](), **kw, checkpoint=path, checkpoint_every=4, resume=True,
        )  # fmt: skip
        assert (fused > 0) == after
        assert _state(net, tr, h)[:2] == ref_state[:2]
        assert _state(net, tr, h)[3:] == ref_state[3:]


class Blowup(Callback):
    """After epoch 1, sets one weight to a huge value: the next steps overflow."""

    def on_epoch_end(self, epoch, logs):
        if epoch == 1:
            self.trainer.net._theta[0] = 1e30


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
def test_divergence_is_refused_the_same_way(monkeypatch, opt):
    """A non-finite step is refused before θ changes: the same error, θ and state."""
    y = TARGETS["regression"](X)
    out = []
    for fused in (True, False):
        net = Network([4, 6, 1], output="regression", dtype="float32", seed=2)
        trainer = Trainer(net, OPTIMIZERS[opt](), [Blowup()], seed=0)
        with monkeypatch.context() as m:
            m.setattr(fitstep, "ENABLED", fused)
            with pytest.raises(DivergenceError) as err:
                trainer.fit(X, y, epochs=5, batch_size=16)
        e = err.value
        out.append((str(e), e.epoch, e.step, e.layer, _state(net, trainer, trainer.history)))
    assert out[0] == out[1]
    assert out[0][1] == 2


def _ctrl_c_at_step_13(monkeypatch, fused):
    """A fit in which Ctrl-C is pressed during step 13, whichever route runs it."""
    chain, gradient = Trainer._step, fitstep._Plan.gradient
    calls = {"n": 0}

    def press():
        calls["n"] += 1
        if calls["n"] == 13:
            signal.raise_signal(signal.SIGINT)

    def step(self, *a):
        press()
        return chain(self, *a)

    def fused_gradient(self, rows):
        press()
        return gradient(self, rows)

    y = TARGETS["binary"](X)
    with monkeypatch.context() as m:
        m.setattr(Trainer, "_step", step)
        m.setattr(fitstep._Plan, "gradient", fused_gradient)
        m.setattr(fitstep, "ENABLED", fused)
        net = Network([4, 5, 1], seed=0)
        with pytest.warns(RuntimeWarning, match="interrupted at epoch 2, step 13"):
            hist = fit(net, X, y, optimizers.momentum(0.2), epochs=4, batch_size=16)
    return _state(net, hist.trainer, hist)


@pytest.mark.usefixtures("python_sigint_handler")  # tests/conftest.py
def test_ctrl_c_stops_after_the_same_step(monkeypatch):
    """The first Ctrl-C ends the run after the current step, on either route."""
    assert _ctrl_c_at_step_13(monkeypatch, True) == _ctrl_c_at_step_13(monkeypatch, False)
