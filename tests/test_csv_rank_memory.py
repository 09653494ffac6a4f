"""A rank's part of a CSV file held once (mlplab.persist.csvrows, csvspill): the feature
columns are parsed straight into one float matrix that is then the codes matrix, rows are
dropped in place; the matrix is set aside on disk while the split is drawn, the training
block read back into one matrix (no index), the test rows kept on disk in the split's order.

One process, through a one-rank communicator; K ranks: tests/test_csv_shards.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlplab.persist.csvdata import training_data
from mlplab.persist.csvrows import keep_rows
from mlplab.persist.csvshard import sharded_training_data
from mlplab.persist.csvspill import FileRows
from mlplab.persist.npydata import file_blocks


class OneRank:
    """The collective calls of an MPI communicator, for one rank."""

    rank, size = 0, 1

    def Get_rank(self) -> int:
        return 0

    def Get_size(self) -> int:
        return 1

    def allgather(self, value):
        return [value]

    def alltoall(self, values):
        return list(values)

    def bcast(self, value, root=0):
        return value


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(1)
    n = 3000  # more than one pandas chunk
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n) * 5})
    df["color"] = rng.choice(["red", "green", "blue"], n)
    df["label"] = rng.choice(["no", "yes"], n)
    df.loc[rng.choice(n, 40, replace=False), "a"] = np.nan
    df.loc[2500, "color"] = None  # an empty category cell in a later chunk
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    return path, df


@pytest.mark.parametrize("missing", ["median", "drop"])
def test_the_rows_are_held_once_and_read_as_one_process_reads_them(table, missing):
    path, df = table
    d = sharded_training_data(path, "label", OneRank(), missing=missing)
    R = d.X_train.parts[0]  # the codes matrix: numbers and category indices
    assert len(d.X_train.parts) == 1 and len(d.X_test.parts) == 1
    assert R.shape[1] == 3 and R.dtype == np.float64  # a, b, color: not one-hot
    # the training rows: one matrix in memory, read through no index (a batch is one take);
    # the test rows: on disk, in the file's order, read through no index either
    assert isinstance(R, np.ndarray) and R.base is None and R.flags.c_contiguous
    assert d.X_train.index is None and len(R) == d.X_train.shape[0] == d.n_train
    T = d.X_test.parts[0]
    assert isinstance(T, FileRows) and d.X_test.index is None and len(T) == d.n_test
    # the same rows and values as the one-process reader, training rows in file order
    one = training_data(path, "label", missing=missing)
    idx = np.arange(len(one.y))
    from mlplab.core.data import train_test_split

    i_tr, i_te, _, _ = train_test_split(idx, one.y, seed=0, stratify=True)
    one.plan.fit_fill(one.codes[i_tr])
    assert [c.fill for c in d.plan.columns] == pytest.approx([c.fill for c in one.plan.columns])
    X_tr = d.X_train.rows(np.arange(d.X_train.shape[0]))
    np.testing.assert_array_equal(X_tr, one.features(np.sort(i_tr)))
    np.testing.assert_array_equal(d.y_train, one.y[np.sort(i_tr)])
    X_te = d.X_test.rows(np.arange(d.X_test.shape[0]))
    np.testing.assert_array_equal(X_te, one.features(np.sort(i_te)))  # the file's order
    np.testing.assert_array_equal(d.y_test, one.y[np.sort(i_te)])
    assert np.array_equal(d.X_train.relabel, file_blocks(np.asarray(i_tr), len(idx), 0, 1)[2])
    assert d.n_dropped == (40 + 1 if missing == "drop" else 0)


def test_keep_rows_drops_rows_in_place(monkeypatch):
    import mlplab.persist.csvrows as csvrows

    monkeypatch.setattr(csvrows, "BLOCK_ROWS", 7)  # several blocks
    R = np.arange(100.0 * 3).reshape(100, 3).copy()
    keep = np.random.default_rng(0).random(100) < 0.6
    expected = R[keep].copy()
    kept = keep_rows(R, keep)
    assert np.shares_memory(kept, R) and kept.base is R
    np.testing.assert_array_equal(kept, expected)
    assert keep_rows(R, np.ones(100, bool)) is R
