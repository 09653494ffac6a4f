"""The real `mlplab` command, run in subprocesses."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args, check=True):
    env = dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning")
    proc = subprocess.run(
        [sys.executable, "-m", "mlplab", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_default_train_reaches_95_percent_and_prints_results():
    proc = run("train")
    out = proc.stdout
    assert "train accuracy" in out and "test accuracy" in out and "final cost J" in out
    test_acc = float(out.split("test accuracy:")[1].split()[0])
    assert test_acc >= 0.95
    assert "epoch 100" in proc.stderr  # progress goes to stderr (plain lines: not a TTY)


def test_json_output_and_out_folder(tmp_path: Path):
    out = tmp_path / "run"
    proc = run(
        "train",
        "--json",
        "--epochs",
        "20",
        "--layers",
        "8",
        "--optimizer",
        "momentum",
        "--lr",
        "0.1",
        "--beta",
        "0.9",
        "--out",
        str(out),
    )
    result = json.loads(proc.stdout)
    assert {"train_accuracy", "test_accuracy", "final_cost", "epochs"} <= set(result)
    assert result["epochs"] == 20 and result["layer_sizes"] == [30, 8, 1]
    assert (out / "model.npz").stat().st_size > 0
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] == result["test_accuracy"]
    import mlplab

    net = mlplab.load(out / "model.npz")
    assert net.layer_sizes == [30, 8, 1] and net.standardizer is not None


def test_logistic_regression_from_the_cli():
    proc = run(
        "train",
        "--layers",
        "",
        "--optimizer",
        "sgd",
        "--batch-size",
        "full",
        "--epochs",
        "300",
        "--json",
        "--quiet",
    )
    result = json.loads(proc.stdout)
    assert result["layer_sizes"] == [30, 1] and result["test_accuracy"] >= 0.95
    assert proc.stderr == ""


@pytest.mark.parametrize("dataset", ["digits", "moons", "circles"])
def test_other_datasets(dataset):
    result = json.loads(
        run("train", "--dataset", dataset, "--epochs", "30", "--json", "--quiet").stdout
    )
    assert result["test_accuracy"] > 0.8


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["--activation", "swish"], "invalid choice: 'swish'"),
        (["--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
        (["--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["--lr", "-1"], "lr must be > 0"),
        (["--layers", "16,x"], "--layers must be comma-separated integers"),
        (["--beta", "1.5"], "beta must lie in [0, 1)"),
        (["--epochs", "ten"], "invalid int value"),
    ],
)
def test_bad_values_give_one_line_errors(args, msg):
    proc = run("train", "--quiet", *args, check=False)
    assert proc.returncode == 2
    assert msg in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_help_and_version():
    assert "train" in run("--help").stdout
    assert run("--version").stdout.startswith("mlplab ")
