"""Issue 19: small networks take the checked optimizer step in place, with the same bits.

:class:`mlplab.fast.step.CheckedStep` proves a gradient-descent / momentum / Nesterov step
finite from g·g before it runs it in place; otherwise it writes θ + update into a second
vector and checks u·g. Since issue 19 the in-place step runs for every size
(``IN_PLACE_MIN = 0``), so these tests hold a whole fit of a small network to the
second-vector path bit for bit, and a non-finite step to being refused before θ changes.
"""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.core import optimizers as _opt
from mlplab.fast import step as fast_step
from mlplab.train import fitstep
from mlplab.train.callbacks import Callback

OPTIMIZERS = {
    "sgd": lambda: _opt.sgd(0.05),
    "momentum": lambda: _opt.momentum(0.1, beta=0.9),
    "nesterov": lambda: _opt.nesterov(0.1, beta=0.9),
}


def _moons(rng: np.random.Generator, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    t = rng.uniform(0, np.pi, n)
    y = rng.integers(0, 2, n)
    X = np.stack([np.cos(t) + y, np.sin(t) * (1 - 2 * y) + 0.5 * y], axis=1)
    X += 0.2 * rng.standard_normal(X.shape)
    return X.astype(np.float32), y


class _CountInPlace:
    """Spy on CheckedStep.step and on mlplab.fit's fused step (mlplab.train.fitstep),
    which takes the same step on its bound vectors: how many steps kept θ in its vector
    (ran in place)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.in_place = self.calls = 0
        original = fast_step.CheckedStep.step
        original_fused = fitstep._Plan.step

        def step(obj, J, g, state, params, spare):  # type: ignore[no-untyped-def]
            out = original(obj, J, g, state, params, spare)
            self.calls += 1
            self.in_place += out[1] is params
            return out

        def fused(plan, J, state, cs):  # type: ignore[no-untyped-def]
            out = original_fused(plan, J, state, cs)
            if out is not None:  # None: the chain's CheckedStep.step takes it (above)
                self.calls += 1
                self.in_place += out is not False and plan.net._theta is plan.theta
            return out

        monkeypatch.setattr(fast_step.CheckedStep, "step", step)
        monkeypatch.setattr(fitstep._Plan, "step", fused)


def _fit(X, y, opt, l2=0.0):  # type: ignore[no-untyped-def]
    net = mlplab.Network([2, 16, 16, 1], output="binary", seed=3, l2=l2)
    hist = mlplab.fit(net, X, y, optimizer=opt, epochs=4, batch_size=32, seed=5)
    return net.get_flat_params(), hist.history


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_small_fit_in_place_equals_second_vector_bit_for_bit(rng, monkeypatch, name, l2):
    X, y = _moons(rng)
    monkeypatch.setattr(fast_step, "IN_PLACE_MIN", 1 << 40)  # the old path: always step_into
    theta_into, hist_into = _fit(X, y, OPTIMIZERS[name](), l2)
    monkeypatch.setattr(fast_step, "IN_PLACE_MIN", 0)
    spy = _CountInPlace(monkeypatch)
    theta, hist = _fit(X, y, OPTIMIZERS[name](), l2)
    assert spy.calls == 4 * 10  # 300 rows in batches of 32
    assert spy.in_place == spy.calls - 1  # all but the first (the state is not its own yet)
    np.testing.assert_array_equal(theta, theta_into)
    assert hist == hist_into


def test_default_small_network_steps_in_place(rng, monkeypatch):
    X, y = _moons(rng, 64)
    spy = _CountInPlace(monkeypatch)
    net = mlplab.Network([2, 8, 1], output="binary", seed=0)  # 33 parameters
    mlplab.fit(net, X, y, optimizer=_opt.momentum(0.1), epochs=2, batch_size=16, seed=0)
    assert (spy.calls, spy.in_place) == (8, 7)


class _KeepTheta(Callback):
    def __init__(self, net: mlplab.Network) -> None:
        self.net = net
        self.last: np.ndarray | None = None

    def on_batch_end(self, batch, logs):  # type: ignore[no-untyped-def]
        self.last = self.net.get_flat_params()


def test_in_place_step_refuses_a_non_finite_step_before_theta_changes(monkeypatch):
    """A diverging fit: every accepted step after the first ran in place, and the refused
    one left θ exactly as the last accepted step did."""
    X = np.array([[1.0, -1.0], [2.0, 3.0], [-1.0, 0.5]], dtype=np.float32)
    y = np.array([0.0, 1.0, 2.0])
    net = mlplab.Network([2, 8, 8, 1], output="regression", hidden="tanh", seed=0)
    keep = _KeepTheta(net)
    spy = _CountInPlace(monkeypatch)
    with pytest.raises(mlplab.DivergenceError):
        mlplab.fit(
            net, X, y, optimizer=_opt.sgd(2.0), epochs=500, batch_size=None, callbacks=[keep]
        )
    assert spy.calls >= 10 and spy.in_place == spy.calls - 2  # the first, and the refused one
    assert keep.last is not None and np.isfinite(keep.last).all()
    np.testing.assert_array_equal(net.get_flat_params(), keep.last)
