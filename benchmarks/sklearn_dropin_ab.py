"""A/B of whole estimator fits between two source trees, in alternating processes.

Digits, ``hidden_layer_sizes=(100,)``, adam, ``tol=0``, ``random_state=0``. Each process
imports one tree's ``mlplab`` (``PYTHONPATH``), fits once to warm up, then times
``--fits`` fits; processes alternate A, B (float64, then ``dtype="float32"``) for
``--rounds`` rounds. Run under the bench lock; A is typically ``git archive`` of main:

    git archive 6190d8e src | tar -x -C /tmp/base
    python benchmarks/sklearn_dropin_ab.py /tmp/base/src src [--max-iter 200] [--fits 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings


def child(max_iter: int, fits: int, dtype: str) -> None:
    from sklearn.datasets import load_digits

    from mlplab import MLPClassifier

    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    p = dict(hidden_layer_sizes=(100,), solver="adam", max_iter=max_iter, tol=0.0)
    extra = {} if dtype == "float64" else {"dtype": dtype}
    MLPClassifier(random_state=0, **p, **extra).fit(X, y)
    ts = []
    for _ in range(fits):
        t = time.perf_counter()
        MLPClassifier(random_state=0, **p, **extra).fit(X, y)
        ts.append(time.perf_counter() - t)
    print(json.dumps(ts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--fits", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", default=None)
    args = ap.parse_args()
    if args.child:
        child(args.max_iter, args.fits, args.child)
        return
    T: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for dtype in ("float64", "float32"):
            for name, src in (("A", args.a), ("B", args.b)):
                env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
                cmd = [sys.executable, __file__, "x", "x", "--child", dtype]
                cmd += ["--max-iter", str(args.max_iter), "--fits", str(args.fits)]
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                T.setdefault((name, dtype), []).extend(json.loads(out.stdout))
    for dtype in ("float64", "float32"):
        a, b = T[("A", dtype)], T[("B", dtype)]
        print(
            f"{dtype}: A median {statistics.median(a):.3f} s (min {min(a):.3f}), "
            f"B median {statistics.median(b):.3f} s (min {min(b):.3f}); "
            f"A/B median x{statistics.median(a) / statistics.median(b):.2f}, "
            f"min x{min(a) / min(b):.2f}"
        )


if __name__ == "__main__":
    main()
