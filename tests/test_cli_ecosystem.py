"""CSV in, predictions out, model files described and plotted: the real `mlplab` command."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import mlplab

MLPLAB = Path(sys.executable).with_name("mlplab")


def run(*args, check=True):
    cmd = [str(MLPLAB)] if MLPLAB.exists() else [sys.executable, "-m", "mlplab"]
    env = dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning")
    proc = subprocess.run(
        [*cmd, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    names = np.array(["setosa", "versicolor", "virginica"])
    centers = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.5, 2.0]])
    k = np.repeat(np.arange(3), 40)
    X = centers[k] + rng.normal(0, 0.25, size=(120, 4))
    cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    iris = write_csv(
        d / "iris.csv",
        [*cols, "species"],
        [[*x.round(3), names[i]] for x, i in zip(X, k, strict=True)],
    )
    # the same flowers with the columns in another order and no species column
    unlabeled = write_csv(d / "new.csv", cols[::-1], [list(x.round(3))[::-1] for x in X[:5]])
    moons_X = rng.normal(size=(160, 2))
    moons_y = np.where(moons_X[:, 0] * moons_X[:, 1] > 0, "same", "diff")
    moons = write_csv(
        d / "xor.csv",
        ["u", "v", "sign"],
        [[*x.round(4), c] for x, c in zip(moons_X, moons_y, strict=True)],
    )
    Xr = rng.uniform(-1, 1, size=(150, 2))
    reg = write_csv(
        d / "reg.csv",
        ["x1", "x2", "y"],
        [[*x.round(4), round(2 * x[0] - x[1] + 0.3, 4)] for x in Xr],
    )
    proc = run(
        "train",
        "--data",
        iris,
        "--target",
        "species",
        "--epochs",
        40,
        "--lr",
        0.05,
        "--out",
        d / "iris",
        "--json",
        "--quiet",
    )
    summary = json.loads(proc.stdout)
    run(
        "train",
        "--data",
        moons,
        "--target",
        "sign",
        "--layers",
        "16,16",
        "--activation",
        "tanh",
        "--epochs",
        60,
        "--lr",
        0.02,
        "--out",
        d / "xor",
        "--quiet",
    )
    return {
        "dir": d,
        "iris": iris,
        "new": unlabeled,
        "xor": moons,
        "reg": reg,
        "summary": summary,
        "iris_model": d / "iris" / "model.npz",
        "xor_model": d / "xor" / "model.npz",
        "labels": names[k],
    }


def test_train_on_csv_keeps_the_label_encoding(files):
    s = files["summary"]
    assert s["data"].endswith("iris.csv") and s["target"] == "species"
    assert s["task"] == "classification" and s["classes"] == ["setosa", "versicolor", "virginica"]
    assert s["layer_sizes"] == [4, 16, 8, 3] and s["test_accuracy"] > 0.85
    header = mlplab.io.read_header(files["iris_model"])
    assert header["data"]["feature_names"] == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    ]
    assert header["data"]["classes"]["values"] == ["setosa", "versicolor", "virginica"]


def test_predict_to_stdout_and_file(files):
    proc = run("predict", files["iris_model"], files["iris"])
    rows = list(csv.reader(proc.stdout.splitlines()))
    assert rows[0] == ["species"] and len(rows) == 121
    predicted = np.array([r[0] for r in rows[1:]])
    assert (predicted == files["labels"]).mean() > 0.85
    out = files["dir"] / "preds.csv"
    proc = run("predict", files["iris_model"], files["new"], "--proba", "--out", out)
    assert proc.stdout == "" and "wrote 5 predictions" in proc.stderr
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["species", "proba_setosa", "proba_versicolor", "proba_virginica"]
    for r in rows[1:]:
        probs = np.array(r[1:], dtype=float)
        assert r[0] == rows[0][1 + probs.argmax()][len("proba_") :]
        assert probs.sum() == pytest.approx(1, abs=1e-4)
    # the reordered columns of new.csv are the first 5 rows of iris.csv
    assert [r[0] for r in rows[1:]] == predicted[:5].tolist()
    data = json.loads(run("predict", files["iris_model"], files["new"], "--json", "--proba").stdout)
    assert data["n_samples"] == 5 and len(data["probabilities"]) == 5
    assert data["classes"] == ["setosa", "versicolor", "virginica"]


def test_evaluate_text_and_json(files):
    text = run("evaluate", files["iris_model"], files["iris"], "--target", "species").stdout
    assert "accuracy:" in text and "log-loss:" in text and "confusion matrix" in text
    assert "setosa" in text.splitlines()[-3]
    res = json.loads(run("evaluate", files["iris_model"], files["iris"], "--json").stdout)
    net = mlplab.load(files["iris_model"])
    X = np.loadtxt(files["iris"], delimiter=",", skiprows=1, usecols=range(4))
    predicted = np.array(["setosa", "versicolor", "virginica"])[net.predict(X)]
    assert res["accuracy"] == pytest.approx(np.mean(predicted == files["labels"]))
    M = np.array(res["confusion_matrix"])
    assert (
        M.shape == (3, 3) and M.sum() == 120 and np.trace(M) / 120 == pytest.approx(res["accuracy"])
    )
    assert 0 < res["log_loss"] < 1


def test_info_text_and_json(files):
    text = run("info", files["iris_model"]).stdout
    assert "[4, 16, 8, 3]" in text and "243 parameters" in text and "adam" in text
    assert "layer 1: W (16, 4)  g=relu  init=he" in text and "'species'" in text
    info = json.loads(run("info", files["iris_model"], "--json").stdout)
    assert info["n_params"] == 243 and info["epochs"] == 40 and info["optimizer"] == "adam"
    assert info["classes"] == ["setosa", "versicolor", "virginica"]
    assert [l["activation"] for l in info["layers"]] == ["relu", "relu", "multiclass head"]
    assert "grad_norm/W1" in info["history_keys"] and "act/a1/p50" in info["history_keys"]


@pytest.mark.parametrize("kind", ["loss", "boundary", "gradients", "activations", "confusion"])
def test_plot_every_kind(files, kind):
    import matplotlib.image as mpimg

    out = files["dir"] / f"{kind}.png"
    proc = run("plot", files["xor_model"], "--kind", kind, "--out", out, "--json")
    assert json.loads(proc.stdout)["out"] == str(out)
    image = mpimg.imread(out)
    assert image.shape[0] > 300 and image.shape[1] > 400
    assert image[..., :3].std() > 0.05  # something is drawn, not a blank canvas


def test_plot_with_data(files):
    for kind in ("boundary", "activations"):
        out = files["dir"] / f"data_{kind}.png"
        run(
            "plot",
            files["xor_model"],
            "--kind",
            kind,
            "--data",
            files["xor"],
            "--out",
            out,
            "--quiet",
        )
        assert out.stat().st_size > 10_000


def test_regression_csv_end_to_end(files):
    d = files["dir"]
    s = json.loads(
        run(
            "train",
            "--data",
            files["reg"],
            "--target",
            "y",
            "--epochs",
            100,
            "--lr",
            0.01,
            "--out",
            d / "reg",
            "--json",
            "--quiet",
        ).stdout
    )
    assert s["task"] == "regression" and s["test_r2"] > 0.9
    res = json.loads(run("evaluate", d / "reg" / "model.npz", files["reg"], "--json").stdout)
    assert res["r2"] > 0.9 and res["mse"] < 0.1
    rows = list(
        csv.reader(run("predict", d / "reg" / "model.npz", files["reg"]).stdout.splitlines())
    )
    assert rows[0] == ["y"] and len(rows) == 151


def test_estimator_files_work_with_the_commands(files, tmp_path):
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = np.where(X[:, 0] > 0, "up", "down")
    clf = mlplab.MLPClassifier((5,), max_iter=30, learning_rate_init=0.05, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    model = mlplab.save(clf, tmp_path / "clf.npz")
    data = write_csv(tmp_path / "x.csv", ["a", "b", "c"], X[:4].round(5).tolist())
    preds = [r[0] for r in csv.reader(run("predict", model, data).stdout.splitlines())][1:]
    assert preds == clf.predict(X[:4].round(5)).tolist()
    info = json.loads(run("info", model, "--json").stdout)
    assert info["kind"] == "MLPClassifier" and info["classes"] == ["down", "up"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "--data", "{bad_cell}", "--target", "y"],
            r"bad\.csv, line 3, column 'b' \(column 2\): 'x' is not a number",
        ),
        (
            ["train", "--data", "{iris}", "--target", "kind"],
            r"iris\.csv, line 1: no column 'kind' in the header",
        ),
        (
            ["predict", "{iris_model}", "{xor}"],
            r"xor\.csv, line 1: the model's feature 'sepal_length' is missing",
        ),
        (
            ["evaluate", "{xor_model}", "{bad_label}", "--target", "sign"],
            r"line 2, column 'sign' \(column 3\): label 'both' is not one",
        ),
        (["info", "{garbage}"], r"garbage\.npz: not a valid mlplab model file"),
        (
            ["plot", "{iris_model}", "--kind", "boundary", "--out", "{png}"],
            r"needs 2 input features",
        ),
        (
            ["predict", "{iris_model}", "{latin1}"],
            r"latin1\.csv, line 2, column 'sepal_length' \(column 1\): byte 0xe9",
        ),
    ],
)
def test_errors_are_one_line_naming_file_line_and_column(files, args, message):
    d = files["dir"]
    paths = {
        "bad_cell": write_csv(d / "bad.csv", ["a", "b", "y"], [[1, 2, 0], [3, "x", 1]]),
        "bad_label": write_csv(d / "label.csv", ["u", "v", "sign"], [[0.1, 0.2, "both"]]),
        "garbage": d / "garbage.npz",
        "latin1": d / "latin1.csv",
        "png": d / "never.png",
        **{k: v for k, v in files.items() if isinstance(v, Path)},
    }
    paths["garbage"].write_bytes(b"PK\x03\x04 not really a zip")
    paths["latin1"].write_bytes(b"sepal_length,sepal_width,petal_length,petal_width\n5\xe9,3,1,0\n")
    proc = run(*[a.format(**paths) for a in args], check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlplab: error: "), proc.stderr
    import re

    assert re.search(message, lines[0]), lines[0]
    assert not (d / "never.png").exists()


def test_dataframe_estimator_matches_csv_columns_by_name(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    df = pd.DataFrame(rng.normal(size=(60, 3)).round(4), columns=["p", "q", "r"])
    reg = mlplab.MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(df, df.p * 2)
    model = mlplab.save(reg, tmp_path / "reg.npz")
    data = tmp_path / "shuffled.csv"
    df[["r", "q", "p"]].head(4).to_csv(data, index=False)
    proc = run("predict", model, data, "--json")
    assert proc.stderr == ""  # no "X does not have valid feature names" warning
    np.testing.assert_allclose(json.loads(proc.stdout)["predictions"], reg.predict(df.head(4)))
