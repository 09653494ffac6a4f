"""A rank's float block rearranged in place (mlplab.persist.csvcompact): the kept rows
first, contiguous and in order, the test rows behind them found through their places,
the rows received from other ranks put before and after the kept ones."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab.persist.csvcompact as cc


@pytest.mark.parametrize("block", [1, 3, 8, 1 << 13])
def test_partition_and_make_room_keep_every_row_and_its_order(monkeypatch, block):
    monkeypatch.setattr(cc, "BLOCK_ROWS", block)
    rng = np.random.default_rng(block)
    for _ in range(60):
        n = int(rng.integers(0, 40))
        R0 = rng.normal(size=(n, 3))
        base = np.empty((n + int(rng.integers(0, 3)), 3))  # a parsed matrix, maybe longer
        base[:n] = R0
        R = base[:n]
        role = rng.integers(0, 3, n)  # 0: kept, 1: a test row, 2: lost (sent away)
        test = rng.permutation(np.flatnonzero(role == 1)).astype(np.int32)
        k, places = cc.partition(R, role == 0, test, np.flatnonzero(role == 2))
        assert k == np.count_nonzero(role == 0) and places.dtype == np.int32
        np.testing.assert_array_equal(R[:k], R0[role == 0])  # in order
        np.testing.assert_array_equal(R[k + places], R0[test])  # the split's order
        assert len(set(places.tolist())) == len(places)
        b, a = (int(v) for v in rng.integers(0, 4, 2))
        before, after = rng.normal(size=(b, 3)), rng.normal(size=(a, 3))
        F, spill = cc.make_room(R, k, before, after)
        np.testing.assert_array_equal(
            F[: b + k + a], np.concatenate([before, R0[role == 0], after])
        )
        np.testing.assert_array_equal(np.concatenate([F[b + k + a :], spill])[places], R0[test])
        if n + a + b - len(base) <= n - k:  # the parsed buffer itself, never grown (realloc)
            assert F.base is base and len(F) == min(len(base), n + a + b)
            assert len(spill) == max(n + a + b - len(base), 0)


def test_make_room_copies_rows_it_cannot_rearrange_in_place():
    R = np.arange(6.0).reshape(3, 2)  # owns its data: not the leading rows of a buffer
    F, spill = cc.make_room(R, 2, np.full((1, 2), -1.0), np.empty((0, 2)))
    assert F[:, 0].tolist() == [-1.0, 0.0, 2.0, 4.0] and not np.shares_memory(F, R)
    assert spill.shape == (0, 2)


def test_a_row_neither_kept_lost_nor_a_test_row_is_an_error():
    R = np.zeros((3, 1))
    with pytest.raises(ValueError, match="2 rows neither kept nor lost"):
        cc.partition(R, np.array([True, False, False]), np.array([1]))
