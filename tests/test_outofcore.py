"""Out-of-core training: memory-mapped .npy files and folders of shards (mlplab.train.rows,
mlplab.persist.npydata), and the exact sums that make μ and σ independent of the split."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import mlplab
from mlplab.persist.npydata import NpyError, open_rows, read_target
from mlplab.train.callbacks import Callback
from mlplab.train.checkpoint import CheckpointError
from mlplab.train.exactsum import column_sums, mean, moments
from mlplab.train.rows import DataChangedError, MappedRows


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5)) * [1, 3, 10, 0.1, 2] + [0, 1, -4, 2, 0]
    y = (X[:, 0] + X[:, 1] / 3 > 0.5).astype(np.int64) + (X[:, 2] > -4)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    (tmp_path / "shards").mkdir()
    for i, (a, b) in enumerate([(0, 250), (250, 251), (251, 600)]):
        np.save(tmp_path / "shards" / f"part{i}.npy", X[a:b])
    return tmp_path, X, y


@pytest.mark.parametrize(
    ("dtype", "options", "batch_size"),
    [
        ("float32", {}, 32),
        ("float64", {"keep_prob": 0.8}, 50),
        ("float32", {"batch_norm": True}, 64),
        ("float64", {}, None),
    ],
)
def test_memory_mapped_training_equals_in_memory_bit_for_bit(data, dtype, options, batch_size):
    path, X, y = data
    std = mlplab.Standardizer().fit(X)
    runs = []
    for source in (X, np.load(path / "X.npy", mmap_mode="r"), open_rows(path / "shards")):
        net = mlplab.Network([5, 7, 3], output="multiclass", seed=3, dtype=dtype, **options)
        net.standardizer = std
        hist = mlplab.fit(net, source, y, epochs=3, batch_size=batch_size, seed=1)
        runs.append((net.get_flat_params(), hist.history["loss"]))
    for theta, loss in runs[1:]:
        assert np.array_equal(theta, runs[0][0])
        assert loss == runs[0][1]


def test_checkpoint_resume_out_of_core_is_exact_and_shares_the_in_memory_digest(data):
    path, X, y = data
    std = mlplab.Standardizer().fit(X)

    def net():
        return mlplab.Network([5, 7, 3], output="multiclass", seed=3, standardizer=std)

    whole = net()
    mlplab.fit(whole, X, y, epochs=4, batch_size=32, seed=1)
    ckpt = path / "ck" / "checkpoint.npz"
    first = net()
    shards = open_rows(path / "shards")
    mlplab.fit(first, shards, y, epochs=2, batch_size=32, seed=1, checkpoint=ckpt)
    again = net()  # resumed out of core, in a new trainer
    mlplab.fit(again, shards, y, epochs=4, batch_size=32, seed=1, checkpoint=ckpt, resume=True)
    assert np.array_equal(again.get_flat_params(), whole.get_flat_params())
    # a checkpoint written in memory resumes on the memory map: the same data digest
    ck2 = path / "ck2" / "checkpoint.npz"
    mlplab.fit(net(), X, y, epochs=2, batch_size=32, seed=1, checkpoint=ck2)
    mapped = net()
    Xm = np.load(path / "X.npy", mmap_mode="r")
    mlplab.fit(mapped, Xm, y, epochs=4, batch_size=32, seed=1, checkpoint=ck2, resume=True)
    assert np.array_equal(mapped.get_flat_params(), whole.get_flat_params())
    # the same rows in other shards: the layout recorded in the checkpoint says so
    (path / "other").mkdir()
    np.save(path / "other" / "a.npy", X[:300])
    np.save(path / "other" / "b.npy", X[300:])
    with pytest.raises(CheckpointError, match="written for the .npy shards"):
        mlplab.fit(
            net(), open_rows(path / "other"), y, epochs=4, batch_size=32, seed=1,
            checkpoint=ckpt, resume=True,
        )  # fmt: skip


class _Change(Callback):
    """Changes the training file after the first epoch."""

    def __init__(self, path, how):
        self.path, self.how = path, how

    def on_epoch_end(self, epoch, logs):
        if epoch == 0:
            if self.how == "append":
                with open(self.path, "ab") as f:
                    f.write(b"\0" * 8)
            else:  # same size, other values, a later modification time
                a = np.load(self.path, mmap_mode="r+")
                a[5, 2] += 1.0
                a.flush()
                del a
                st = os.stat(self.path)
                os.utime(self.path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


@pytest.mark.parametrize("how", ["append", "rewrite"])
def test_a_file_that_changes_during_training_is_a_clear_error(data, how):
    path, X, y = data
    f = path / "X.npy"
    net = mlplab.Network([5, 7, 3], output="multiclass", standardizer=mlplab.Standardizer().fit(X))
    what = "size 24128 -> 24136 bytes" if how == "append" else "its contents differ"
    with pytest.raises(DataChangedError, match=f"{f}: the training file changed.*{what}"):
        mlplab.fit(
            net, np.load(f, mmap_mode="r"), y, epochs=3, batch_size=32, callbacks=[_Change(f, how)]
        )


def test_bad_npy_inputs_name_the_file(data, tmp_path):
    path, X, y = data
    np.save(path / "shards" / "part9.npy", X[:4, :3])
    with pytest.raises(NpyError, match=r"part9.npy: rows of 3 values, but part0.npy has 5"):
        open_rows(path / "shards")
    np.save(tmp_path / "obj.npy", np.array([[1, "a"]], dtype=object))
    with pytest.raises(NpyError, match="obj.npy: holds object values"):
        open_rows(tmp_path / "obj.npy")
    np.save(tmp_path / "f.npy", np.asfortranarray(X))
    with pytest.raises(NpyError, match="f.npy: stored in Fortran order"):
        open_rows(tmp_path / "f.npy")
    raw = (path / "X.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[:-40])
    with pytest.raises(NpyError, match=r"cut.npy: cut short \(24088 bytes for a \(600, 5\)"):
        open_rows(tmp_path / "cut.npy")
    (tmp_path / "text.npy").write_text("a,b\n1,2\n")
    with pytest.raises(NpyError, match="text.npy: not a .npy file"):
        open_rows(tmp_path / "text.npy")
    with pytest.raises(NpyError, match="gone.npy: no such file"):
        open_rows(tmp_path / "gone.npy")
    with pytest.raises(NpyError, match="y.npy: 600 targets for 601 rows"):
        read_target(path / "y.npy", 601)
    with pytest.raises(ValueError, match="X has 5 features, but the network expects n\\[0\\]=4"):
        mlplab.fit(mlplab.Network([4, 1]), open_rows(path / "X.npy"), y > 0)
    bad = X.copy()
    bad[77, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match=r"X contains NaN \(first at row 77, column 1\)"):
        mlplab.fit(mlplab.Network([5, 1]), np.load(tmp_path / "nan.npy", mmap_mode="r"), y > 0)


def test_open_rows_maps_only_the_rows_asked_for(data):
    path, X, _ = data
    part = open_rows(path / "shards", rows=(240, 260))
    assert [p.shape[0] for p in part.parts] == [10, 1, 9]  # three maps, of those rows only
    assert all(isinstance(p, np.memmap) for p in part.parts)
    np.testing.assert_array_equal(part.rows(np.arange(20)), X[240:260])
    whole = open_rows(path / "X.npy", rows=(599, 600))
    assert whole.parts[0].offset == 128 + 599 * 5 * 8  # the header, then the rows before
    assert isinstance(MappedRows([X]).select([3, 1])[0:1].rows([0]), np.ndarray)


def test_read_target_reads_the_rows_asked_for_from_every_shard(data):
    path, _, y = data
    folder = path / "targets"
    folder.mkdir()
    for i, (a, b) in enumerate([(0, 250), (250, 251), (251, 600)]):
        np.save(folder / f"y{i}.npy", y[a:b])
    for lo, hi in [(0, 600), (240, 260), (250, 251), (300, 300), (599, 600)]:
        got = read_target(folder, 600, rows=(lo, hi))
        assert not isinstance(got, np.memmap)  # copied out of the maps
        np.testing.assert_array_equal(got, y[lo:hi])
    np.testing.assert_array_equal(read_target(folder, 600), y)
    with pytest.raises(NpyError, match="600 targets for 601 rows"):
        read_target(folder, 601, rows=(0, 10))
    np.save(folder / "y3.npy", np.float64(1.0))
    with pytest.raises(NpyError, match="y3.npy: a single value; targets need one value per row"):
        read_target(folder, 601, rows=(0, 10))


def test_train_npy_is_train_arrays_out_of_core(data, capsys):
    from mlplab.cli import main
    from mlplab.recipes import train_arrays, train_npy

    path, X, y = data
    opts = dict(epochs=3, layers="6", dtype="float64", seed=4)
    one = train_npy(path / "X.npy", path / "y.npy", **opts)
    shards = train_npy(path / "shards", path / "y.npy", **opts)
    mem = train_arrays(X, y, **opts)
    assert np.array_equal(one.net.get_flat_params(), shards.net.get_flat_params())
    theta = mem.net.get_flat_params()  # μ, σ by exact sums: equal to rounding
    np.testing.assert_allclose(one.net.get_flat_params(), theta, rtol=1e-10, atol=1e-12)
    for key in ("n_train", "n_test", "test_confusion_matrix", "train_accuracy"):
        assert one.metrics[key] == mem.metrics[key]
    assert one.metrics["test_log_loss"] == pytest.approx(mem.metrics["test_log_loss"], rel=1e-9)
    # the per-epoch validation curve, read from the file block by block
    np.testing.assert_allclose(one.history.history["val_loss"], mem.history.history["val_loss"],
                               rtol=1e-12)  # fmt: skip
    assert one.history.history["val_accuracy"] == mem.history.history["val_accuracy"]
    args = ["train", "--data", str(path / "shards"), "--target", str(path / "y.npy")]
    assert main([*args, "--epochs", "3", "--layers", "6", "--seed", "4", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_train"] == 450 and out["task"] == "classification"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_validation_out_of_core_equals_in_memory_bit_for_bit(data, monkeypatch, dtype):
    import mlplab.train.run

    path, X, y = data
    monkeypatch.setattr(mlplab.train.run, "BLOCK_BYTES", 7 * 5 * 8)  # blocks of 7 rows
    std = mlplab.Standardizer().fit(X[:400])
    runs = []
    val_sources = (X[400:], np.load(path / "X.npy", mmap_mode="r")[400:])
    for X_val in (*val_sources, open_rows(path / "shards", rows=(400, 600))):
        net = mlplab.Network([5, 7, 3], output="multiclass", seed=3, dtype=dtype)
        net.standardizer = std
        stop = mlplab.callbacks.EarlyStopping(patience=2, min_delta=1e-2)
        opt = mlplab.optimizers.momentum(lr=0.3, beta=0.9)
        hist = mlplab.fit(net, X[:400], y[:400], opt, epochs=30, batch_size=16, seed=1,
                          validation_data=(X_val, y[400:]), callbacks=[stop],
                          restore_best="val_loss")  # fmt: skip
        runs.append((net.get_flat_params(), hist.history))
    assert len(runs[0][1]["val_loss"]) < 30  # early stopping ended it
    for theta, history in runs[1:]:
        assert np.array_equal(theta, runs[0][0])
        for key in ("val_loss", "val_accuracy", "loss"):
            assert history[key] == runs[0][1][key]
    bad = np.lib.format.open_memmap(path / "bad.npy", "w+", np.float64, (3, 5))
    bad[1, 2] = np.nan
    bad.flush()
    X_bad = np.load(path / "bad.npy", mmap_mode="r")
    net = mlplab.Network([5, 3], output="multiclass")
    with pytest.raises(ValueError, match=r"X_val contains NaN \(first at row 1, column 2\)"):
        mlplab.fit(net, X, y, epochs=1, validation_data=(X_bad, y[:3]))


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_file_blocks_give_each_rank_one_part_of_the_file_and_the_split_s_batches(size):
    from mlplab.persist.npydata import file_blocks
    from mlplab.train.batches import EpochPlan

    n = 103
    train = np.random.default_rng(5).permutation(n)[:77]  # the split's order
    parts = [file_blocks(train, n, r, size) for r in range(size)]
    ranges = [p[0] for p in parts]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(ranges[r][1] == ranges[r + 1][0] for r in range(size - 1))  # contiguous
    for (a, b), mine, _ in parts:
        assert np.all((mine >= a) & (mine < b)) and np.all(np.diff(mine) > 0)
    held = np.concatenate([p[1] for p in parts])  # every training row, once, in file order
    assert np.array_equal(held, np.sort(train))
    relabel = parts[0][2]
    assert np.array_equal(held[relabel], train)  # p-th row of the split is held at relabel[p]
    plain, mapped = EpochPlan(77, 10), EpochPlan(77, 10)
    mapped.relabel = relabel
    orders = [p.draw(np.random.default_rng(0)) for p in (plain, mapped)]
    for b1, b2 in zip(plain.split(orders[0]), mapped.split(orders[1]), strict=True):
        assert np.array_equal(train[b1.rows], held[b2.rows])  # the same rows, in order


def test_exact_sums_do_not_depend_on_order_or_split():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5000, 2)) * np.array([1e-3, 1e6])
    x[::7] *= 1e12  # a wide range of magnitudes
    sums = column_sums(x)
    for j in range(2):
        assert mean(sums[j], 1) == math.fsum(x[:, j].tolist())
    perm = rng.permutation(5000)
    parts = [column_sums(x[perm][a:b]) for a, b in [(0, 1), (1, 3000), (3000, 5000)]]
    assert [sum(p[j] for p in parts) for j in range(2)] == sums
    mu, sigma = moments(x)
    assert np.array_equal(mu, moments(x[perm])[0])
    np.testing.assert_allclose(mu, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, x.std(axis=0), rtol=1e-12)


@pytest.mark.parametrize("batch_size", [32, None])
def test_dropout_out_of_core_drops_the_units_of_the_in_memory_run(data, batch_size):
    from mlplab.recipes import train_arrays, train_npy

    path, X, y = data  # rows kept in the file's order, batches (and masks) in the split's
    opts = dict(epochs=3, layers="6,5", dtype="float64", seed=4, batch_size=batch_size)
    opts["network_options"] = {"keep_prob": [0.6, 0.8]}
    one = train_npy(path / "X.npy", path / "y.npy", **opts)
    mem = train_arrays(X, y, **opts)
    theta = mem.net.get_flat_params()  # μ, σ by exact sums: equal to rounding
    np.testing.assert_allclose(one.net.get_flat_params(), theta, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(one.history.history["loss"], mem.history.history["loss"],
                               rtol=1e-10)  # fmt: skip
    plain = train_arrays(X, y, **{**opts, "network_options": None})
    assert np.abs(plain.net.get_flat_params() - theta).max() > 1e-3  # dropout did drop


@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("batch_size", [10, None])
def test_each_rank_s_dropout_places_are_those_of_one_process_holding_the_split_s_order(
    size, batch_size
):
    from mlplab.persist.npydata import file_blocks
    from mlplab.train.batches import EpochPlan, ranks
    from mlplab.train.mpi import shard_range

    n = 103
    train = np.random.default_rng(5).permutation(n)[:77]  # the split's order
    held = np.sort(train)  # file order: rank r holds held[lo:hi]
    one = EpochPlan(77, batch_size)
    order = one.draw(np.random.default_rng(0))
    for r in range(size):
        lo, hi = shard_range(77, r, size)
        plan = EpochPlan(77, batch_size, (lo, hi))
        plan.relabel, plan.places = file_blocks(train, n, r, size)[2], True
        assert plan.relabel.dtype == np.int32
        for b1, b2 in zip(one.split(order), plan.split(order), strict=True):
            rows = np.arange(77) if b1.rows is None else b1.rows
            want = np.arange(77) if b1.rows is None else ranks(b1.rows)  # one process
            mine = held[lo:hi][np.arange(hi - lo) if b2.rows is None else b2.rows]
            pos = {int(t): i for i, t in enumerate(train[rows])}  # file row → batch place
            assert b2.size == b1.size and b2.places is not None
            assert [want[pos[int(t)]] for t in mine] == b2.places.tolist()
