"""What an MPI rank computes over all rows of a file (mlplab.persist.csvshard): the
stratified split (mlplab.core.split.split_rows: the rows grouped by class a block at a
time, as 4-byte indices, each class shuffled in place) and the training rows' blocks in
file order (mlplab.persist.npydata.file_blocks: a mask and an int32 count, no sort), so
that nothing of 8 bytes a row exists over the whole file; the rows drawn stay
scikit-learn's, the blocks those of the sort."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.model_selection import train_test_split as sk_split

from mlplab.core import split


@pytest.mark.parametrize("block", [7, 64, 65536])
def test_rows_grouped_a_block_at_a_time_are_scikit_learns(monkeypatch, block):
    monkeypatch.setattr(split, "BLOCK_ROWS", block)
    rng = np.random.default_rng(4)
    for trial in range(20):
        n = int(rng.integers(30, 400))
        k = int(rng.integers(2, 7))
        y = rng.integers(0, k, n).astype(rng.choice([np.uint8, np.int16, np.int64]))
        y[: 2 * k] = np.arange(2 * k) % k  # every class at least twice
        seed, size = int(rng.integers(0, 2**31)), float(rng.choice([0.1, 0.25, 0.5]))
        rows = np.broadcast_to(np.int8(0), (n,))
        train, test = split.split_rows(rows, y, size, seed, y)
        theirs = sk_split(np.arange(n), test_size=size, random_state=seed, stratify=y)
        np.testing.assert_array_equal(train, theirs[0], err_msg=f"trial {trial}")
        np.testing.assert_array_equal(test, theirs[1], err_msg=f"trial {trial}")
        assert train.dtype == test.dtype == np.int32


def test_the_split_of_a_million_rows_allocates_under_7_bytes_a_row():
    n = 1_000_000
    y = (np.random.default_rng(5).random(n) < 0.3).astype(np.uint8)  # labels, one byte
    rows = np.broadcast_to(np.int8(0), (n,))
    tracemalloc.start()
    try:
        train, test = split.split_rows(rows, y, 0.25, 0, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert train.shape[0] + test.shape[0] == n
    # the indices (4 bytes a row), the test rows' (4 more, a quarter of the rows) and one
    # block's sort (~1 MiB): 6.1 bytes a row; the argsort of all rows (8 bytes a row) and
    # its int32 copy, as before, took 12.4
    assert peak < 7 * n, peak / n


def _blocks_by_sorting(train, n_rows, rank, size):
    """file_blocks' definition: the training rows sorted, cut into ``size`` blocks."""
    from mlplab.train.mpi import shard_range

    order = np.argsort(train, kind="stable")
    ordered = train[order]
    lo, hi = shard_range(len(train), rank, size)
    a = 0 if rank == 0 else int(ordered[lo])
    b = n_rows if rank == size - 1 else int(ordered[hi])
    relabel = np.empty(len(train), dtype=np.int64)
    relabel[order] = np.arange(len(train))
    return (a, b), ordered[lo:hi], relabel


def test_file_blocks_counted_with_a_mask_are_those_of_the_sort(monkeypatch):
    from mlplab.persist import npydata
    from mlplab.persist.npydata import file_blocks

    monkeypatch.setattr(npydata, "BLOCK_ROWS", 7)  # several blocks

    rng = np.random.default_rng(6)
    for _ in range(200):
        n = int(rng.integers(1, 60))
        train = rng.permutation(n)[: int(rng.integers(1, n + 1))].astype(np.int32)
        for size in [s for s in (1, 2, 3, 5) if s <= len(train)]:  # a row per rank
            for rank in range(size):
                got = file_blocks(train, n, rank, size)
                expected = _blocks_by_sorting(train, n, rank, size)
                assert got[0] == expected[0]
                np.testing.assert_array_equal(got[1], expected[1])
                np.testing.assert_array_equal(got[2], expected[2])
                assert got[1].dtype == train.dtype and got[2].dtype == np.int32


def test_file_blocks_of_a_million_rows_allocate_under_10_bytes_a_row():
    from mlplab.persist.npydata import file_blocks

    n = 1_000_000
    train = np.random.default_rng(7).permutation(n).astype(np.int32)[:750_000]
    tracemalloc.start()
    try:
        file_blocks(train, n, 0, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the mask (1 byte a row), the running count (4) and relabel (4 a training row: 3),
    # 8.8 in all; the sort took 15, and an int64 searchsorted or cumsum 4 to 8 more
    assert peak < 10 * n, peak / n
