"""A/B of one BLAS thread for small products in the estimators' fit (digits, adam).

"before" sets ``mlplab.sklearn._fitting.SMALL_PRODUCT = 0`` (BLAS keeps its threads),
"after" keeps the default; scikit-learn float64 is the reference. Rounds interleaved,
order rotated each round. Run under the bench lock (see RESULTS-sklearn-dropin.md):

    PYTHONPATH=src python benchmarks/sklearn_dropin_threads_ab.py [max_iter=50] [rounds=3]
"""

import statistics
import sys
import time
import warnings

from sklearn import neural_network as sk
from sklearn.datasets import load_digits

from mlplab import sklearn as ml
from mlplab.sklearn import _fitting

NEW = _fitting.SMALL_PRODUCT


def _mode(new: bool, dtype: str | None):
    extra = {} if dtype is None else {"dtype": dtype}

    def fit(X, y, p):
        _fitting.SMALL_PRODUCT = NEW if new else 0
        return ml.MLPClassifier(**p, **extra).fit(X, y)

    return fit


def main() -> None:
    X, y = load_digits(return_X_y=True)
    it = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    p = dict(hidden_layer_sizes=(100,), solver="adam", max_iter=it, tol=0.0, random_state=0)
    warnings.simplefilter("ignore")
    impl = {
        "sk64": lambda X, y, p: sk.MLPClassifier(**p).fit(X, y),
        "ml64 before (2 BLAS threads)": _mode(False, None),
        "ml32 before": _mode(False, "float32"),
        "ml64 after (1 BLAS thread)": _mode(True, None),
        "ml32 after": _mode(True, "float32"),
    }
    for f in impl.values():
        f(X, y, p)
    T: dict[str, list[float]] = {k: [] for k in impl}
    ks = list(impl)
    for r in range(rounds):
        for k in ks[r % len(ks) :] + ks[: r % len(ks)]:
            t = time.perf_counter()
            impl[k](X, y, p)
            T[k].append(time.perf_counter() - t)
    s = statistics.median(T["sk64"])
    for k, v in T.items():
        m = statistics.median(v)
        print(f"{k:30s} median {m:.3f}s  min-max {min(v):.3f}-{max(v):.3f}  sk64/this x{s / m:.2f}")


if __name__ == "__main__":
    main()
