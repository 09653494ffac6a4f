"""Per-piece timer of one estimator step on digits' shapes, as main (6190d8e) ran it.

200 rows, 64-100-10, ReLU, softmax, L2, scikit-learn's Adam, each piece the NumPy calls of
mlplab's step before branch k15 (row blocks for z[1] = a[0] W[1]ᵀ, blocks of a[0]'s
columns for dW[1]), repeated 200 times, best of 15 interleaved repeats, on one and on two
BLAS threads (threadpoolctl). Hot caches: read the numbers as proportions of a step.

    python benchmarks/sklearn_dropin_pieces.py [float64|float32]
"""

import math
import sys
import time

import numpy as np
from _adam_inline import adam_into
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

dt = np.dtype(sys.argv[1] if len(sys.argv) > 1 else "float64")
X, y = load_digits(return_X_y=True)
X = X.astype(dt)
rng = np.random.default_rng(0)
m, n0, n1, n2 = 200, 64, 100, 10
theta = (rng.standard_normal(n0 * n1 + n1 + n1 * n2 + n2) * 0.1).astype(dt)
W1T, b1 = theta[:6400].reshape(64, 100), theta[6400:6500]
W2T, b2 = theta[6500:7500].reshape(100, 10), theta[7500:]
g = np.zeros_like(theta)
gW1T, gb1 = g[:6400].reshape(64, 100), g[6400:6500]
gW2T, gb2 = g[6500:7500].reshape(100, 10), g[7500:]
Yall = np.eye(10, dtype=dt)[y]
idx = rng.permutation(1797)[:200]
Xb, Yb = np.empty((m, n0), dt), np.empty((m, n2), dt)
Z1, M1, Z2 = np.empty((m, n1), dt), np.empty((m, n1), dt), np.empty((m, n2), dt)
dZ2, T1, T2, dA1 = (np.empty(s, dt) for s in ((m, n2), (m, n2), (m, n2), (m, n1)))
ones = np.ones(m, dt)
v, s, v2, s2, u, t0, out = (np.zeros_like(theta) for _ in range(7))
bufW1, bufW2 = np.empty_like(W1T), np.empty_like(W2T)


def gather():
    X.take(idx, axis=0, out=Xb, mode="clip")
    Yall.take(idx, axis=0, out=Yb, mode="clip")


def fwd1_one():
    Xb.dot(W1T, out=Z1)


def fwd1_blk():
    Xb[:100].dot(W1T, out=Z1[:100])
    Xb[100:].dot(W1T, out=Z1[100:])


def bias_relu():
    np.add(Z1, b1, out=Z1)
    np.greater(Z1, 0, out=M1)
    np.multiply(Z1, M1, out=Z1)


def fwd2():
    Z1.dot(W2T, out=Z2)
    np.add(Z2, b2, out=Z2)


def head():
    n = 200
    np.subtract(Z2, Z2.max(axis=1, keepdims=True), out=T1)
    np.exp(T1, out=T2)
    np.subtract(T1, np.log(T2.sum(axis=1, keepdims=True)), out=T1)
    np.multiply(Yb, T1, out=T2)
    J = -float(T2.sum() / n)
    np.exp(T1, out=dZ2)
    np.subtract(dZ2, Yb, out=dZ2)
    np.multiply(dZ2, 1.0 / n, out=dZ2)
    return J


def back2():
    Z1.T.dot(dZ2, out=gW2T)
    ones.dot(dZ2, out=gb2)


def dA():
    dZ2.dot(W2T.T, out=dA1)
    np.multiply(dA1, M1, out=dA1)


def dW1_one():
    Xb.T.dot(dA1, out=gW1T)


def dW1_blk():
    Xb.T[:32].dot(dA1, out=gW1T[:32])
    Xb.T[32:].dot(dA1, out=gW1T[32:])


def db1():
    ones.dot(dA1, out=gb1)


def l2():
    tot = 0.0
    for W, buf in ((W1T, bufW1), (W2T, bufW2)):
        np.multiply(W, W, out=buf)
        tot = tot + float(buf.sum())
    for G, W, buf in ((gW1T, W1T, bufW1), (gW2T, W2T, bufW2)):
        np.multiply(W, 1e-4 / 200, out=buf)
        np.add(G, buf, out=G)


def adam():
    b1_, b2_, lr, t = 0.9, 0.999, 1e-3, 5
    lr_t = lr * math.sqrt(1 - b2_**t) / (1 - b1_**t)
    adam_into(g, v, s, (v2, s2, u, t0), lr_t, b1_, b2_, 1e-8)


def check_add():
    float(u.dot(g))
    np.add(theta, u, out=out)


def accuracy():
    np.count_nonzero(Z2.argmax(axis=1) == y[idx])


PIECES = [gather, fwd1_one, fwd1_blk, bias_relu, fwd2, head, back2, dA, dW1_one, dW1_blk, db1]
PIECES += [l2, adam, check_add, accuracy]


def run(threads: int) -> dict[str, float]:
    with threadpool_limits(threads, "blas"):
        T: dict[str, list[float]] = {f.__name__: [] for f in PIECES}
        for _ in range(15):
            for f in PIECES:
                t = time.perf_counter()
                for _ in range(200):
                    f()
                T[f.__name__].append((time.perf_counter() - t) / 200 * 1e6)
    return {k: min(v) for k, v in T.items()}


if __name__ == "__main__":
    one, two = run(1), run(2)
    for k in one:
        print(f"{k:10s} 1 thread {one[k]:6.1f} µs   2 threads {two[k]:6.1f} µs")
    step = sum(v for k, v in one.items() if k not in ("fwd1_one", "dW1_one"))
    print(dt, "sum of the pieces (blocks, 1 thread):", round(step, 1))
