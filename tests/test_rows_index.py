"""Rows read through an index (mlplab.train.rows.MappedRows) keep an int32 index as it
is (4 bytes a row, not 8: an MPI rank's training rows of a large file) and a slice of
them is a view of the index, not a copy; the rows read are the same."""

from __future__ import annotations

import numpy as np

from mlplab.train.rows import MappedRows


def test_an_int32_index_is_kept_and_sliced_without_a_copy():
    X = np.arange(60.0).reshape(20, 3)
    index = np.array([5, 2, 19, 0, 7], dtype=np.int32)
    rows = MappedRows([X[:8], X[8:]], index)
    assert rows.index is not None and rows.index.dtype == np.int32
    part = rows[1:4]
    assert part.index is not None and np.shares_memory(part.index, rows.index)
    np.testing.assert_array_equal(part.rows(np.arange(3)), X[[2, 19, 0]])
    np.testing.assert_array_equal(rows.select([4, 0]).rows([0, 1]), X[[7, 5]])
    np.testing.assert_array_equal(rows.block(0, 5), X[index])
    other = MappedRows([X], [3.0, 1.0])  # anything else: int64, as before
    assert other.index is not None and other.index.dtype == np.int64
    np.testing.assert_array_equal(MappedRows([X])[2:4].rows([0, 1]), X[2:4])
