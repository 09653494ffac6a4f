"""``partial_fit`` call by call: mlplab's estimators against scikit-learn's, interleaved.

A stream of mini-batches fed one ``partial_fit`` call each, as a user trains on data that
arrives in pieces: most of a call's time is the checking and setting-up around a few
small products, so this measures the estimators' per-call overhead. For each case the two
libraries take turns, ``--rounds`` times: each turn a fresh estimator (the same
parameters, ``random_state=0``) is fed the same ``--calls`` batches. It prints µs per call
(median of the rounds) and the ratio mlplab / scikit-learn (median of the per-round
ratios), with the CPU, BLAS and library versions. Both run on one BLAS thread.

    python benchmarks/sklearn_partial_fit.py [--rounds 7] [--calls 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # environment(), shared with make bench


def cases() -> dict[str, tuple[Any, Any, np.ndarray, np.ndarray, dict[str, Any]]]:
    """name → (mlplab estimator class, scikit-learn's, X, y, partial_fit's first keywords)."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
    from sklearn.neural_network import MLPClassifier as SkC
    from sklearn.neural_network import MLPRegressor as SkR

    from mlplab import MLPClassifier, MLPRegressor

    Xd, yd = load_digits(return_X_y=True)
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xr, yr = load_diabetes(return_X_y=True)
    return {
        "digits, 10 classes": (MLPClassifier, SkC, Xd / 16, yd, {"classes": np.arange(10)}),
        "breast cancer, 2 classes": (MLPClassifier, SkC, Xb / Xb.max(0), yb, {"classes": [0, 1]}),
        "diabetes, regression": (MLPRegressor, SkR, Xr, yr / yr.std(), {}),
    }


def stream(est: Any, X: np.ndarray, y: np.ndarray, first: dict, calls: int, batch: int) -> float:
    """Seconds for ``calls`` partial_fit calls on consecutive batches (wrapping around)."""
    n = X.shape[0]
    starts = [(i * batch) % (n - batch) for i in range(calls)]
    t = time.perf_counter()
    for i, s in enumerate(starts):
        est.partial_fit(X[s : s + batch], y[s : s + batch], **(first if i == 0 else {}))
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--batches", type=int, nargs="+", default=[32, 200])
    args = p.parse_args()
    from threadpoolctl import threadpool_limits

    for key, value in bench.environment().items():
        print(f"{key}: {value}")
    print(f"command: python benchmarks/sklearn_partial_fit.py {' '.join(sys.argv[1:])}")
    print("\n| case | batch | mlplab µs/call | scikit-learn µs/call | mlplab / scikit-learn |")
    print("|---|---:|---:|---:|---:|")
    warnings.simplefilter("ignore")  # ConvergenceWarning and the like: not timed
    with threadpool_limits(1):
        for name, (ours, theirs, X, y, first) in cases().items():
            for batch in args.batches:
                times: dict[str, list[float]] = {"mlplab": [], "sklearn": []}
                for _ in range(args.rounds):
                    for key, cls in (("mlplab", ours), ("sklearn", theirs)):
                        est = cls(hidden_layer_sizes=(64,), random_state=0)
                        times[key].append(stream(est, X, y, first, args.calls, batch))
                ratio = statistics.median(
                    a / b for a, b in zip(times["mlplab"], times["sklearn"], strict=True)
                )
                us = {k: statistics.median(v) / args.calls * 1e6 for k, v in times.items()}
                print(
                    f"| {name} | {batch} | {us['mlplab']:.0f} | {us['sklearn']:.0f} | "
                    f"{ratio:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
