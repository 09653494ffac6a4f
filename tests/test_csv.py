"""CSV reading: arrays out, and errors that name the file, the line and the column."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.persist.csvdata import (
    CSVError,
    infer_task,
    match_labels,
    read_features,
    read_table,
    read_training_csv,
)


def write(tmp_path, text, name="data.csv", raw=None):
    path = tmp_path / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(text, encoding="utf-8")
    return path


GOOD = "a,b,label\n1,2,cat\n3,4.5,dog\n-1e3,0,cat\n"


def test_training_data_with_string_labels(tmp_path):
    data = read_training_csv(write(tmp_path, GOOD), "label")
    assert data.feature_names == ["a", "b"]
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4.5], [-1000, 0]])
    assert data.classes.tolist() == ["cat", "dog"] and data.y.tolist() == [0, 1, 0]
    assert data.task == "classification" and data.task_inferred


def test_target_column_anywhere_and_integer_labels(tmp_path):
    data = read_training_csv(write(tmp_path, "y,x\n2,0.5\n7,1.5\n2,2.5\n"), "y")
    assert data.classes.tolist() == [2, 7] and data.classes.dtype == np.int64
    assert data.X[:, 0].tolist() == [0.5, 1.5, 2.5]


def test_regression_target(tmp_path):
    data = read_training_csv(write(tmp_path, "x,y\n1,0.25\n2,0.5\n3,1.75\n"), "y")
    assert data.task == "regression" and data.classes is None
    assert data.y.tolist() == [0.25, 0.5, 1.75]
    forced = read_training_csv(write(tmp_path, "x,y\n1,0\n2,1\n3,0\n"), "y", task="regression")
    assert forced.task == "regression" and not forced.task_inferred


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b"], "classification"),
        (["0", "1", "2"], "classification"),
        (["1.0", "2.0"], "classification"),
        (["0.5", "1"], "regression"),
        ([str(i) for i in range(50)], "regression"),
    ],
)
def test_infer_task(values, task):
    assert infer_task(values) == task


def test_quotes_bom_crlf_and_blank_lines(tmp_path):
    raw = '\ufeff"x, first",y\r\n\r\n"1",a\r\n2,"b, c"\r\n\r\n'.encode()
    table = read_table(write(tmp_path, None, raw=raw))
    assert table.columns == ["x, first", "y"]
    assert [r[1] for r in table.rows] == ["a", "b, c"]
    assert table.lines == [3, 4]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"data\.csv: the file is empty"),
        ("\n  \n", r"data\.csv: the file is empty"),
        ("a,b\n", r"data\.csv: no data rows after the header \(line 1\)"),
        ("a,b\n1,2\n3\n", r"data\.csv, line 3: 1 cells, but the header \(line 1\) has 2"),
        ("a,b\n1,2\n\n3,4,5\n", r"data\.csv, line 4: 3 cells"),
        ("a,a\n1,2\n", r"line 1: column name 'a' appears twice \(columns 1 and 2\)"),
        ("a,,c\n1,2,3\n", r"line 1, column 2: empty column name"),
        ('a,b\n"1,2\n', r"data\.csv, line \d: malformed CSV"),
    ],
)
def test_structural_errors(tmp_path, text, message):
    with pytest.raises(CSVError, match=message):
        read_table(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a,b,y\n1,2,0\n3,x,1\n",
            r"data\.csv, line 3, column 'b' \(column 2\): 'x' is not a number",
        ),
        ("a,b,y\n1,2,0\n3,,1\n", r"line 3, column 'b' \(column 2\): empty cell"),
        ("a,b,y\n1,nan,0\n3,4,1\n", r"line 2, column 'b' \(column 2\): 'nan' is not a finite"),
        ("a,b,y\n1,2,0\n3,4,\n", r"line 3, column 'y' \(column 3\): empty cell"),
        ("a,b,label\n1,2,0\n", r"line 1: no column 'y' in the header; columns: a, b, label"),
        ("y\n1\n2\n", r"no feature columns besides the target 'y'"),
        ("a,y\n1,k\n2,k\n", r"column 'y' \(column 2\): the target has only one class \('k'\);"),
    ],
)
def test_cell_errors_name_line_and_column(tmp_path, text, message):
    with pytest.raises(CSVError, match=message):
        read_training_csv(write(tmp_path, text), "y")


@pytest.mark.parametrize("route", ["small", "pandas", "frame"])
@pytest.mark.parametrize(
    ("labels", "task", "shown"),
    [("k", None, "'k'"), ("3", None, "3"), ("2.5", "classification", "'2.5'")],
)
def test_one_class_names_the_class_as_python_writes_it(tmp_path, route, labels, task, shown):
    """Not np.str_('k') / np.int64(3) / np.float64(2.5), on every route to the target."""
    from unittest import mock

    import pandas as pd

    from mlplab.persist import csvsmall
    from mlplab.persist.csvfast import from_dataframe

    path = write(tmp_path, f"a,y\n1,{labels}\n2,{labels}\n3, {labels}\n")
    source = from_dataframe(pd.read_csv(path)) if route == "frame" else path
    expected = (
        f"column 'y' (column 2): the target has only one class ({shown}); "
        "classification needs at least two"
    )
    small_bytes = 0 if route == "pandas" else 2**20
    with mock.patch.object(csvsmall, "SMALL_BYTES", small_bytes), pytest.raises(CSVError) as error:
        read_training_csv(source, "y", task=task)
    assert str(error.value).endswith(expected)
    assert "np." not in str(error.value)


def test_regression_target_must_be_numeric(tmp_path):
    path = write(tmp_path, "a,y\n1,2.5\n2,oops\n")
    with pytest.raises(CSVError, match=r"line 3, column 'y' \(column 2\): 'oops' is not a number"):
        read_training_csv(path, "y", task="regression")


def test_bad_encoding_names_line_and_column(tmp_path):
    raw = b"name,x,y\nok,1,0\n" + b"caf\xe9,2,1\n"
    with pytest.raises(
        CSVError, match=r"data\.csv, line 3, column 'name' \(column 1\): byte 0xe9 is not valid"
    ):
        read_table(write(tmp_path, None, raw=raw))
    raw = b"a,b\n1,\xff\xfe\n"
    with pytest.raises(CSVError, match=r"line 2, column 'b' \(column 2\)"):
        read_table(write(tmp_path, None, raw=raw))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CSVError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(CSVError, match="is a directory"):
        read_table(tmp_path)


# ---------------------------------------------------------------- a model's features
def test_features_reordered_by_name_and_target_ignored(tmp_path):
    path = write(tmp_path, "b,label,a\n2,cat,1\n4,dog,3\n")
    _, X = read_features(path, ["a", "b"], 2, target="label")
    assert X.tolist() == [[1, 2], [3, 4]]


def test_features_that_differ_from_the_model(tmp_path):
    path = write(tmp_path, "a,c\n1,2\n")
    with pytest.raises(CSVError, match=r"line 1: the model's feature 'b' is missing"):
        read_features(path, ["a", "b"], 2)
    path = write(tmp_path, "a,b,extra\n1,2,3\n")
    with pytest.raises(CSVError, match=r"line 1, column 'extra' \(column 3\): not one of"):
        read_features(path, ["a", "b"], 2)
    with pytest.raises(CSVError, match=r"3 feature columns, but the model expects n\[0\]=2"):
        read_features(path, None, 2)


def test_labels_must_be_known_classes(tmp_path):
    table = read_table(write(tmp_path, "x,y\n1,cat\n2,emu\n"))
    assert match_labels(table, 1, np.array(["cat", "emu"])).tolist() == [0, 1]
    with pytest.raises(CSVError, match=r"line 3, column 'y' \(column 2\): label 'emu' is not one"):
        match_labels(table, 1, np.array(["cat", "dog"]))
    table = read_table(write(tmp_path, "x,y\n1,0\n2,1.0\n"))
    assert match_labels(table, 1, np.array([0, 1])).tolist() == [0, 1]
