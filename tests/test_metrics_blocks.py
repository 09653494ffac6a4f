"""The final metrics of rows spread over MPI ranks (mlplab.train.metrics), computed one
bounded block of rows at a time for rows read through an index (MappedRows): the same
values, to the bit, as the definitions over a prediction of all rows at once."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import mlplab
from mlplab.train import metrics, rows
from mlplab.train.rows import MappedRows


def _identity(x: np.ndarray) -> np.ndarray:
    return x


@pytest.fixture
def blocks(monkeypatch):
    monkeypatch.setattr(rows, "BLOCK_BYTES", 7 * 5 * 8)  # blocks of 7 rows
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    index = rng.permutation(200)[:150]  # rows read through an index, in no order
    return X, MappedRows([X], index), index


@pytest.mark.parametrize("classes", [2, 3])
def test_classification_metrics_by_blocks_are_those_of_all_rows(blocks, classes):
    X, mapped, index = blocks
    head = "binary" if classes == 2 else "multiclass"
    net = mlplab.Network([5, 4, 1 if classes == 2 else classes], output=head, seed=1)
    y = np.random.default_rng(1).integers(0, classes, 150)
    got = metrics.classification(net, mapped, y, _identity, "test")
    P = np.asarray(net.predict_proba(X[index]), dtype=np.float64)
    if P.shape[1] == 1:
        P = np.hstack([1 - P, P])
    nll = float(-np.log(np.clip(P[np.arange(150), y], 1e-15, 1.0)).sum())
    assert got["test_log_loss"] == nll / 150  # bit for bit: one sum of the same terms
    assert got["test_accuracy"] == np.count_nonzero(P.argmax(axis=1) == y) / 150
    counts = np.zeros((max(classes, 2), max(classes, 2)), dtype=np.int64)
    np.add.at(counts, (y, net.predict(X[index]).astype(np.int64)), 1)
    assert metrics.confusion(net, mapped, y, max(classes, 2), _identity) == counts.tolist()


@pytest.mark.parametrize("k", [1, 2])  # one output: sums as the blocks come (pairwise_sums)
def test_regression_metrics_by_blocks_are_those_of_all_rows(blocks, k):
    X, mapped, index = blocks
    net = mlplab.Network([5, 4, k], output="regression", seed=3)
    y = np.random.default_rng(2).normal(size=(150, k)) * 1e3
    got = metrics.regression(net, mapped, y[:, 0] if k == 1 else y, _identity, "train")
    err = np.asarray(net.predict(X[index]), dtype=np.float64).reshape(150, k) - y
    assert got["train_mse"] == float((err**2).sum(axis=0).sum() / (150 * k))
    assert got["train_mae"] == float(np.abs(err).sum() / (150 * k))
    ss_tot = ((y - y.sum(axis=0) / 150) ** 2).sum(axis=0)
    assert got["train_r2"] == float(np.mean(1 - (err**2).sum(axis=0) / ss_tot))


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_metrics_of_more_rows_take_no_memory_a_row_more():
    """The slope of the traced peak over the rows: none (the log-loss terms and one
    output's regression terms summed as they come, with the bits of one sum:
    metrics.pairwise_sums), not one float64 a row for the log-loss nor 24 for the
    regression (the terms held, until the eighth round of issue 18) nor a prediction of
    all rows and its copies (32 and 16 bytes a row before the blocks)."""
    net = mlplab.Network([5, 4, 1], seed=1)
    net1 = mlplab.Network([5, 4, 1], output="regression", seed=1)
    values = np.random.default_rng(2).normal(size=400_000)
    X = np.random.default_rng(0).normal(size=(400_000, 5))
    y = np.random.default_rng(1).integers(0, 2, 400_000)
    calls = {
        "classification": lambda m, n: metrics.classification(net, m, y[:n], _identity, "t"),
        "confusion": lambda m, n: metrics.confusion(net, m, y[:n], 2, _identity),
        "regression": lambda m, n: metrics.regression(net1, m, values[:n], _identity, "t"),
    }
    slopes = []
    for call in calls.values():
        peaks = []
        for n in (200_000, 400_000):
            mapped = MappedRows([X], np.arange(n, dtype=np.int32))  # (not traced)
            peaks.append(_peak(lambda m=mapped, n=n, call=call: call(m, n)))
        small, large = peaks
        slopes.append((large - small) / 200_000)
    assert max(slopes) < 1, slopes
