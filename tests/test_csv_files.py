"""Real CSV files written by pandas, end to end: train → predict → evaluate → info.

Files with an index column, ``;`` as separator, a BOM with CRLF line ends, quoted fields
holding commas, an id column, a text feature and empty cells; every column option of
``mlplab train --data``; the table plan stored in the model file and shared with the
scikit-learn estimators; the fast reader against the exact one.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import mlplab
from mlplab.cli import main
from mlplab.persist import csvfast, csvrows
from mlplab.persist.csvdata import (
    CSVError,
    read_frame,
    read_table,
    read_training_csv,
    training_data,
)
from mlplab.persist.csvheader import cut_points
from mlplab.persist.tableplan import TablePlan

pd = pytest.importorskip("pandas")

CITIES = ["north", "south", "east, west"]  # a category with a comma: pandas quotes it


def _table(n=240, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "id": [f"r{i:04d}" for i in range(n)],
            "x1": rng.normal(size=n).round(4),
            "city": rng.choice(CITIES, n),
            "x2": rng.normal(size=n).round(4),
        }
    )
    df["y"] = np.where(df.x1 + 1.5 * (df.city == "north") > 0.5, "yes", "no")
    df["price"] = (3 * df.x1 - 2 * (df.city == "south") + 1).round(3)
    return df


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("pandas")
    df = _table()
    gaps = df.copy()
    gaps.loc[[3, 50], "x2"] = np.nan
    gaps.loc[7, "city"] = np.nan
    out = {"dir": d, "df": df}
    out["index"] = d / "index.csv"
    df.drop(columns="price").to_csv(out["index"])  # an unnamed first column: the index
    out["semicolon"] = d / "semicolon.csv"
    df.drop(columns="price").to_csv(out["semicolon"], sep=";", index=False)
    out["bom"] = d / "bom.csv"
    df.drop(columns="y").to_csv(
        out["bom"], index=False, encoding="utf-8-sig", lineterminator="\r\n"
    )
    out["gaps"] = d / "gaps.csv"
    gaps.drop(columns="price").to_csv(out["gaps"], index=False)
    return out


def cli(capsys, *args):
    """``mlplab ARGS`` in this process: (exit status, stdout, stderr)."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def train(capsys, data, out, *extra):
    args = ["train", "--data", data, "--epochs", 40, "--lr", 0.01, "--out", out, "--json"]
    code, stdout, stderr = cli(capsys, *args, "--quiet", *extra)
    assert code == 0, stderr
    return json.loads(stdout)


# ------------------------------------------------------------------ the files pandas writes
def test_index_column_id_and_text_feature_end_to_end(files, capsys, tmp_path):
    run = tmp_path / "run"
    s = train(capsys, files["index"], run, "--target", "y", "--id-column", "id")
    # x1, three one-hot columns for city, x2: the index and id columns are not features
    assert s["layer_sizes"][0] == 5 and s["task"] == "classification"
    header = mlplab.io.read_header(run / "model.npz")
    plan = header["data"]["preprocessing"]
    assert [c["name"] for c in plan["columns"]] == ["x1", "city", "x2"]
    assert plan["columns"][1]["categories"] == sorted(CITIES)
    assert plan["id_column"] == "id"
    assert header["data"]["feature_names"][1:4] == [f"city={c}" for c in sorted(CITIES)]

    code, out, err = cli(capsys, "predict", run / "model.npz", files["index"])
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == ["id", "y"] and len(rows) == 241
    assert [r[0] for r in rows[1:]] == files["df"]["id"].tolist()
    assert err == ""  # the index, id and target columns are not "extra"

    code, out, err = cli(capsys, "evaluate", run / "model.npz", files["index"], "--json")
    res = json.loads(out)
    assert res["n_samples"] == 240 and res["accuracy"] > 0.7 and res["training_file"]
    assert "the file this model was trained on" not in err  # --json: no remarks
    code, out, _ = cli(capsys, "evaluate", run / "model.npz", files["index"])
    assert "confusion matrix" in out

    code, out, _ = cli(capsys, "info", run / "model.npz")
    assert "preprocessing (empty cells: error; unknown categories: error; id column 'id')" in out
    assert "city: category, one-hot over 3 ('east, west', 'north', 'south')" in out
    info = json.loads(cli(capsys, "info", run / "model.npz", "--json")[1])
    assert info["preprocessing"] == plan and len(info["standardizer"]["mean"]) == 5


def test_semicolon_is_detected_and_can_be_named(files, capsys, tmp_path):
    s = train(capsys, files["semicolon"], tmp_path / "a", "--target", "y", "--drop", "id")
    assert s["layer_sizes"][0] == 5
    s2 = train(capsys, files["semicolon"], tmp_path / "b", "--target", "y", "--drop", "id",
               "--sep", ";")  # fmt: skip
    assert s2["test_accuracy"] == s["test_accuracy"]
    code, out, _ = cli(capsys, "predict", tmp_path / "a" / "model.npz", files["semicolon"])
    assert code == 0 and out.splitlines()[0] == "y"


def test_a_header_that_looks_like_one_column_gets_a_hint(files, capsys, tmp_path):
    code, _, err = cli(
        capsys, "train", "--data", files["semicolon"], "--target", "y", "--sep", ",", "--quiet"
    )
    assert code == 2 and "the header looks like one column" in err and "pass --sep ';'" in err


def test_bom_crlf_regression_metrics_and_precision(files, capsys, tmp_path):
    run = tmp_path / "reg"
    s = train(capsys, files["bom"], run, "--target", "price", "--id-column", "id")
    assert s["task"] == "regression"
    for key in ("train_r2", "test_r2", "train_mse", "test_mse", "train_mae", "test_mae"):
        assert isinstance(s[key], float), key
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_mae"] == s["test_mae"] and metrics["test_r2"] > 0.5
    code, out, _ = cli(capsys, "predict", run / "model.npz", files["bom"])
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["id", "price"]
    for _, value in rows[1:]:
        assert str(np.float32(value)) == value  # the float32's shortest text, no noise
    res = json.loads(cli(capsys, "evaluate", run / "model.npz", files["bom"], "--json")[1])
    assert {"r2", "mse", "mae"} <= set(res) and res["r2"] > 0.5
    code, out, _ = cli(capsys, "train", "--data", files["bom"], "--target", "price",
                       "--id-column", "id", "--epochs", 5, "--quiet")  # fmt: skip
    assert "train R²:" in out and "test R²:" in out and "MSE:" in out and "MAE:" in out


def test_classification_prints_log_loss_and_confusion_matrix(files, capsys):
    code, out, _ = cli(capsys, "train", "--data", files["index"], "--target", "y",
                       "--id-column", "id", "--epochs", 5)  # fmt: skip
    assert code == 0
    assert "train log-loss:" in out and "test log-loss:" in out
    assert "test confusion matrix (rows: true class, columns: predicted):" in out
    assert out.splitlines()[-3].startswith("true \\ pred")


# ------------------------------------------------------------------ columns
def test_features_and_drop_choose_the_columns(files, capsys, tmp_path):
    s = train(capsys, files["index"], tmp_path / "f", "--target", "y", "--features", "x2,x1")
    assert s["layer_sizes"][0] == 2
    names = mlplab.io.read_header(tmp_path / "f" / "model.npz")["data"]["feature_names"]
    assert names == ["x2", "x1"]
    s = train(capsys, files["index"], tmp_path / "d", "--target", "y", "--drop", "id,city")
    assert s["layer_sizes"][0] == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--features", "x1,nope"], "line 1: no column 'nope' in the header"),
        (["--drop", "nope"], "no column 'nope'"),
        (["--features", "x1,y"], "--features names 'y'"),
        # without --id-column the text ids are a text column with 240 distinct values
        ([], "column 'id' (column 2): 240 distinct texts in 240 rows, not categories"),
    ],
)
def test_column_option_errors(files, capsys, extra, message):
    code, _, err = cli(capsys, "train", "--data", files["index"], "--target", "y", "--quiet",
                       *extra)  # fmt: skip
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_column_options_need_data(capsys):
    code, _, err = cli(capsys, "train", "--missing", "mean", "--quiet")
    assert code == 2 and "--missing applies to --data FILE.csv only" in err


def test_numbers_as_categories_and_unknown_categories(capsys, tmp_path):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"code": rng.choice([10, 20, 30], 120), "x": rng.normal(size=120)})
    df["y"] = (df.code == 20) ^ (df.x > 0)
    df.to_csv(tmp_path / "codes.csv", index=False)
    s = train(capsys, tmp_path / "codes.csv", tmp_path / "err", "--target", "y",
              "--categorical", "code")  # fmt: skip
    assert s["layer_sizes"][0] == 4  # code=10, code=20, code=30, x
    new = tmp_path / "new.csv"
    pd.DataFrame({"x": [0.1, -0.2], "code": [20, 40]}).to_csv(new, index=False)
    code, _, err = cli(capsys, "predict", tmp_path / "err" / "model.npz", new)
    assert code == 2
    assert "new.csv, line 3, column 'code' (column 2): '40' is not one of the categories" in err
    train(capsys, tmp_path / "codes.csv", tmp_path / "zero", "--target", "y",
          "--categorical", "code", "--unknown-categories", "zero")  # fmt: skip
    code, out, _ = cli(capsys, "predict", tmp_path / "zero" / "model.npz", new, "--json")
    assert code == 0 and len(json.loads(out)["predictions"]) == 2


def test_a_column_mixing_numbers_and_text_is_an_error_with_a_hint(capsys, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("a,b,y\n1,2,0\n3,x,1\n4,5,0\n")
    code, _, err = cli(capsys, "train", "--data", path, "--target", "y", "--quiet")
    assert code == 2
    assert "mixed.csv, line 3, column 'b' (column 2): 'x' is not a number" in err
    assert "pass --categorical b" in err


# ------------------------------------------------------------------ empty cells
def test_missing_error_names_the_cell(files, capsys):
    code, _, err = cli(capsys, "train", "--data", files["gaps"], "--target", "y",
                       "--id-column", "id", "--quiet")  # fmt: skip
    assert code == 2
    # the first empty cell is x2 of row 3: file line 5 (header, rows 0..3)
    assert "gaps.csv, line 5, column 'x2' (column 4): empty cell" in err
    assert "--missing drop, mean or median" in err


def test_missing_drop_leaves_rows_out(files, capsys, tmp_path):
    s = train(capsys, files["gaps"], tmp_path / "drop", "--target", "y", "--id-column", "id",
              "--missing", "drop")  # fmt: skip
    assert s["n_dropped_rows"] == 3 and s["n_train"] + s["n_test"] == 237
    code, _, err = cli(capsys, "predict", tmp_path / "drop" / "model.npz", files["gaps"])
    assert code == 2 and "trained with --missing drop" in err


@pytest.mark.parametrize("how", ["mean", "median"])
def test_missing_fill_values_are_stored_and_applied(files, capsys, tmp_path, how):
    run = tmp_path / how
    train(capsys, files["gaps"], run, "--target", "y", "--id-column", "id", "--missing", how)
    plan = TablePlan.from_json(mlplab.io.read_header(run / "model.npz")["data"]["preprocessing"])
    fill = {c.name: c.fill for c in plan.columns}
    assert isinstance(fill["x2"], float) and fill["city"] in CITIES
    code, out, _ = cli(capsys, "predict", run / "model.npz", files["gaps"], "--proba", "--json")
    with_gaps = json.loads(out)["probabilities"]
    filled = pd.read_csv(files["gaps"])
    filled["x2"] = filled["x2"].fillna(fill["x2"])
    filled["city"] = filled["city"].fillna(fill["city"])
    filled.to_csv(tmp_path / "filled.csv", index=False)
    code, out, _ = cli(capsys, "predict", run / "model.npz", tmp_path / "filled.csv", "--proba",
                       "--json")  # fmt: skip
    np.testing.assert_array_equal(with_gaps, json.loads(out)["probabilities"])
    res = json.loads(cli(capsys, "evaluate", run / "model.npz", files["gaps"], "--json")[1])
    assert res["n_samples"] == 240


def test_predict_ignores_extra_columns_and_says_so_once(files, capsys, tmp_path):
    run = tmp_path / "few"
    train(capsys, files["index"], run, "--target", "y", "--features", "x1,x2")
    code, out, err = cli(capsys, "predict", run / "model.npz", files["index"])
    assert code == 0 and len(out.splitlines()) == 241
    assert err.count("note: ignoring 2 column(s) the model does not use: 'id', 'city'") == 1
    code, out, err = cli(capsys, "predict", run / "model.npz", files["index"], "--quiet")
    assert err == ""


# ------------------------------------------------------------------ data export
def test_data_export_then_train_and_evaluate(capsys, tmp_path):
    code, _, _ = cli(capsys, "data", "export", "iris", tmp_path / "iris.csv")
    assert code == 0
    df = pd.read_csv(tmp_path / "iris.csv")
    assert df.shape == (150, 5) and set(df["species"]) == {"setosa", "versicolor", "virginica"}
    s = train(capsys, tmp_path / "iris.csv", tmp_path / "iris", "--target", "species")
    assert s["classes"] == ["setosa", "versicolor", "virginica"]
    code, out, _ = cli(capsys, "data", "export", "moons", tmp_path / "m.csv", "--n-samples", 50,
                       "--json")  # fmt: skip
    assert json.loads(out)["rows"] == 50
    X, _ = mlplab.load_dataset("moons", n_samples=50, seed=0)
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "m.csv")[["x1", "x2"]].to_numpy(), X)
    code, out, _ = cli(capsys, "data", "list")
    assert "breast_cancer" in out and "wine" in out


# ------------------------------------------------------------------ one plan, CLI and Python
def test_estimators_share_the_plan_with_the_cli(files, capsys, tmp_path):
    run = tmp_path / "cli"
    train(capsys, files["index"], run, "--target", "y", "--id-column", "id")
    stored = mlplab.io.read_header(run / "model.npz")["data"]["preprocessing"]
    df = pd.read_csv(files["index"], index_col=0)
    plan = TablePlan.fit(df, "y", id_column="id")
    assert plan.to_json() == stored  # columns, kinds, categories, policies
    X = plan.transform(df)
    assert X.shape == (240, 5) and plan.output_names[1] == "city=east, west"
    clf = mlplab.MLPClassifier((8,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, df["y"])
    model = mlplab.save(clf, tmp_path / "clf.npz", data_info=plan.data_info("classification"))
    code, out, err = cli(capsys, "predict", model, files["index"], "--json")
    assert code == 0, err
    assert json.loads(out)["predictions"] == clf.predict(X).tolist()
    # the CSV reader and a DataFrame give the network the same inputs
    np.testing.assert_array_equal(plan.transform(files["index"]), X)


def test_a_damaged_plan_in_a_model_file_is_refused(files, capsys, tmp_path):
    from mlplab._archive import dump_header, write_members
    from mlplab.persist.modelfile import ModelFileError

    run = tmp_path / "ok"
    train(capsys, files["index"], run, "--target", "y", "--id-column", "id")
    with np.load(run / "model.npz") as z:
        members = {k: z[k] for k in z.files}
    header = json.loads(bytes(members["header"]))
    header["data"]["preprocessing"]["columns"][1]["categories"] = ["only one"]
    members["header"] = dump_header(header, "header")
    with open(tmp_path / "bad.npz", "wb") as f:
        write_members(f, members)
    with pytest.raises(ModelFileError, match="do not make the n\\[0\\]=5 inputs"):
        mlplab.load(tmp_path / "bad.npz")


def test_an_all_numeric_file_trains_as_before(capsys, tmp_path):
    """The split, the standardizer and the network of a numeric CSV are those of
    train_arrays on the same matrix (what train_csv did before the table plan)."""
    from mlplab.recipes import train_arrays, train_csv

    X, y = mlplab.load_dataset("moons", n_samples=120, seed=1)
    path = tmp_path / "moons.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": y}).to_csv(path, index=False)
    opts = dict(epochs=5, layers="4", seed=3)
    a = train_csv(path, "label", **opts)
    b = train_arrays(X, y, **opts)
    for (Wa, ba), (Wb, bb) in zip(a.net.params, b.net.params, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


# ------------------------------------------------------------------ the fast reader
def test_fast_reader_agrees_with_the_exact_reader(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    n = 3000
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "t": rng.choice(["plain", "with, comma", 'with "quote"', "two\nlines"], n),
            "b": rng.integers(-5, 5, n),
        }
    )
    path = tmp_path / "q.csv"
    df.to_csv(path, index=False, lineterminator="\r\n")
    monkeypatch.setattr(csvfast, "_workers", lambda size: 3)  # three ranges, three threads
    monkeypatch.setattr(csvfast, "CHUNK_CELLS", 999)
    frame = read_frame(path)
    exact = read_table(path)
    assert frame.columns == exact.columns == ["a", "t", "b"]
    np.testing.assert_array_equal(frame.data[0], [float(r[0]) for r in exact.rows])
    assert frame.data[1].tolist() == [r[1] for r in exact.rows] == df["t"].tolist()
    np.testing.assert_array_equal(frame.data[2], df["b"].to_numpy(float))
    lines = [frame.line(i) for i in range(n)]
    assert lines == exact.lines


def test_a_well_formed_file_never_falls_back_to_the_exact_reader(tmp_path, monkeypatch):
    """The exact reader is the fast one's fallback: its results are right, only far slower,
    so no other test would see a fast path that fails on good files."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(2500, 6)) * 10.0 ** rng.integers(-3, 4, size=6)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(6)])
    df["label"] = rng.choice(["north", "south", "east"], len(df))
    path = tmp_path / "big.csv"
    df.to_csv(path, index=False)
    monkeypatch.setattr(csvfast, "_workers", lambda size: 3)
    monkeypatch.setattr(csvfast, "CHUNK_CELLS", 777)  # chunks of 111 rows, ragged at the ends

    def exact(*args, **kwargs):
        raise AssertionError("the exact reader was used")

    monkeypatch.setattr(csvfast, "_exact", exact)
    data = read_training_csv(path, "label")
    np.testing.assert_array_equal(data.X, X)
    assert data.X.flags.c_contiguous and data.classes.tolist() == ["east", "north", "south"]
    assert data.classes[data.y].tolist() == df["label"].tolist()


@pytest.mark.parametrize("threads", [1, 3])
def test_training_files_parsed_into_the_codes_matrix_match_the_frame_path(
    tmp_path, monkeypatch, threads
):
    """``training_data`` of a path parses the plan's features straight into one matrix, by
    threads (csvrows.read_for_plan); the same file read as a Frame first must give the
    same codes, target, plan and drops: quoted fields across the cuts (cut again),
    a category, a column that is text in one chunk only, empty cells, an id column."""
    rng = np.random.default_rng(3)
    n = 2000
    df = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "a": rng.normal(size=n)})
    notes = ["plain", "with, comma", 'a "quote"', "two\nlines" * 20]  # cuts fall in quotes
    df["note"] = rng.choice(notes, n)
    df["b"] = rng.integers(-5, 5, n).astype(float)
    df.loc[rng.choice(n, 40, replace=False), "b"] = np.nan
    df["c"] = rng.normal(size=n).astype(object)
    df.loc[1500, "c"] = "oops"  # text in one chunk: refused, naming the cell
    df["y"] = rng.choice(["north", "south"], n)
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    monkeypatch.setattr(csvfast, "_workers", lambda size: threads)
    monkeypatch.setattr(csvfast, "CHUNK_CELLS", 777)
    options = dict(id_column="id", categorical=["note"], missing="drop", drop=["c"])
    recut = []
    monkeypatch.setattr(csvrows, "cut_points", lambda *a: recut.append(a) or cut_points(*a))
    assert csvrows.read_for_plan(path, None, "y", ["id", "note"], options) is not None
    assert bool(recut) == (threads > 1)  # the first cuts fell inside a quoted field
    fast = training_data(path, "y", **options)
    slow = training_data(read_frame(path, text=["id", "note"]), "y", **options)
    np.testing.assert_array_equal(fast.codes, slow.codes)
    np.testing.assert_array_equal(fast.y, slow.y)
    assert fast.plan.to_json() == slow.plan.to_json() and fast.n_dropped == slow.n_dropped == 40
    assert fast.codes.shape == (n - 40, 3)
    with pytest.raises(
        CSVError, match=r"t\.csv, line \d+, column 'c' \(column 5\): 'oops' is not a number"
    ):
        training_data(path, "y", id_column="id", categorical=["note"], missing="drop")
    line = read_table(path).lines[1500]
    with pytest.raises(CSVError, match=rf"line {line}, column 'c'"):
        training_data(path, "y", id_column="id", categorical=["note"], missing="drop")


def test_cut_points_fall_between_records(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b'h\n"a\nb"\n"c\nd"\n"e\nf"\n' * 50)
    cuts = csvfast.cut_points(path, 2, 8, block=7)
    data = path.read_bytes()
    for c in cuts[1:-1]:
        assert data[c - 1 : c] == b"\n" and data[2:c].count(b'"') % 2 == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n3\n", r"line 3: 1 cells, but the header \(line 1\) has 2"),
        ("a,b\n1,2\n3,4,5\n", r"line 3: 3 cells"),
        ("a,b\n1,2\n\n3\n", r"line 4: 1 cells"),
    ],
)
def test_ragged_rows_are_refused_even_in_unused_columns(tmp_path, text, message):
    path = tmp_path / "r.csv"
    path.write_text(text)
    with pytest.raises(CSVError, match=message):
        read_frame(path, keep=["a"])


def test_rows_all_longer_than_the_header_are_refused_whatever_the_warning_filter(tmp_path):
    """pandas' DataFrame drops the extra cells of such rows with a ParserWarning; the
    parser's columns are checked instead, so no warning filter decides (the sharded
    reader, ``csvrows.read_into``, had none)."""
    from mlplab.persist.csvheader import read_header
    from mlplab.persist.csvrows import read_into

    path = tmp_path / "long.csv"
    path.write_text("a,b\n1,2,9\n3,4,8\n")
    hdr = read_header(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(CSVError, match=r"long\.csv, line 2: 3 cells, but the header"):
            read_frame(path)
        parsed, _, error = read_into(path, hdr.start, path.stat().st_size, hdr, [0, 1], [], ())
    assert error is not None and parsed.n == 0
    path.write_text("a,b\n1,2,\n3,4,\n")  # one empty field more on every row: pandas' rule
    frame = read_frame(path)
    assert frame.columns == ["a", "b"] and frame.data[1].tolist() == [2.0, 4.0]


def test_empty_cells_and_na_text(tmp_path):
    path = tmp_path / "na.csv"
    path.write_text("a,b,y\n1,NA,0\n,x,1\n2,nan,0\n")
    frame = read_frame(path)
    assert np.isnan(frame.data[0][1]) and frame.data[1].tolist() == ["NA", "x", "nan"]
    data = read_training_csv(path, "y", missing="mean", features=["a"])
    np.testing.assert_array_equal(data.X[:, 0], [1.0, 1.5, 2.0])


def test_the_cli_reads_pandas_files_in_a_subprocess(files, tmp_path):
    """One real `mlplab` process: train, predict with --out, evaluate."""
    cmd = [sys.executable, "-m", "mlplab"]
    run = tmp_path / "sub"
    subprocess.run([*cmd, "train", "--data", str(files["semicolon"]), "--target", "y",
                    "--id-column", "id", "--epochs", "10", "--out", str(run), "--quiet"],
                   check=True, capture_output=True)  # fmt: skip
    preds = tmp_path / "p.csv"
    subprocess.run([*cmd, "predict", str(run / "model.npz"), str(files["semicolon"]), "--out",
                    str(preds), "--quiet"], check=True, capture_output=True)  # fmt: skip
    assert pd.read_csv(preds).columns.tolist() == ["id", "y"]
    proc = subprocess.run([*cmd, "evaluate", str(run / "model.npz"), str(files["semicolon"])],
                          check=True, capture_output=True, text=True)  # fmt: skip
    assert "accuracy:" in proc.stdout and "trained on" in proc.stderr


# ------------------------------------------------------------------ the plan as data
def test_plan_round_trips_and_bad_plans_are_refused(files):
    df = pd.read_csv(files["gaps"])
    plan = TablePlan.fit(df, "y", id_column="id", missing="median", unknown="zero")
    again = TablePlan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan
    np.testing.assert_array_equal(again.transform(df), plan.transform(df))
    bad = plan.to_json()
    for key, value in [
        ("version", 2),
        ("missing", "guess"),
        ("columns", []),
        ("columns", [{"name": "a", "kind": "number", "fill": "x"}]),
        ("columns", [{"name": "a", "kind": "category", "categories": ["p"], "fill": "q"}]),
        ("columns", [{"name": "a", "kind": "category", "categories": ["p", "p"]}]),
        ("columns", [{"name": "a", "kind": "code"}]),
        ("ignored", [1]),
    ]:
        with pytest.raises(ValueError, match="preprocessing"):
            TablePlan.from_json({**bad, key: value})


def test_numbers_as_categories_agree_between_a_dataframe_and_its_csv(tmp_path):
    df = pd.DataFrame({"code": [10, 20, 10, 30], "x": [0.5, 1.5, 2.5, 3.5], "y": [0, 1, 0, 1]})
    df.to_csv(tmp_path / "c.csv", index=False)
    from_df = TablePlan.fit(df, "y", categorical=["code"])
    from_csv = TablePlan.fit(tmp_path / "c.csv", "y", categorical=["code"])
    assert from_df == from_csv and from_df.columns[0].categories == ["10", "20", "30"]
    np.testing.assert_array_equal(from_df.transform(df), from_csv.transform(tmp_path / "c.csv"))


def test_text_columns_are_converted_per_distinct_value_like_per_cell(tmp_path):
    """numbers, categories and labels look each distinct text up once and the rows up in
    NumPy: the result, and the row an error names, are those of a cell-by-cell reading."""
    from mlplab.persist.cells import numbers, text_codes, text_table
    from mlplab.persist.csvdata import frame_labels
    from mlplab.persist.csvfast import Frame

    rng = np.random.default_rng(7)
    pool = np.array([" 1", "1 ", "2.5", None, "-0", "7", " x", "x", "inf", "nan"], dtype=object)
    cells = pool[rng.integers(0, len(pool), 500)]
    codes, table = text_codes(cells)
    stripped = ["" if c is None else c.strip() for c in cells]
    assert table[codes].tolist() == stripped

    frame = Frame(
        tmp_path / "t.csv", ["a", "b"], [cells, np.where(rng.random(500) < 0.5, 3.0, 2.0)]
    )
    frame.locator = lambda i: f"row {i}"
    x, bad = numbers(frame, 0)
    first = next(i for i, s in enumerate(stripped) if s in ("x", "inf", "nan"))
    assert bad == first
    ok = [i for i, s in enumerate(stripped) if s not in ("x", "inf", "nan")]
    want = [np.nan if stripped[i] == "" else float(stripped[i]) for i in ok]
    np.testing.assert_array_equal(x[ok], want)
    codes, table = text_table(frame, 1)
    assert table[codes].tolist() == [str(int(v)) for v in frame.data[1]]
    got = frame_labels(frame, "b", np.array([2, 3]))
    np.testing.assert_array_equal(got, (frame.data[1] == 3.0).astype(np.int64))
    with pytest.raises(CSVError, match=r"row \d+, column 'b' \(column 2\): label '3' is not"):
        frame_labels(frame, "b", np.array([1, 2]))
    wrong = int(np.flatnonzero(frame.data[1] == 3.0)[0])
    with pytest.raises(CSVError, match=rf"row {wrong}, "):
        frame_labels(frame, "b", np.array([1, 2]))


def test_the_tokenizer_keeps_its_buffers_where_pandas_has_the_switch():
    from types import SimpleNamespace as Ns

    reader = Ns(trim_after_read=True)
    csvfast._keep_buffers(Ns(_engine=Ns(_reader=reader)))
    assert reader.trim_after_read is False
    csvfast._keep_buffers(Ns(_engine=Ns(_reader=Ns())))  # an older pandas: nothing to set
    csvfast._keep_buffers(object())
