"""Targets made batch by batch (mlplab.train.targets): the labels of rows on disk held
once, Y's rows made as the batches gather them, the same bits as check_y's Y.

The sharded CSV route turns it on (``MPI.targets_per_batch``); its K = 1, 2, 4 launches
(tests/test_csv_shards.py) check that every rank's run holds no Y of all its rows."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab._validation import check_y
from mlplab.train import targets as _targets
from mlplab.train.batches import EpochPlan
from mlplab.train.metrics import pairwise_sum
from mlplab.train.strategy import Local
from mlplab.train.targets import Targets, targets


def _labels(head, n, rng):
    if head == "multiclass":
        return rng.integers(0, 4, n).astype(np.uint8), 4
    if head == "binary":
        return rng.integers(0, 2, n).astype(np.uint8), 1
    return rng.normal(size=n) * 1e3, 1  # values: float64, rounded to float32 in Y


@pytest.mark.parametrize("head", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rows_taken_and_sliced_are_check_y_s_bits(head, dtype, monkeypatch):
    monkeypatch.setattr(_targets, "BLOCK_ROWS", 7)  # checked in several blocks
    rng = np.random.default_rng(0)
    y, k = _labels(head, 50, rng)
    Y = check_y(y, head, k, 50, np.dtype(dtype))
    T = targets(y, head, k, 50, np.dtype(dtype))
    assert isinstance(T, Targets) and T.y is y  # held once, not copied
    assert (T.shape, T.dtype, T.ndim, len(T)) == (Y.shape, Y.dtype, 2, 50)
    idx = rng.permutation(50)[:13]
    out = np.full((13, k), np.nan, dtype=dtype)
    assert T.take(idx, axis=0, out=out, mode="clip") is out
    assert out.tobytes() == Y[idx].tobytes()
    assert T.take(idx).tobytes() == Y.take(idx, axis=0).tobytes()
    assert T[3:40].tobytes() == Y[3:40].tobytes()
    labels = _targets.class_indices(mlplab.Network([2, k], output=head), T)
    assert labels is (y if head == "multiclass" else None)


def test_errors_are_check_y_s_messages_for_all_rows(monkeypatch):
    monkeypatch.setattr(_targets, "BLOCK_ROWS", 16)
    y = np.zeros(100)
    y[70] = np.nan  # in the fifth block: the message names row 70 of all rows
    with pytest.raises(ValueError) as whole:
        check_y(y, "regression", 1, 100, np.dtype(np.float32))
    with pytest.raises(ValueError) as blocks:
        targets(y, "regression", 1, 100, np.dtype(np.float32))
    assert str(blocks.value) == str(whole.value) and "row 70" in str(whole.value)
    labels = np.zeros(100, dtype=np.int64)
    labels[[40, 90]] = [2, 7]  # values of all rows in the binary head's message
    with pytest.raises(ValueError, match=r"\{0, 2, 7\}"):
        targets(labels, "binary", 1, 100, np.dtype(np.float32))
    with pytest.raises(ValueError, match="different lengths"):
        targets(labels, "binary", 1, 99, np.dtype(np.float32))


def test_what_it_does_not_make_stays_check_y_s_array():
    y = np.array([0, 1, 2, 1])
    one_hot = np.eye(3)[y]
    assert isinstance(targets(one_hot, "multiclass", 3, 4, np.dtype(np.float32)), np.ndarray)
    assert isinstance(targets(y > 0, "poisson", 1, 4, np.dtype(np.float32)), np.ndarray)
    assert isinstance(targets([0, 1, 1, 0], "binary", 1, 4, np.dtype(np.float32)), np.ndarray)


@pytest.mark.parametrize(
    ("head", "options"),
    [
        ("binary", {"batch_size": 16}),
        ("multiclass", {"batch_size": 16, "keep_prob": [0.7]}),  # the regularized gather
        ("regression", {"batch_size": None}),  # batch GD: every row each step
    ],
)
def test_a_fit_on_rows_on_disk_is_the_same_bits_with_targets_made_per_batch(
    tmp_path, head, options
):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3))
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    y, k = _labels(head, 120, rng)
    options = dict(options)
    keep = options.pop("keep_prob", 1.0)
    seen = []

    def fit(per_batch):
        net = mlplab.Network([3, 5, k], output=head, seed=1, keep_prob=keep)
        strategy = Local()
        strategy.targets_per_batch = per_batch  # type: ignore[attr-defined]
        trainer = mlplab.Trainer(net, mlplab.optimizers.adam(0.01), seed=2, strategy=strategy)
        run = trainer._begin
        trainer._begin = lambda *a, **kw: seen.append(run(*a, **kw)) or seen[-1]  # type: ignore[method-assign]
        val = (mapped[90:], y[90:])
        history = trainer.fit(mapped[:90], y[:90], epochs=3, validation_data=val, **options)
        return net.get_flat_params(), history.history

    theta, hist = fit(False)
    theta_t, hist_t = fit(True)
    assert isinstance(seen[0].Y, np.ndarray) and isinstance(seen[1].val[1], Targets)
    assert isinstance(seen[1].Y, Targets) or options["batch_size"] is None
    assert theta_t.tobytes() == theta.tobytes()
    assert hist_t == hist


def test_an_epoch_s_batches_are_cut_when_read_the_same_as_all_at_once():
    relabel = np.random.default_rng(0).permutation(50).astype(np.int32)
    order = np.random.default_rng(1).permutation(50).astype(np.int32)
    plan = EpochPlan(50, 8, (10, 35))
    plan.relabel, plan.places = relabel, True
    batches = plan.split(order)
    assert len(batches) == 7 and len(batches[2:5]) == 3
    for b in range(7):
        drawn = order[8 * b : 8 * b + 8]
        idx = relabel[drawn]
        mine = (idx >= 10) & (idx < 35)
        got = batches[b]
        assert got.size == drawn.shape[0]
        np.testing.assert_array_equal(got.rows, idx[mine] - 10)
        np.testing.assert_array_equal(batches[b - 7].rows, got.rows)
    with pytest.raises(IndexError):
        batches[7]


def test_a_sum_of_values_fed_in_parts_is_numpy_s_sum_to_the_bit():
    rng = np.random.default_rng(7)
    sizes = [0, 1, 7, 8, 9, 127, 128, 129, 136, 1000, 8193, 65537, 250_001]
    for n in sizes + [int(m) for m in rng.integers(1, 100_000, 8)]:
        a = rng.exponential(size=n) * rng.choice([1e-9, 1.0, 1e9], n)  # rounding shows
        a[rng.random(n) < 0.01] = -0.0
        part = int(rng.integers(1, 9000))
        got = pairwise_sum(n, (a[s : s + part] for s in range(0, n, part)))
        assert got == a.sum() and np.signbit(got) == np.signbit(a.sum()), (n, part)
    a = rng.exponential(size=5000)
    assert pairwise_sum(5000, [a]) != float(np.cumsum(a)[-1])  # not a running sum
