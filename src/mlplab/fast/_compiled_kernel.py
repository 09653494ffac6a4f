r"""The body that :mod:`mlplab.fast.compiled` compiles with Numba: plain Python on arrays.

Written for Numba's nopython mode (loops over entries, ``np.dot`` with an output array,
no Python objects) and compiled when this module is imported with Numba installed
(``cache=True``: machine code cached on disk, beside this file or in Numba's user cache);
without Numba the same functions are ordinary, slow, Python. Notation as in
:mod:`mlplab.fast.workspace`; θ holds W[l]ᵀ (n[l-1], n[l]) row by
row then b[l], layer after layer; ``Zb`` the batch's z[l] (then a[l] in place) layer after
layer, each (m, n[l]) row by row with room for |B| rows; ``dZb`` the same for dZ[l].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from mlplab._typing import Array

Ints = NDArray[np.int64]
"""Layer sizes n[l], activation codes, row order: int64 vectors."""

F = TypeVar("F", bound=Callable[..., Any])


class _Decorator(Protocol):
    """A decorator that keeps the signature: Numba's compiled function is called as the
    Python function it compiles."""

    def __call__(self, f: F, /) -> F: ...


_jit: _Decorator
_jit_sum: _Decorator
try:  # the optional extra [numba]; imported by mlplab.fast.compiled only when it is used
    import numba

    _jit = cast(_Decorator, numba.njit(cache=True, nogil=True))
    _jit_sum = cast(_Decorator, numba.njit(cache=True, nogil=True, fastmath={"reassoc"}))
except ImportError:  # pragma: no cover - plain Python, for reading and testing

    def _plain(f: F) -> F:
        return f

    _jit = _jit_sum = _plain


@_jit
def _bias_act(Z: Array, b: Array, code: int) -> None:
    # z += b, then a = g(z) in place: identity, relu, tanh, σ
    m, r = Z.shape  # one loop per activation: the branch is not taken per entry, and the
    if code == 1:  # ReLU and identity loops are vectorized
        for i in range(m):
            for j in range(r):
                z = Z[i, j] + b[j]
                Z[i, j] = max(z, z * 0)
    elif code == 0:
        for i in range(m):
            for j in range(r):
                Z[i, j] += b[j]
    else:
        for i in range(m):
            for j in range(r):
                z = Z[i, j] + b[j]
                if code == 2:
                    z = np.tanh(z)
                else:  # σ, stable in both tails
                    z = 1 / (1 + np.exp(-z)) if z >= 0 else np.exp(z) / (1 + np.exp(z))
                Z[i, j] = z


@_jit
def _times_dact(dA: Array, A: Array, code: int) -> None:
    # dA ⊙= g'(z) from a = g(z): 1[a > 0], 1 − a², a(1 − a)
    m, c = dA.shape
    if code == 1:
        for i in range(m):
            for j in range(c):
                dA[i, j] = dA[i, j] if A[i, j] > 0 else dA[i, j] * 0
    elif code == 2:
        for i in range(m):
            for j in range(c):
                dA[i, j] *= 1 - A[i, j] * A[i, j]
    elif code == 3:
        for i in range(m):
            for j in range(c):
                dA[i, j] *= A[i, j] * (1 - A[i, j])


@_jit
def _forward(
    A: Array, theta: Array, sizes: Ints, acts: Ints, l2: bool, Zb: Array, bs: int
) -> tuple[Array, float]:
    # a[L] (the logits z[L]), Σ‖W‖² if l2
    m = A.shape[0]
    off, zoff, pen = 0, 0, 0.0
    for l in range(sizes.shape[0] - 1):  # z[l] = a[l-1] W[l]ᵀ + b[l], a[l] = g(z[l])
        r, c = sizes[l + 1], sizes[l]
        WT = theta[off : off + r * c].reshape(c, r)  # W[l]ᵀ: θ's storage order
        Z = Zb[zoff : zoff + m * r].reshape(m, r)
        np.dot(A, WT, Z)
        _bias_act(Z, theta[off + r * c : off + r * c + r], acts[l])
        if l2:
            for t in range(off, off + r * c):
                pen += theta[t] * theta[t]
        A = Z
        off += r * c + r
        zoff += bs * r
    return A, pen


@_jit_sum
def _finite_after(
    theta: Array, v: Array, g: Array, lr: float, beta: float, one_m: float, tiny: float
) -> bool:
    """True if every entry of θ that :func:`_apply` would write is finite; changes nothing.

    The check is Σ (θ_t − θ_t): 0 when all are finite, NaN otherwise; a test per entry kept
    the loop from being vectorized and cost 30-60 % of a moons epoch (benchmarks/RESULTS.md).
    Only that sum may be reassociated (``reassoc``). Checking first and then writing, rather
    than writing, checking and copying θ and v back from a saved copy, saves two copies of
    θ and v per step.
    """
    acc = theta[0] * 0
    if beta == 0:
        for t in range(theta.shape[0]):
            nt = theta[t] - lr * g[t]
            acc += nt - nt
    else:
        zero = tiny - tiny
        for t in range(theta.shape[0]):
            vt = beta * v[t] + one_m * g[t]
            vt = zero if abs(vt) < tiny else vt  # NaN stays NaN: refused
            nt = theta[t] - lr * vt
            acc += nt - nt
    return bool(acc == 0)


@_jit
def _apply(
    theta: Array, v: Array, g: Array, lr: float, beta: float, one_m: float, tiny: float
) -> None:
    # θ ← θ − αg, or v ← βv + (1−β)g, θ ← θ − αv
    """The step in place, each entry's arithmetic that of the NumPy step, except that an
    entry of v smaller than the smallest normal float (``tiny``) is set to 0.

    Why: a unit that no row activates has a zero gradient, so its entries of v shrink by β
    per step into the subnormal floats and stay there (β times the smallest subnormal
    rounds back to it); arithmetic on subnormals takes a slow microcode path on x86 CPUs.
    On moons [2,64,64,1] some 300 such entries made an epoch 2× slower by its 10th epoch
    (docs/guide/performance.md). JAX's compiled code treats all subnormals as zero on
    CPUs; this flushes only v, which moves θ by less than α·tiny per step.
    """
    if beta == 0:
        for t in range(theta.shape[0]):
            theta[t] = theta[t] - lr * g[t]
    else:
        zero = tiny - tiny
        for t in range(theta.shape[0]):
            vt = beta * v[t] + one_m * g[t]
            vt = zero if abs(vt) < tiny else vt  # NaN stays NaN: refused
            v[t] = vt
            theta[t] = theta[t] - lr * vt


@_jit
def _head(Z: Array, Y: Array, dZ: Array, head: int, m: int) -> tuple[float, float]:
    # J·m of the batch; dZ[L] = (a[L] − y)/m; # correct
    k = Z.shape[1]
    total = 0.0
    correct = 0.0
    inv = Z.dtype.type(1.0) / m
    for i in range(m):
        if head == 1:  # softmax + cross-entropy, max-shifted
            zmax, arg, yarg = Z[i, 0], 0, 0
            for j in range(k):
                if Z[i, j] > zmax:
                    zmax, arg = Z[i, j], j
                if Y[i, j] > Y[i, yarg]:
                    yarg = j
            s = 0.0
            for j in range(k):
                s += np.exp(Z[i, j] - zmax)
            logs = np.log(s)
            for j in range(k):
                logp = Z[i, j] - zmax - logs
                total -= Y[i, j] * logp
                dZ[i, j] = (np.exp(logp) - Y[i, j]) * inv
            correct += 1.0 if arg == yarg else 0.0
        else:
            for j in range(k):
                z, y = Z[i, j], Y[i, j]
                if head == 0:  # σ + cross-entropy: log(1 + e^z) − yz
                    e = np.exp(-abs(z))  # one exp for J and σ: the same numbers
                    total += max(z, 0) + np.log1p(e) - y * z
                    a = 1 / (1 + e) if z >= 0 else e / (1 + e)
                    correct += (1.0 if (z > 0) == (y > 0.5) else 0.0) / k
                else:  # identity + squared error: (1/2)‖a − y‖²
                    a = z
                    total += 0.5 * (z - y) * (z - y)
                dZ[i, j] = (a - y) * inv
    return total, correct


@_jit
def _gather(X: Array, Y: Array, rows: Ints, Xb: Array, Yb: Array) -> None:
    """The batch's rows of X and Y, copied entry by entry into Xb and Yb."""
    for i in range(rows.shape[0]):
        row = rows[i]
        for j in range(X.shape[1]):
            Xb[i, j] = X[row, j]
        for j in range(Y.shape[1]):
            Yb[i, j] = Y[row, j]


@_jit
def steps(X: Array, Y: Array, order: Ints, b0: int, b1: int, bs: int, theta: Array,
          v: Array, g: Array, sizes: Ints, acts: Ints, head: int, lr: float, beta: float,
          one_m: float, lam: float, tiny: float, Zb: Array, dZb: Array, Xb: Array, Yb: Array,
          out: Array, Jb: Array) -> None:  # fmt: skip
    """Batches b0..b1−1 of ``order``: forward, head, backward, checked step; see compiled.py."""
    n, L = order.shape[0], sizes.shape[0] - 1
    out[0] = out[1] = out[2] = out[3] = 0.0
    for b in range(b0, b1):
        s = b * bs
        m = min(bs, n - s)
        _gather(X, Y, order[s : s + m], Xb, Yb)
        A, pen = _forward(Xb[:m], theta, sizes, acts, lam != 0, Zb, bs)
        off, zoff, k = theta.shape[0], bs * (Zb.shape[0] // bs), sizes[L]
        zoff -= bs * k
        dZ = dZb[zoff : zoff + m * k].reshape(m, k)
        J, correct = _head(A, Yb[:m], dZ, head, m)
        J = J / m + lam / (2 * m) * pen  # the batch's mean cost, + (λ/2|B|) Σ‖W‖²
        for l in range(L - 1, -1, -1):  # backward
            r, c = sizes[l + 1], sizes[l]
            off -= r * c + r
            WT = theta[off : off + r * c].reshape(c, r)
            gWT = g[off : off + r * c].reshape(c, r)
            if l > 0:
                pz = zoff - bs * c
                A_prev = Zb[pz : pz + m * c].reshape(m, c)
            else:
                A_prev = Xb[:m]
            np.dot(A_prev.T, dZ, gWT)  # dW[l] = dZ[l]ᵀ a[l-1], stored as dW[l]ᵀ
            if lam != 0:
                for t in range(off, off + r * c):  # dW[l] += (λ/|B|) W[l]
                    g[t] += lam / m * theta[t]
            gb = g[off + r * c : off + r * c + r]
            gb[:] = 0  # db[l] = Σ_i dZ[l], row after row: the inner loop runs along a
            for i in range(m):  # row (vectorized), each sum still in the order i = 0..m−1
                for j in range(r):
                    gb[j] += dZ[i, j]
            if l > 0:  # dZ[l-1] = (dZ[l] W[l]) ⊙ g'(z[l-1])
                dA = dZb[pz : pz + m * c].reshape(m, c)
                np.dot(dZ, WT.T, dA)
                _times_dact(dA, A_prev, acts[l - 1])
                dZ = dA
                zoff = pz
        Jb[0] = J  # J in the network's dtype, as NumPy computes it: overflow is inf there
        J = Jb[0]
        out[3] = J
        if not np.isfinite(J):
            return  # not applied: θ and v as the last step left them
        if not _finite_after(theta, v, g, lr, beta, one_m, tiny):
            return  # a new entry would not be finite: not applied
        _apply(theta, v, g, lr, beta, one_m, tiny)
        out[0] += J * m
        out[1] += correct
        out[2] += 1
