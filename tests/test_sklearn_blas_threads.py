"""The estimators' fit runs small products on one BLAS thread (mlplab.sklearn._fitting)."""

import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from mlplab.sklearn import _fitting  # noqa: E402


def _blas_threads_now() -> set[int]:
    return {m["num_threads"] for m in threadpoolctl.threadpool_info() if m["user_api"] == "blas"}


def test_small_products_run_on_one_blas_thread_and_the_limit_is_lifted_after():
    before = _blas_threads_now()
    with _fitting._blas_threads([64, 100, 10], 200, 1800):  # digits: 200 × 64 × 100
        assert _blas_threads_now() == {1}
    assert _blas_threads_now() == before


@pytest.mark.parametrize(
    ("sizes", "B", "steps"),
    [
        ([64, 100, 10], 200, 99),  # too short a fit to pay for the switch
        ([784, 2048, 10], 200, 1800),  # 200 × 784 × 2048 multiply-adds: BLAS threads help
    ],
)
def test_short_fits_and_large_products_keep_the_blas_threads(sizes, B, steps):
    before = _blas_threads_now()
    with _fitting._blas_threads(sizes, B, steps):
        assert _blas_threads_now() == before
