"""A/B of the row blocks of mid-size products in the estimators' fit (digits, adam).

"off" makes ``mlplab.fast.workspace.row_blocks`` return None (one BLAS call per product,
as before), "on" keeps it (products of 1-2 million multiply-adds in two row blocks that
OpenBLAS's small-matrix kernels take; benchmarks/gemm_blocks.py times the products
alone). Both run on one BLAS thread, as the estimators' fit does. Rounds interleaved,
order alternated each round; wall time of whole fits. Run under the bench lock:

    PYTHONPATH=src python benchmarks/sklearn_dropin_blocks_ab.py [max_iter=100] [rounds=10]
"""

import statistics
import sys
import time
import warnings

from sklearn.datasets import load_digits

from mlplab import sklearn as ml
from mlplab.fast import workspace as _ws

ROW_BLOCKS = _ws.row_blocks


def _fit(on: bool, dtype: str | None):  # type: ignore[no-untyped-def]
    extra = {} if dtype is None else {"dtype": dtype}

    def fit(X, y, p):  # type: ignore[no-untyped-def]
        _ws.row_blocks = ROW_BLOCKS if on else (lambda m, k, n: None)
        return ml.MLPClassifier(**p, **extra).fit(X, y)

    return fit


def main() -> None:
    X, y = load_digits(return_X_y=True)
    it = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    p = dict(hidden_layer_sizes=(100,), solver="adam", max_iter=it, tol=0.0, random_state=0)
    warnings.simplefilter("ignore")
    impl = {
        "float64 blocks off": _fit(False, None),
        "float64 blocks on": _fit(True, None),
        'dtype="float32" blocks off': _fit(False, "float32"),
        'dtype="float32" blocks on': _fit(True, "float32"),
    }
    for f in impl.values():
        f(X, y, p)
    T: dict[str, list[float]] = {k: [] for k in impl}
    ks = list(impl)
    for r in range(rounds):
        for k in ks if r % 2 == 0 else ks[::-1]:
            t = time.perf_counter()
            impl[k](X, y, p)
            T[k].append(time.perf_counter() - t)
    for k, v in T.items():
        print(f"{k:28s} median {statistics.median(v):.3f}s  min-max {min(v):.3f}-{max(v):.3f}")


if __name__ == "__main__":
    main()
