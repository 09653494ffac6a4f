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
