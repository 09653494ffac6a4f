"""ActivationLogger's percentiles: ``np.percentile``'s numbers, bit for bit, from one sort
(``mlplab train`` records them every epoch)."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.train import callbacks
from mlplab.train.callbacks import ActivationLogger, percentiles

Q = ActivationLogger.PERCENTILES


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _arrays(rng: np.random.Generator):
    for trial in range(1500):
        n = int(rng.integers(1, 2000))
        x = rng.standard_normal(n)
        kind = trial % 6
        if kind == 1:
            x = np.maximum(x, 0)  # ReLU: many equal zeros
        elif kind == 2:
            x = np.tanh(5 * x)
        elif kind == 3:
            x = np.round(x, 1)  # ties, and -0.0 beside 0.0
        elif kind == 4:
            x = np.where(x > 0, x, -0.0)  # zeros all -0.0
        elif kind == 5:
            x[: n // 3] = np.inf * np.sign(x[: n // 3])  # ±inf taken and interpolated
        dtype = (np.float32, np.float64)[trial % 2]
        yield x.astype(dtype).reshape((n, 1) if n % 2 else (n,))


def test_percentiles_are_numpys_bit_for_bit():
    rng = np.random.default_rng(0)
    for A in _arrays(rng):
        with np.errstate(invalid="ignore"):  # inf - inf: NumPy warns as well
            assert _same_bits(percentiles(A, Q), np.percentile(A, Q)), A
    for A in (np.array([[np.nan, 1.0]]), np.array([2.5]), np.array([-0.0, 0.0, -0.0])):
        assert _same_bits(percentiles(A, Q), np.percentile(A, Q)), A  # NaN: NumPy's own


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_the_recorded_history_is_that_of_np_percentile(monkeypatch, hidden):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)

    def history() -> dict:
        net = mlplab.Network([5, 16, 8, 1], hidden=hidden, seed=0)
        logger = ActivationLogger(X)
        fit = mlplab.fit(net, X, y, epochs=4, batch_size=32, callbacks=[logger])
        return {k: np.array(v) for k, v in fit.history.items() if k.startswith("act/")}

    new = history()
    monkeypatch.setattr(callbacks, "percentiles", np.percentile)  # what it called before
    old = history()
    assert new.keys() == old.keys() and len(new) == 2 * 6
    for key in new:
        assert _same_bits(new[key], old[key]), key
