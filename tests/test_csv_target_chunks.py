"""The target column of a rank's part of a CSV file, encoded chunk by chunk as pandas
parses it (mlplab.persist.csvrows.TextCodes, mlplab.persist.csvtarget): no column of
Python strings is made, and the classes, the labels, the task and every error are those
of the one-process reader (mlplab.persist.csvdata.training_data).

One process, through a one-rank communicator and small pandas chunks (1,024 rows), so
that a target column is text in some chunks and numbers in others; K ranks:
tests/test_csv_shards.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlplab.persist import csvfast
from mlplab.persist.csvdata import training_data
from mlplab.persist.csvexact import CSVError
from mlplab.persist.csvrows import TextCodes
from mlplab.persist.csvshard import sharded_training_data
from mlplab.train.mpi import DistributedError

sys.path.insert(0, str(Path(__file__).parent))
from test_csv_rank_memory import OneRank

N = 3000  # three chunks of 1,024 rows (the least pandas is given)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(csvfast, "CHUNK_CELLS", 16)


def _write(tmp_path: Path, label: list, name: str = "t.csv") -> Path:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.normal(size=N), "b": rng.normal(size=N)})
    df["label"] = label
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def _same_as_one_process(path: Path, **options) -> None:
    """The sharded reader's classes and labels are the one-process reader's."""
    from mlplab.core.data import train_test_split

    d = sharded_training_data(path, "label", OneRank(), **options)
    one = training_data(path, "label", **options)
    assert d.task == one.task
    if one.classes is None:
        assert d.classes is None
    else:
        assert d.classes is not None
        assert d.classes.dtype.kind == one.classes.dtype.kind
        np.testing.assert_array_equal(d.classes, one.classes)
    stratify = one.task == "classification"
    i_tr, i_te, _, _ = train_test_split(np.arange(len(one.y)), one.y, seed=0, stratify=stratify)
    np.testing.assert_array_equal(d.y_train, one.y[np.sort(i_tr)])
    np.testing.assert_array_equal(d.y_test, one.y[np.sort(i_te)])  # the file's order


def _same_error(path: Path, **options) -> str:
    with pytest.raises(CSVError) as one:
        training_data(path, "label", **options)
    with pytest.raises((CSVError, DistributedError)) as sharded:
        sharded_training_data(path, "label", OneRank(), **options)
    message = str(sharded.value).removeprefix("rank 0 of 1: ").removeprefix("CSVError: ")
    assert message == str(one.value)
    return message


def test_text_labels_padded_and_across_chunks_are_the_one_process_classes(tmp_path):
    rng = np.random.default_rng(0)
    label = rng.choice(["yes", "no", " yes", "maybe "], N).tolist()
    _same_as_one_process(_write(tmp_path, label))


def test_labels_that_are_numbers_in_some_chunks_and_text_in_others(tmp_path):
    rng = np.random.default_rng(1)
    label = rng.choice(["1", "2"], N).astype(object)
    label[[2500, 2600]] = "cat"  # the third chunk is text, the first two numbers
    _same_as_one_process(_write(tmp_path, label.tolist()))
    ints = rng.choice([3, 7, 11], N)
    _same_as_one_process(_write(tmp_path, ints.tolist(), "ints.csv"))
    _same_as_one_process(_write(tmp_path, rng.normal(size=N).tolist(), "reg.csv"))


def test_a_missing_target_in_a_later_chunk_names_the_same_line(tmp_path):
    label = np.where(np.arange(N) % 2 == 0, "yes", "no").astype(object)
    label[2100] = None
    path = _write(tmp_path, label.tolist())
    message = _same_error(path)
    assert ", line 2102, column 'label'" in message and "empty cell" in message
    _same_as_one_process(path, missing="drop")  # dropped instead


def test_text_in_a_regression_target_names_the_same_cell(tmp_path):
    label = np.random.default_rng(2).normal(size=N).astype(object)
    label[2900] = "n/a"
    message = _same_error(_write(tmp_path, label.tolist()), task="regression")
    assert ", line 2902, column 'label'" in message and "'n/a' is not a number" in message


def test_one_class_is_the_same_error(tmp_path):
    tail = "the target has only one class ({}); classification needs at least two"
    message = _same_error(_write(tmp_path, ["only"] * N))
    assert message.endswith("column 'label' (column 3): " + tail.format("'only'"))
    message = _same_error(_write(tmp_path, [7] * N, "ints.csv"))
    assert message.endswith("column 'label' (column 3): " + tail.format("7"))


def test_text_codes_keep_one_small_integer_a_row_and_each_text_once():
    coded = TextCodes()
    coded.add(np.array(["b", " a", None, "b"], dtype=object))
    coded.add(np.array([1.0, np.nan, 2.5]))  # a chunk of numbers
    coded.add(np.array(["a ", "c"], dtype=object))
    assert [p.dtype for p in coded.parts] == [np.uint8, np.float64, np.uint8]
    codes, table = coded.codes(lambda v: "" if v != v else repr(v))
    assert codes.dtype == np.uint8 and not coded.parts  # the parts are freed
    assert table[codes].tolist() == ["b", "a", "", "b", "1.0", "", "2.5", "a", "c"]
    assert sorted(table.tolist()) == sorted(set(table.tolist()))  # each text once
