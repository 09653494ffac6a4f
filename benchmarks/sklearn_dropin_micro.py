"""The alternatives weighed for the estimators' step (branch k15), timed alone.

Digits' shapes (200 rows, 64-100-10), one BLAS thread, each call repeated 100-500 times,
best of 20 interleaved repeats (hot caches: proportions, not a step's time):

* the two large products: z[1] = a[0] W[1]ᵀ in 1-4 row blocks; dW[1]ᵀ = a[0]ᵀ dZ[1] as one
  call, in blocks of a[0]'s columns (main's), as the sum over 2-4 row blocks (k15's);
* the head's reductions over 10 classes along rows and down columns;
* the ReLU/bias passes and mask variants; ctypes BLAS axpy against ufuncs.

    python benchmarks/sklearn_dropin_micro.py [float64|float32]
"""

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from mlplab.fast import _blas

dt = np.dtype(sys.argv[1] if len(sys.argv) > 1 else "float64")
r = np.random.default_rng(0)
Xb = r.standard_normal((200, 64)).astype(dt)
W1T = r.standard_normal((64, 100)).astype(dt)
Z1, dZ1 = np.empty((200, 100), dt), r.standard_normal((200, 100)).astype(dt)
gW, tmp = np.empty((64, 100), dt), np.empty((64, 100), dt)
Z = r.standard_normal((200, 10)).astype(dt)
ZT = np.ascontiguousarray(Z.T)
A = np.maximum(dZ1, 0)
M, Bm, b = np.empty_like(A), np.empty(A.shape, bool), r.standard_normal(100).astype(dt)
v, w = r.random(7510).astype(dt), r.random(7510).astype(dt)
k = _blas.level1(dt)


def blocks(n: int) -> list[slice]:
    return [slice(i * 200 // n, (i + 1) * 200 // n) for i in range(n)]


def fwd(n: int):  # type: ignore[no-untyped-def]
    s = blocks(n)
    return lambda: [Xb[q].dot(W1T, out=Z1[q]) for q in s]


def dw_rows(n: int):  # type: ignore[no-untyped-def]
    s = blocks(n)

    def f() -> None:
        Xb[s[0]].T.dot(dZ1[s[0]], out=gW)
        for q in s[1:]:
            Xb[q].T.dot(dZ1[q], out=tmp)
            np.add(gW, tmp, out=gW)

    return f


def dw_cols() -> None:
    Xb.T[:32].dot(dZ1, out=gW[:32])
    Xb.T[32:].dot(dZ1, out=gW[32:])


OPS = {f"z[1] in {n} row block(s)": fwd(n) for n in (1, 2, 3, 4)}
OPS |= {f"dW[1] sum of {n} row block(s)": dw_rows(n) for n in (1, 2, 3, 4)}
OPS |= {
    "dW[1] 2 blocks of a[0]'s columns": dw_cols,
    "max over classes, (200, 10) rows": lambda: Z.max(axis=1, keepdims=True),
    "max over classes, (10, 200) columns": lambda: ZT.max(axis=0),
    "sum over classes, rows": lambda: Z.sum(axis=1, keepdims=True),
    "sum over classes, columns": lambda: ZT.sum(axis=0),
    "Z1 += b (broadcast)": lambda: np.add(Z1, b, out=Z1),
    "greater -> float mask": lambda: np.greater(A, 0, out=M),
    "greater -> bool mask": lambda: np.greater(A, 0, out=Bm),
    "multiply by float mask": lambda: np.multiply(dZ1, M, out=dZ1),
    "multiply by bool mask": lambda: np.multiply(dZ1, Bm, out=dZ1),
    "maximum(Z, 0)": lambda: np.maximum(Z1, 0, out=Z1),
    "ufunc multiply, 7510": lambda: np.multiply(v, 0.5, out=w),
    "ufunc sqrt, 7510": lambda: np.sqrt(v, out=w),
    "ufunc divide, 7510": lambda: np.divide(v, w, out=w),
}
if k is not None:
    OPS["ctypes BLAS axpy, 7510"] = lambda: k.axpy(0.5, v, w)
    OPS["ctypes BLAS axpby, 7510"] = lambda: k.axpby(0.5, v, 0.2, w)

if __name__ == "__main__":
    with threadpool_limits(1, "blas"):
        T: dict[str, list[float]] = {n: [] for n in OPS}
        for _ in range(20):
            for n, f in OPS.items():
                t = time.perf_counter()
                for _ in range(100):
                    f()
                T[n].append((time.perf_counter() - t) / 100 * 1e6)
    for n, ts in T.items():
        print(f"{dt} {n:36s} {min(ts):7.2f} µs")
