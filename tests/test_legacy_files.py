"""Model files and checkpoints written by mlplab at commit 1413e4d (before the package
moved to its layered layout) still load, predict and resume exactly.

The files are in tests/fixtures/legacy/ (see its README.md): they were written once by
``make_fixtures.py`` and must never be regenerated. Each test copies what it uses to
``tmp_path`` first, and goes through the public, documented entry points only:
``mlplab.load``/``save``, ``mlplab.io.load_trainer``, ``mlplab.fit(..., checkpoint=...,
resume=True)``, ``mlplab.checkpoint.read_checkpoint``, the estimators, and the ``mlplab``
command (``python -m mlplab``), so that they keep proving the same thing after the move.

Results are compared bit for bit (one BLAS thread, as when they were recorded) where
OpenBLAS runs the kernel they were recorded with (:data:`RECORDED_KERNEL`). Under another
kernel (another CPU family) a dot product may round differently in its last bit and a
resumed run carries that on, so they are compared to a few units in the last place of
their dtype (:data:`ROUNDING`). The data-parallel checkpoint, which resumes on other
numbers of ranks, is compared to 1e-10 everywhere: there the floating-point summation
order differs (what tests/test_distributed.py holds K ranks to).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import mlplab
from mlplab.checkpoint import read_checkpoint
from mlplab.io import load_trainer

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
sys.path.insert(0, str(LEGACY))
import legacy_build as B  # noqa: E402

MANIFEST = json.loads((LEGACY / "manifest.json").read_text(encoding="utf-8"))
SRC = Path(mlplab.__file__).resolve().parents[1]  # the mlplab under test, for subprocesses

NETWORKS = {  # file: (dtype, head)
    "network_binary_f32": ("float32", "binary"),
    "network_multiclass_f64_l2": ("float64", "multiclass"),
    "network_regression_f32_standardizer": ("float32", "regression"),
    "network_f64_with_header_info": ("float64", "binary"),
    "trainer_adam_f64": ("float64", "binary"),
    "trainer_momentum_f32_no_optimizer": ("float32", "binary"),
}
TRAINERS = ("trainer_adam_f64", "trainer_momentum_f32_no_optimizer")
ESTIMATORS = {"classifier_strings_f32": "MLPClassifier", "regressor_f64": "MLPRegressor"}
CHECKPOINTS = ("adam_f64_minibatch", "momentum_f32_restore_best", "rmsprop_f64_batch_gd")
MPI_CHECKPOINT = "mpi_2ranks_f64"

RECORDED_KERNEL = "SkylakeX"
"""The OpenBLAS kernel the results were recorded with (NumPy's OpenBLAS on Intel AVX-512)."""


def _kernel() -> str | None:
    from threadpoolctl import threadpool_info

    kinds = {i.get("architecture") for i in threadpool_info() if i["internal_api"] == "openblas"}
    return kinds.pop() if len(kinds) == 1 else None


EXACT = _kernel() == RECORDED_KERNEL
ROUNDING = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-13}
"""Relative tolerance under another kernel: about 8 units in the last place (float32), 450
(float64); measured on AMD EPYC (Haswell kernel): at most 1e-7 and 4e-16."""


@pytest.fixture(autouse=True)
def one_blas_thread():
    # The recorded results were computed with one BLAS thread (README, "Guarantees").
    with threadpool_limits(limits=1):
        yield


def _copy(rel: str, tmp_path: Path) -> Path:
    """A copy of the committed fixture ``rel`` (file or folder) in ``tmp_path``."""
    src = LEGACY / rel
    dst = tmp_path / src.name
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    return dst


def _env() -> dict[str, str]:
    env = dict(os.environ, **B.ONE_THREAD)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SRC), str(LEGACY), *filter(None, [env.get("PYTHONPATH")])]
    )
    return env


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "mlplab", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _expected(name: str) -> dict[str, np.ndarray]:
    with np.load(LEGACY / "models" / f"{name}.expected.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _assert_same(got, expected) -> None:
    got = np.asarray(got)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if EXACT or got.dtype not in ROUNDING:
        np.testing.assert_array_equal(got, expected)
    else:
        rtol = ROUNDING[got.dtype]
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def _same_history(got: dict, expected: dict) -> None:
    """Histories (JSON numbers): equal, or to float32 rounding under another kernel."""
    if EXACT:
        assert got == expected
        return
    assert sorted(got) == sorted(expected)
    for key, values in expected.items():
        np.testing.assert_allclose(got[key], values, rtol=ROUNDING[np.dtype(np.float32)])


class FirstStep(mlplab.Callback):
    """The trainer's step count after the first update of this fit call."""

    first = None

    def on_batch_end(self, batch, logs):
        if self.first is None:
            self.first = self.trainer.step


# ------------------------------------------------------------------- the fixtures


def test_the_fixtures_are_all_there_and_unchanged():
    written = MANIFEST["written_by"]
    assert written["commit"] == "1413e4dd74dc0f9e7e104d9ec56fe4a99b9752a6"
    digests = MANIFEST["sha256"]
    assert len(digests) == 67  # every file make_fixtures.py wrote
    for rel, digest in digests.items():
        data = (LEGACY / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{rel} was changed or regenerated"
    names = {Path(rel).name for rel in digests}
    for name in [*NETWORKS, *ESTIMATORS]:
        assert f"{name}.npz" in names and f"{name}.expected.npz" in names
    assert set(MANIFEST["models"]) == {*NETWORKS, *ESTIMATORS}
    assert set(MANIFEST["checkpoints"]) == {*CHECKPOINTS, MPI_CHECKPOINT}
    folders = [f"checkpoints/{name}" for name in (*CHECKPOINTS, MPI_CHECKPOINT)]
    for folder in [*folders, "cli/checkpoint"]:
        for f in ("checkpoint.npz", "checkpoint.prev.npz"):
            assert f"{folder}/{f}" in digests


# ------------------------------------------------------------------- model files


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_network_file_loads_to_the_recorded_predictions(name, tmp_path):
    path = _copy(f"models/{name}.npz", tmp_path)
    net = mlplab.load(path)
    assert isinstance(net, mlplab.Network)
    dtype, head = NETWORKS[name]
    assert net.dtype == np.dtype(dtype) and net.config()["output"] == head
    expected = _expected(name)
    X = expected["X"]
    methods = ["predict"] + (["predict_proba"] if head != "regression" else [])
    assert sorted(expected) == sorted(["X", *methods])
    for method in methods:
        _assert_same(getattr(net, method)(X), expected[method])
    assert np.unique(expected[methods[-1]]).size > 2  # not a constant output
    # saved again by today's mlplab, it still gives the same predictions
    again = mlplab.load(mlplab.save(net, tmp_path / "again.npz"))
    for method in methods:
        _assert_same(getattr(again, method)(X), expected[method])


def test_standardizer_and_l2_come_back(tmp_path):
    reg = mlplab.load(_copy("models/network_regression_f32_standardizer.npz", tmp_path))
    assert isinstance(reg.standardizer, mlplab.Standardizer)
    assert reg.standardizer.scale_.max() > 10 * reg.standardizer.scale_.min()  # really used
    multi = mlplab.load(_copy("models/network_multiclass_f64_l2.npz", tmp_path))
    assert multi.config()["l2"] == 0.05
    assert multi.config()["init"] == ["xavier", "he", "xavier"]
    assert multi.standardizer is None


@pytest.mark.parametrize("name", TRAINERS)
def test_saved_trainer_continues_to_the_recorded_run(name, tmp_path):
    rec = B.read_json(LEGACY / "models" / f"{name}.continued.json")
    expected_theta = np.load(LEGACY / "models" / f"{name}.continued_theta.npy")
    trainer = load_trainer(_copy(f"models/{name}.npz", tmp_path))
    assert (trainer.step, trainer.epoch) == (rec["saved"]["step"], rec["saved"]["epoch"])
    assert trainer.step > 0
    before = trainer.net.get_flat_params()
    X, y = B.load_array("X"), B.load_array("y_binary")
    trainer.fit(X, y, **rec["fit"])
    theta = trainer.net.get_flat_params()
    assert not np.array_equal(theta, before)  # it trained
    _assert_same(theta, expected_theta)
    _same_history(trainer.history.history, rec["history"])
    assert (trainer.step, trainer.epoch) == (rec["step"], rec["epoch"])


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_file_loads_predicts_and_continues_exactly(name, tmp_path):
    est = mlplab.load(_copy(f"models/{name}.npz", tmp_path))
    assert type(est).__name__ == ESTIMATORS[name]
    assert isinstance(est, getattr(mlplab, ESTIMATORS[name]))
    fitted = B.read_json(LEGACY / "models" / f"{name}.fitted.json")
    expected = _expected(name)
    X = expected["X"]
    _assert_same(est.predict(X), expected["predict"])
    if "predict_proba" in expected:
        _assert_same(est.predict_proba(X), expected["predict_proba"])
        assert est.classes_.tolist() == fitted["classes"] == ["ant", "bee", "cat"]
        assert set(expected["predict"].tolist()) == {"ant", "bee", "cat"}
    params = {k: v for k, v in est.get_params().items() if k != "random_state"}
    params["hidden_layer_sizes"] = list(params["hidden_layer_sizes"])
    assert {k: params[k] for k in fitted["params"]} == fitted["params"]
    # the parameters scikit-learn has and older files lack (issue 15) take their defaults
    defaults = type(est)().get_params()
    assert {k: v for k, v in params.items() if k not in fitted["params"]} == {
        k: defaults[k] for k in params if k not in fitted["params"]
    }
    assert est.n_features_in_ == fitted["n_features_in"]
    assert (est.n_iter_, est.t_) == (fitted["n_iter"], fitted["t"])
    assert est.loss_curve_ == fitted["loss_curve"] and est.history_ == fitted["history"]
    # One more epoch continues from the saved parameters and optimizer state. Not to the
    # recorded θ any more: issue 15 made solver="adam"/"sgd" scikit-learn's update rules and
    # the shuffles scikit-learn's RandomState draws, and n_iter_ counts one call's epochs.
    Xe = B.load_array("X_est")
    y = B.load_array("y_est" if "predict_proba" in expected else "Y_est")
    theta = est.network_.get_flat_params().copy()
    state = est._opt_state
    est.partial_fit(Xe, y)
    after = fitted["after_partial_fit"]
    assert (est.n_iter_, est.t_) == (1, after["t"])
    assert est.loss_curve_[:-1] == fitted["loss_curve"] and len(est.loss_curve_) == len(
        after["loss_curve"]
    )
    new = est.network_.get_flat_params()
    assert np.isfinite(new).all() and not np.array_equal(new, theta)
    assert est._opt_state.count == state.count + (after["n_iter"] - fitted["n_iter"]) * (
        -(-Xe.shape[0] // 200) if est.batch_size == "auto" else -(-Xe.shape[0] // est.batch_size)
    )


# ------------------------------------------------------------------- checkpoints


def _spec(folder: Path) -> dict:
    return B.read_json(folder / "run.json")


def _fresh(spec: dict) -> dict:
    """The run's settings with other seeds: resuming must take θ and the RNG from the file."""
    spec = json.loads(json.dumps(spec))
    spec["network"]["seed"] += 100
    spec["fit"]["seed"] += 100
    return spec


@pytest.mark.parametrize("start", ["newest", "previous"])
@pytest.mark.parametrize("name", CHECKPOINTS)
def test_checkpoint_resumes_to_exactly_the_uninterrupted_run(name, start, tmp_path):
    folder = _copy(f"checkpoints/{name}", tmp_path)
    spec = _spec(folder)
    key = "checkpoint.npz" if start == "newest" else "checkpoint.prev.npz"
    rec = spec["recorded"][key]
    ck = read_checkpoint(folder / key)
    assert (ck.step, ck.epoch) == (rec["step"], rec["epoch"])
    pos = ck.header["position"]
    assert (None if pos is None else pos["batch"]) == rec["batch"]
    assert sorted(ck.arrays) == rec["arrays"]
    assert 0 < ck.step and ck.epoch < spec["fit"]["epochs"]

    X, y = B.data(spec)
    fresh = _fresh(spec)
    net = B.network(fresh, X)
    probe = FirstStep()
    run = {
        "callbacks": [*B.callbacks(spec), probe],
        "checkpoint": folder,
        "checkpoint_every": spec["fit"]["checkpoint_every"],
        "resume": True,
        **B.fit_kwargs(fresh, X, y),
    }
    if start == "newest":
        hist = mlplab.fit(net, X, y, **run)
    else:  # the newest file is gone: the run falls back to the previous one, with a warning
        (folder / "checkpoint.npz").unlink()
        with pytest.warns(UserWarning, match="resuming from the previous checkpoint"):
            hist = mlplab.fit(net, X, y, **run)
    assert probe.first == rec["step"] + 1  # resumed there, not restarted
    expected = np.load(folder / "expected_theta.npy")
    _assert_same(net.get_flat_params(), expected)
    _same_history(hist.history, B.read_json(folder / "expected_history.json"))
    assert not np.array_equal(ck.arrays["theta"], expected)
    done = read_checkpoint(folder / "checkpoint.npz")
    assert done.epoch == spec["fit"]["epochs"] and done.step > ck.step


def test_checkpoint_fixtures_cover_mid_epoch_restore_best_and_callbacks():
    adam = _spec(LEGACY / "checkpoints" / "adam_f64_minibatch")["recorded"]
    assert adam["checkpoint.npz"]["batch"] == 4 and adam["checkpoint.prev.npz"]["batch"] == 7
    assert adam["checkpoint.npz"]["callbacks"] == ["GradientNormLogger", "EarlyStopping", "History"]
    best = _spec(LEGACY / "checkpoints" / "momentum_f32_restore_best")
    assert best["fit"]["restore_best"] == "loss"
    assert {"best_theta", "epoch_start_theta", "standardizer_mean"} <= set(
        best["recorded"]["checkpoint.npz"]["arrays"]
    )
    gd = _spec(LEGACY / "checkpoints" / "rmsprop_f64_batch_gd")["recorded"]
    assert (
        gd["checkpoint.npz"]["batch"] is None
        and "cb1__best_theta" in gd["checkpoint.npz"]["arrays"]
    )


# ------------------------------------------------------------ the 2-rank checkpoint


def _mpi_expected(folder: Path) -> tuple[np.ndarray, dict]:
    return np.load(folder / "expected_theta.npy"), B.read_json(folder / "expected_history.json")


def _close(theta: np.ndarray, history: dict, expected: np.ndarray, expected_history: dict) -> None:
    np.testing.assert_allclose(theta, expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())
    assert sorted(history) == sorted(expected_history)
    for key, values in expected_history.items():  # epoch 0 comes from the checkpoint
        np.testing.assert_allclose(history[key], values, rtol=1e-10)


def test_mpi_checkpoint_resumes_in_one_process(tmp_path):
    folder = _copy(f"checkpoints/{MPI_CHECKPOINT}", tmp_path)
    spec = _spec(folder)
    ck = read_checkpoint(folder / "checkpoint.npz")
    assert (ck.step, ck.epoch, ck.header["position"]["batch"]) == (10, 1, 4)  # mid-epoch
    assert ck.header["run"]["n_samples"] == 45 and ck.header["run"]["batch_size"] == 8
    X, y = B.data(spec)
    fresh = _fresh(spec)
    net = B.network(fresh, X)
    probe = FirstStep()
    hist = mlplab.fit(
        net,
        X,
        y,
        callbacks=[*B.callbacks(spec), probe],
        checkpoint=folder,
        checkpoint_every=spec["fit"]["checkpoint_every"],
        resume=True,
        **B.fit_kwargs(fresh, X, y),
    )
    assert probe.first == ck.step + 1
    expected, expected_history = _mpi_expected(folder)
    assert np.abs(ck.arrays["theta"] - expected).max() > 1e-4  # far from the end: a sharp test
    _close(net.get_flat_params(), hist.history, expected, expected_history)


def _mpiexec() -> str | None:
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


@pytest.mark.skipif(
    _mpiexec() is None or importlib.util.find_spec("mpi4py") is None,
    reason="mpiexec or mpi4py not found: install the extra with pip install -e '.[mpi]'",
)
def test_mpi_checkpoint_resumes_on_4_ranks(tmp_path):
    folder = _copy(f"checkpoints/{MPI_CHECKPOINT}", tmp_path)
    out = tmp_path / "out.npz"
    env = _env()
    # Open MPI refuses to run as root without both of these (CI containers run as root).
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = [_mpiexec(), "--oversubscribe", "-n", "4", sys.executable]
    cmd += [str(LEGACY / "mpi_resume.py"), str(folder), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as res:
        assert int(res["ranks"]) == 4
        assert int(res["resumed_at"]) == 10
        all_ranks = res["all_ranks"]
        history = {k.split("/", 1)[1]: res[k].tolist() for k in res.files if "/" in k}
    assert all_ranks.shape[0] == 4
    assert (all_ranks == all_ranks[0]).all(), "ranks hold different θ"
    _close(all_ranks[0], history, *_mpi_expected(folder))


# ------------------------------------------------------------------- command line


def test_cli_predict_and_info_on_the_legacy_model(tmp_path):
    commands = B.read_json(LEGACY / "cli" / "commands.json")
    model = _copy("cli/model.npz", tmp_path)
    data = _copy("data/new.csv", tmp_path)
    argv = B.fill(commands["predict"], model=str(model), data=str(data))
    out = _cli(*argv, cwd=tmp_path).stdout
    expected = (LEGACY / "cli" / "predict_proba.csv").read_text(encoding="utf-8")
    assert out == expected
    assert out.splitlines()[0].startswith("species,proba_setosa")
    assert len(out.splitlines()) == 7
    info = json.loads(_cli(*B.fill(commands["info"], model=str(model)), cwd=tmp_path).stdout)
    assert info.pop("file") == str(model)
    assert info == B.read_json(LEGACY / "cli" / "info.json")
    assert info["classes"] == ["setosa", "versicolor", "virginica"]


def test_cli_info_on_every_legacy_model_file(tmp_path):
    recorded = B.read_json(LEGACY / "cli" / "info_models.json")
    assert sorted(recorded) == sorted([*NETWORKS, *ESTIMATORS])
    for name, expected in recorded.items():
        path = _copy(f"models/{name}.npz", tmp_path)
        info = json.loads(_cli("info", path, "--json", cwd=tmp_path).stdout)
        assert info.pop("file") == str(path)
        assert info == expected, name


def test_cli_checkpoint_resumes_to_the_uninterrupted_run(tmp_path):
    commands = B.read_json(LEGACY / "cli" / "commands.json")
    rec = B.read_json(LEGACY / "cli" / "checkpoint_expected.json")
    ckpt = _copy("cli/checkpoint", tmp_path)
    data = _copy("data/iris.csv", tmp_path)
    first, full = commands["checkpoint_epochs"]
    assert read_checkpoint(ckpt / "checkpoint.npz").epoch == first
    # resumed with another initializer than the run's: the checkpoint's θ must win
    argv = B.fill(
        commands["checkpoint"],
        *commands["resume"],
        "--epochs",
        str(full),
        "--out",
        str(tmp_path / "out"),
        data=str(data),
        ckpt=str(ckpt),
    )
    assert "--resume" in argv and "--init" in argv
    got = json.loads(_cli(*argv, cwd=tmp_path).stdout)
    expected = rec["stdout"]
    for key in ("epochs", "train_accuracy", "test_accuracy", "layer_sizes"):
        assert got[key] == expected[key], key
    assert got["final_cost"] == pytest.approx(expected["final_cost"], rel=0 if EXACT else 1e-6)
    assert got["epochs"] == full
    theta = mlplab.load(tmp_path / "out" / "model.npz").get_flat_params()
    _assert_same(theta, np.load(LEGACY / "cli" / "checkpoint_expected_theta.npy"))
    assert read_checkpoint(ckpt / "checkpoint.npz").epoch == full
