"""The sharded path's permutation as int32 (mlplab.train.batches.permutation): the same
values, and the same generator state after it, as ``Generator.permutation`` draws."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.train.batches import EpochPlan, permutation


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 1000, 65_537, 300_001])
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_int32_draws_the_same_order_and_state(n: int, seed: int) -> None:
    a, b = np.random.default_rng(seed), np.random.default_rng(seed)
    want = a.permutation(n)
    got = permutation(b, n, small=True)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)
    # the next draws too: the shuffle consumed the same random numbers
    np.testing.assert_array_equal(b.permutation(50), a.permutation(50))
    assert b.bit_generator.state == a.bit_generator.state


def test_one_process_keeps_int64() -> None:
    got = permutation(np.random.default_rng(0), 10)
    assert got.dtype == np.int64
    plan = EpochPlan(10, 3)
    assert plan.draw(np.random.default_rng(0)).dtype == np.int64
    plan.relabel = np.arange(10, dtype=np.int32)  # rows in a file's order: int32
    drawn = plan.draw(np.random.default_rng(0))
    assert drawn.dtype == np.int32
    np.testing.assert_array_equal(drawn, np.random.default_rng(0).permutation(10))


def test_large_n_falls_back_to_int64() -> None:
    class Rng:  # n >= 2**31 is never allocated here: the call is recorded
        def permutation(self, n: int) -> str:
            return f"int64 of {n}"

    assert permutation(Rng(), 2**31, small=True) == f"int64 of {2**31}"  # type: ignore[arg-type]


def test_file_blocks_equal_the_sorted_definition() -> None:
    """file_blocks without a sort (a mask and its cumsum) gives what sorting gives."""
    from mlplab.persist.npydata import file_blocks
    from mlplab.train.mpi import shard_range

    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(2, 300))
        size = int(rng.integers(1, min(5, n) + 1))
        train = rng.permutation(n)[: int(rng.integers(size, n + 1))].astype(np.int32)
        ordered = np.sort(train)
        for rank in range(size):
            lo, hi = shard_range(train.shape[0], rank, size)
            want_a = 0 if rank == 0 else int(ordered[lo])
            want_b = n if rank == size - 1 else int(ordered[hi])
            (a, b), mine, relabel = file_blocks(train, n, rank, size)
            assert (a, b) == (want_a, want_b)
            np.testing.assert_array_equal(mine, ordered[lo:hi])
            assert mine.dtype == np.int32 and relabel.dtype == np.int32
            np.testing.assert_array_equal(ordered[relabel], train)  # relabel: place in order


def test_binary_log_loss_without_the_two_column_copy_is_bitwise_the_same() -> None:
    from mlplab.train.metrics import _log_loss

    rng = np.random.default_rng(3)
    for n in (1, 7, 1000):
        p = rng.uniform(size=(n, 1))
        p[0] = 0.0  # clipped
        y = rng.integers(0, 2, size=n)

        class Net:
            def __init__(self, p: np.ndarray) -> None:
                self.p = p

            def predict_proba(self, X: object) -> np.ndarray:
                return self.p

        P = np.hstack([1 - p, p])  # the definition: P(true class) from the (n, 2) copy
        want = float(-np.log(np.clip(P[np.arange(n), y], 1e-15, 1.0)).mean())
        assert _log_loss(Net(p), None, y) == want  # bit for bit
