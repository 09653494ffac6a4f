r"""The training fast path of backprop on NumPy: the same equations, into buffers.

:mod:`mlplab.core.backprop` is the lecture: every call allocates new arrays for each
z[l], a[l] and gradient. Training repeats that computation on batches of one shape
thousands of times, so the trainer runs it through :class:`Workspace`, whose buffers are
allocated once per batch size (:func:`workspace_for`), and writes dW[l], db[l] straight
into its flat gradient vector. :func:`backward_into` is the lecture's backward for the
callers that have the caches of :func:`~mlplab.core.backprop.forward` (other array
libraries, the MPI loop) and a flat gradient vector to fill.

Notation as in :mod:`mlplab.core.backprop`; ``params[l]`` is the lecture's layer l + 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

from mlplab._typing import Array, Grads, Params
from mlplab.core import heads as _heads
from mlplab.core.network import Network
from mlplab.fast import heads as _fast_heads
from mlplab.fast import kernels as _kernels
from mlplab.fast.backward import backward_into as backward_into  # its old import path
from mlplab.fast.layout import LayerBlocks
from mlplab.fast.layout import with_bias_row as with_bias_row  # its old import path

W = TypeVar("W", bound="Workspace")

SMALL_GEMM = 1_000_000
r"""Multiply-adds up to which OpenBLAS multiplies matrices with its small-matrix kernels.

OpenBLAS (NumPy's BLAS in its wheels) multiplies an (m×k)·(k×n) product of at most
100³ multiply-adds without packing the operands into its blocked layout (on SkylakeX and
other cores that have such kernels). On one thread here, digits' 200×64×100 product took
50 µs as one call and 36 µs as two blocks of 100 rows in float64, 24 and 18 µs in float32
(benchmarks/gemm_blocks.py, benchmarks/RESULTS-sklearn-dropin.md).
"""


def row_blocks(m: int, k: int, n: int) -> tuple[slice, ...] | None:
    """Two row slices of an (m×k)·(k×n) product a little over :data:`SMALL_GEMM`, or None.

    A product of more than ``SMALL_GEMM`` multiply-adds whose halves (⌈m/2⌉ rows and the
    rest) have at most ``SMALL_GEMM`` each is computed as those two products, which
    OpenBLAS's small-matrix kernels take: a row of the result is the same sum of k
    products either way, but the kernel that adds them up may round the last bit
    differently. Larger products keep one call: there the blocked kernels pay for their
    packing, and more, smaller calls measured slower (benchmarks/gemm_blocks.py).

    Examples
    --------
    >>> row_blocks(200, 64, 100)  # digits: 1.28 million multiply-adds
    (slice(0, 100, None), slice(100, 200, None))
    >>> row_blocks(100, 64, 100) is None, row_blocks(2000, 64, 100) is None
    (True, True)
    """
    half = -(-m // 2)  # the first block takes the odd row
    if m * k * n <= SMALL_GEMM or half * k * n > SMALL_GEMM:
        return None
    return (slice(0, half), slice(half, m))


def _dot_rows(a: Array, b: Array, out: Array, rows: tuple[slice, ...]) -> None:
    """out = a·b, computed in the row blocks ``rows`` (:func:`row_blocks`)."""
    for r in rows:
        a[r].dot(b, out=out[r])


ONES_COPY_MAX = 1 << 26
"""Bytes up to which the estimators' step keeps a copy of X with a column of ones
(:meth:`Workspace.gather`); a larger X is gathered into the batch buffer's first columns
(a strided copy, 8 µs more per digits batch than the contiguous one)."""


def _with_ones(X: Any, dtype: Any) -> Array | None:
    """[X, 1] as a new array of ``dtype``, or None for a large or non-NumPy X."""
    if (
        type(X) is not np.ndarray
        or X.ndim != 2
        or X.shape[0] * (X.shape[1] + 1) * np.dtype(dtype).itemsize > ONES_COPY_MAX
    ):
        return None
    out = np.ones((X.shape[0], X.shape[1] + 1), dtype=dtype)
    out[:, :-1] = X
    return out


def _dot_sum(a: Array, b: Array, out: Array, rows: tuple[slice, ...], tmp: Array) -> None:
    """out = aᵀ·b as the sum over the row blocks ``rows`` of a and b of a[r]ᵀ·b[r]
    (``tmp``: scratch of out's shape). dW[l]ᵀ = a[l-1]ᵀ dZ[l] sums over the batch's rows:
    split there, its halves are small products too, and faster with the one addition
    than one call or blocks of a[l-1]'s columns (200 × 64 × 100 on one thread: 40 against
    58 and 64 µs in float64, 21 against 25 and 31 µs in float32)."""
    first, *rest = rows
    a[first].T.dot(b[first], out=out)
    for r in rest:
        a[r].T.dot(b[r], out=tmp)
        out += tmp


class Workspace:
    r"""Buffers for training steps on batches of ``n_samples`` rows, allocated once.

    :func:`~mlplab.core.backprop.forward`, :func:`~mlplab.core.backprop.backward` and
    :func:`~mlplab.core.backprop.loss_and_grads` are the lecture, and the code to read
    first: every call allocates new arrays for each z[l], a[l] and gradient. Training
    repeats that computation on batches of one shape thousands of times, so the
    :class:`~mlplab.Trainer` runs it through this class instead: the same equations,
    line for line, but

    * the mini-batch is gathered with one ``np.take`` into a buffer (no other copy);
    * every z[l], a[l], dZ[l] is written into an array allocated here (``out=``);
    * dW[l], db[l] go straight into the caller's gradient arrays (views of the trainer's
      flat dJ/dθ), db[l] = 1ᵀ dZ[l] as one BLAS call;
    * the 2-D products use ``ndarray.dot``, whose per-call overhead is lower than
      ``np.matmul``'s on small matrices (the same BLAS gemm on large ones);
    * activations run in-place kernels of the same formulas
      (:func:`mlplab.fast.kernels.inplace_kernels`), and so does a built-in head
      (:func:`mlplab.fast.heads.head_kernel`: J and dZ[L] bit for bit the pure head's).

    Each choice is measured in ``benchmarks/RESULTS.md``. The results agree with
    :func:`~mlplab.core.backprop.loss_and_grads` to float rounding
    (tests/test_performance_contracts.py).

    Parameters
    ----------
    net : Network
        Supplies the layer sizes, activations, head and dtype (not the parameters: those
        are passed to each call, so θ may change between steps).
    n_samples : int
        The batch size these buffers hold.

    blocks : bool, default=False
        The estimators' step, equal to the lecture's up to rounding (faster on one BLAS
        thread; the estimators turn it on with their one-thread limit,
        :mod:`mlplab.sklearn._fitting`): products a little over :data:`SMALL_GEMM`
        multiply-adds in two row blocks (:func:`row_blocks`; dW[l]ᵀ as the sum of the
        blocks' products, :func:`_dot_sum`), which OpenBLAS's small-matrix kernels take;
        a[0] gathered with a column of ones, so that b[1] and db[1] ride in the first
        layer's products (:func:`with_bias_row`); a multiclass head on z[L]ᵀ, one column
        per sample (:func:`mlplab.fast.heads.columns_kernel`). ``mlplab.fit`` keeps the
        default, so its results stay bit for bit those of earlier versions.

    Notes
    -----
    The buffers are overwritten by the next call: ``Z[-1]`` (the logits z[L]) and the
    gradients are valid until then. One workspace must not be shared between threads.
    """

    def __init__(self, net: Network, n_samples: int, blocks: bool = False) -> None:
        s, dt = net.layer_sizes, net.dtype
        L = len(s) - 1
        self.net = net
        self.n_samples = n_samples
        self.blocks = blocks
        self._plan_blocks()
        self.kernels = [_kernels.inplace_kernels(g) for g in net.hidden]
        self.head = net.head
        self.head_into = _fast_heads.head_kernel(net.head)  # None: the pure head runs
        # blocks (the estimators' step): z[L] of a multiclass head one column per sample
        self.columns = _fast_heads.columns_kernel(net.head) if blocks else None
        # the gathered batch a[0]; with blocks, and a column of ones (_z_into: b[1] in
        # the product, db[1] out of dW[1]'s: 11 and 3 µs less per digits step in float64)
        self.Xb = np.ones((n_samples, s[0] + int(blocks)), dtype=dt)
        self.Yb = np.empty((n_samples, s[L]), dtype=dt)
        self.Z = [np.empty((n_samples, s[l]), dtype=dt) for l in range(1, L + 1)]
        self.A = [np.empty((n_samples, s[l]), dtype=dt) for l in range(1, L)]  # hidden a[l]
        self.dZ = [np.empty((n_samples, s[l]), dtype=dt) for l in range(1, L)]  # hidden
        self.ones = np.ones(n_samples, dtype=dt)  # db[l] = 1ᵀ dZ[l]
        self.dZ_L = np.empty((n_samples, s[L]), dtype=dt)  # the head's dZ[L], and its
        self.T = [np.empty((n_samples, s[L]), dtype=dt) for _ in range(2)]  # scratch
        self._A_used: list[Array] = [self.Xb] * (L + 1)  # a[0..L] of the last call
        self._Y_columns: list[Any] = [None, None]  # (Y, Yᵀ copied), shared with views
        self._X_ones: list[Any] = [None, None]  # (X, [X, 1] copied or None), the same
        self._bias_rows: dict[int, tuple[Array, Array | None]] = {}
        if self.columns is not None:
            self._column_buffers()

    def _column_buffers(self) -> None:
        """z[L]ᵀ, yᵀ, dZ[L]ᵀ and scratch, (n[L], n_samples) each; Z[-1] is z[L] as a view."""
        k, m, dt = self.net.layer_sizes[-1], self.n_samples, self.net.dtype
        self.ZT, self.YT, self.dZT, *self.TT = (np.empty((k, m), dtype=dt) for _ in range(5))
        self.Z = [*self.Z[:-1], self.ZT.T]

    def _plan_blocks(self) -> None:
        """Row blocks of each layer's products for ``n_samples`` rows (None: one call):
        z[l] = a[l-1] W[l]ᵀ, dW[l]ᵀ = a[l-1]ᵀ dZ[l] (the sum over the same row blocks of
        a[l-1] and dZ[l], :func:`_dot_sum`) and dA[l-1] = dZ[l] W[l]."""
        m, on = self.n_samples, self.blocks
        pairs = list(itertools.pairwise(self.net.layer_sizes))
        self._fwd = [row_blocks(m, a, b) if on else None for a, b in pairs]
        self._dW = [row_blocks(m, a, b) if on else None for a, b in pairs]  # _dot_sum
        self._dA = [row_blocks(m, b, a) if on else None for a, b in pairs]
        had = getattr(self, "_dW_tmp", [None] * len(pairs))  # a view keeps its parent's
        self._dW_tmp = [  # scratch for [dW[l]ᵀ; db[l]ᵀ]'s second block (_dot_sum)
            t if t is not None or r is None else np.empty((a + 1, b), dtype=self.net.dtype)
            for t, r, (a, b) in zip(had, self._dW, pairs, strict=True)
        ]

    def first_rows(self, m: int) -> Workspace:
        """A workspace for batches of m ≤ n_samples rows whose buffers are the first m
        rows of these (C-contiguous views: nothing is allocated but, with ``blocks``, the
        few (n[L], m) arrays of a column-layout head; one of the two is used at a time)."""
        out = type(self).__new__(type(self))
        out.__dict__.update(self.__dict__)
        out.n_samples = m
        out.Xb, out.Yb, out.ones, out.dZ_L = self.Xb[:m], self.Yb[:m], self.ones[:m], self.dZ_L[:m]
        out.Z, out.A = [a[:m] for a in self.Z], [a[:m] for a in self.A]
        out.dZ, out.T = [a[:m] for a in self.dZ], [a[:m] for a in self.T]
        out._A_used = [out.Xb] * len(self._A_used)
        out._plan_blocks()  # the products of m rows, not of n_samples
        if self.columns is not None:  # the first m columns are no C-contiguous array
            out._column_buffers()
        return out

    def gather(self, X: Array, Y: Array, idx: np.ndarray) -> tuple[Array, Array]:
        """Rows ``idx`` of X (n, n[0]) and Y (n, n[L]), copied into the batch buffers.

        Returns the buffers, of shapes (n_samples, n[0]) and (n_samples, n[L]).
        """
        # mode="clip" skips the bounds check that would make np.take buffer its output;
        # idx comes from a permutation of range(n_samples), so it is always in range.
        if not self.blocks:
            X.take(idx, axis=0, out=self.Xb, mode="clip")
        else:  # [X, 1]'s rows, from a copy made once per X, or into the first columns
            ones = self._X_ones
            if ones[0] is not X:
                ones[:] = [X, _with_ones(X, self.Xb.dtype)]
            if ones[1] is not None:
                ones[1].take(idx, axis=0, out=self.Xb, mode="clip")
            else:
                X.take(idx, axis=0, out=self.Xb[:, :-1], mode="clip")
        if self.columns is not None:  # yᵀ's columns, from Yᵀ copied once per Y
            cache = self._Y_columns
            if cache[0] is not Y:
                cache[:] = [Y, np.ascontiguousarray(Y.T)]
            cache[1].take(idx, axis=1, out=self.YT, mode="clip")
            return self.Xb, self.YT.T
        Y.take(idx, axis=0, out=self.Yb, mode="clip")
        return self.Xb, self.Yb

    def loss_and_grads(
        self, params: Params, X: Array, Y: Array, grads: Grads, w: Array | None = None
    ) -> float:
        """J on the batch (X, Y); dJ/dW[l], dJ/db[l] written into ``grads``.

        The same computation as :func:`~mlplab.core.backprop.loss_and_grads` without the
        L2 term (the trainer adds it).

        Parameters
        ----------
        params : list of L DenseParams
            W[l] of shape (n[l], n[l-1]) and b[l] of shape (n[l],).
        X : ndarray of shape (n_samples, n[0])
            Exactly ``n_samples`` rows (e.g. :meth:`gather`'s buffer).
        Y : ndarray of shape (n_samples, n[L])
        grads : list of L DenseParams
            Arrays of the parameters' shapes to write dW[l], db[l] into (views of the
            trainer's flat dJ/dθ).
        w : ndarray of shape (n_samples,), optional
            Sample weights (float64): J = Σ w_i L(i) / Σ w_i and dZ[L] = w_i (a − y)_i / Σw
            (:func:`~mlplab.core.heads.weighted_loss_and_grad`).

        Returns
        -------
        J : float
        """
        L = len(params)
        A_used = self._A_used
        A = A_used[0] = X  # a[0] = x
        for l in range(L):  # forward
            Z = self.Z[l]
            if self.blocks:  # the estimators' step (row blocks, b[1] in the product)
                self._z_into(l, A, params[l], Z)  # z[l] = W[l] a[l-1] + b[l]
            else:  # mlplab.fit's: one product and + b[l], inline (≈ 3 µs a small step)
                A.dot(params[l].W.T, out=Z)  # z[l] = W[l] a[l-1] + b[l], a row a sample
                Z += params[l].b
            # a[l] = g(z[l]); the last layer keeps the logits z[L] (the head applies its link)
            A = self.kernels[l].forward_into(Z, self.A[l]) if l < L - 1 else Z
            A_used[l + 1] = A
        if w is None and self.columns is not None:  # the same, on z[L]ᵀ and yᵀ
            J = self.columns(self.ZT, Y.T, self.dZT, *self.TT)
            dZ = self.dZT.T
        elif w is None and self.head_into is not None:  # dZ[L] = (a[L] − y) / n
            dZ = self.dZ_L
            J = self.head_into(A, Y, dZ, *self.T)
        elif w is None:
            J, dZ = self.head.loss_and_grad(A, Y)
        else:
            J, dZ = _heads.weighted_loss_and_grad(self.head, A, Y, w)  # w_i (a − y)_i / Σw
        for l in range(L - 1, -1, -1):  # backward
            if self.blocks:
                self._grads_into(l, A_used[l], dZ, grads[l])  # dW[l], db[l]
            else:  # dW[l] = dZ[l]ᵀ a[l-1] (stored as dW[l]ᵀ), db[l] = 1ᵀ dZ[l]
                A_used[l].T.dot(dZ, out=grads[l].W.T)
                self.ones.dot(dZ, out=grads[l].b)
            if l > 0:  # da[0] = dx is not needed: skip that product
                dA, W, rows = self.dZ[l - 1], params[l].W, self._dA[l]
                if W.shape[0] == 1:  # one unit: the product is an outer product, and
                    np.multiply(dZ, W, out=dA)  # broadcasting beats a K=1 gemm 5-10×
                elif rows is None:
                    dZ.dot(W, out=dA)  # dA[l-1] = dZ[l] W[l]
                else:
                    _dot_rows(dZ, W, dA, rows)
                # dZ[l-1] = dA[l-1] ⊙ g'(z[l-1]), in place, from the buffers forward used
                dZ = self.kernels[l - 1].backward_into(dA, self.Z[l - 1], self.A[l - 1])
        return J

    def _z_into(self, l: int, A: Array, p: Any, Z: Array) -> None:
        """z[l] = W[l] a[l-1] + b[l] into Z, one row per sample (z[L]ᵀ into ``ZT``, one
        column per sample, with a column-layout head). a[0] with a column of ones
        (:meth:`gather` with ``blocks``) takes b[1] into the product: [a[0], 1] [W[1]ᵀ; b[1]ᵀ]."""
        W, b = p
        if l == len(self._fwd) - 1 and self.columns is not None:
            left = A if A.shape[1] == W.shape[1] else A[:, : W.shape[1]]  # L = 1: a[0], 1
            W.dot(left.T, out=self.ZT)  # z[L]ᵀ = W[L] a[L-1]ᵀ
            Z += b  # Z is ZT's transposed view
            return
        Wb = self.bias_row(p) if A.shape[1] > W.shape[1] else None
        right = W.T if Wb is None else Wb
        left = A if Wb is not None or A.shape[1] == W.shape[1] else A[:, : W.shape[1]]
        rows = self._fwd[l]
        if rows is None:
            left.dot(right, out=Z)
        else:
            _dot_rows(left, right, Z, rows)
        if Wb is None:
            Z += b

    def _grads_into(self, l: int, A: Array, dZ: Array, g: Any) -> None:
        """dW[l] = dZ[l]ᵀ a[l-1] (stored as dW[l]ᵀ) and db[l] = 1ᵀ dZ[l] into ``g``; with
        a[0]'s column of ones, both as one product into [dW[1]ᵀ; db[1]ᵀ]."""
        gW, gb = g
        gWb = self.bias_row(g) if A.shape[1] > gW.shape[1] else None
        out = gW.T if gWb is None else gWb
        left = A if gWb is not None or A.shape[1] == gW.shape[1] else A[:, : gW.shape[1]]
        rows = self._dW[l]
        if rows is None:
            left.T.dot(dZ, out=out)
        else:
            _dot_sum(left, dZ, out, rows, self._dW_tmp[l][: out.shape[0]])
        if gWb is None:
            self.ones.dot(dZ, out=gb)

    def bias_row(self, p: Any) -> Array | None:
        """:func:`with_bias_row` of the pair ``p``, kept per W[l] array (θ's two vectors
        and the gradient's: the same few arrays every step).

        Parameters
        ----------
        p : DenseParams
            (W, b) of one layer, W of shape (n_out, n_in), b of shape (n_out,): θ's
            ``params[l]`` or the gradient's ``grads[l]``.

        Returns
        -------
        ndarray of shape (n_in + 1, n_out) or None
            [Wᵀ; bᵀ] as a view of the vector holding W and b, or None.
        """
        cache = self._bias_rows
        hit = cache.get(id(p.W))
        if hit is None or hit[0] is not p.W:
            if len(cache) > 8:
                cache.clear()
            hit = cache[id(p.W)] = (p.W, with_bias_row(p.W, p.b))
        return hit[1]

    def layer_blocks(self, l: int) -> LayerBlocks:
        """The row blocks in which :meth:`loss_and_grads` computes ``params[l]``'s three
        products on this workspace (all None without ``blocks``).

        Parameters
        ----------
        l : int
            The index into ``params`` (the lecture's layer l + 1), 0 ≤ l < L.

        Returns
        -------
        LayerBlocks
        """
        return LayerBlocks(self._fwd[l], self._dW[l], self._dA[l], self._dW_tmp[l])

    def last_a(self, l: int) -> Array:
        """a[l] where the last :meth:`loss_and_grads` left it: ``Xb`` for a[0], Z[l] for
        a ReLU or identity layer (its kernel works over z), else A[l]; a[L] is z[L].
        Before any call every entry is ``Xb``.

        Parameters
        ----------
        l : int
            0 ≤ l ≤ L (or negative, as a list index).

        Returns
        -------
        ndarray of shape (n_samples, n[l])
        """
        return self._A_used[l]

    def copies_of(self, X: Any, Y: Any) -> tuple[Array | None, Array | None] | None:
        """The copies :meth:`gather` keeps with ``blocks``, if they are of X and Y: its
        [X, 1] and, with a column-layout head, Yᵀ; None where they are not (no gather
        from X and Y since they were made).

        Parameters
        ----------
        X : ndarray of shape (n, n[0])
        Y : ndarray of shape (n, n[L])

        Returns
        -------
        (X1, YT) or None
            X1 of shape (n, n[0] + 1), None for an X over :data:`ONES_COPY_MAX` bytes
            (gathered into ``Xb``'s first columns); YT of shape (n[L], n), None without
            a column-layout head.
        """
        X_ones, Y_cols = self._X_ones, self._Y_columns
        if X_ones[0] is not X or (self.columns is not None and Y_cols[0] is not Y):
            return None
        return X_ones[1], Y_cols[1] if self.columns is not None else None


def workspace_for(
    cache: dict[int, W],
    net: Network,
    n_samples: int,
    blocks: bool = False,
    make: Callable[[int], W] | None = None,
) -> W:
    """The workspace for batches of ``n_samples`` rows from ``cache``, made on first use
    (by ``make(n_samples)``; default a :class:`Workspace` with ``blocks``, see there).

    One process meets two batch sizes (full batches and the last, smaller one), but an
    MPI rank holds a different number of rows of almost every batch: the cache keeps
    one set of buffers, for the most rows met so far, and the smaller sizes are views of
    their first rows (:meth:`Workspace.first_rows`), so it never holds more than one
    workspace's memory.
    """
    ws = cache.get(n_samples)
    if ws is not None and ws.net is net and ws.blocks is blocks:
        return ws
    largest = max(cache.values(), key=lambda w: w.n_samples, default=None)
    if (
        largest is not None
        and largest.net is net
        and largest.blocks is blocks
        and largest.n_samples > n_samples
    ):
        ws = cache[n_samples] = cast("W", largest.first_rows(n_samples))
        return ws
    cache.clear()  # the views of the smaller buffers go with them
    made = Workspace(net, n_samples, blocks) if make is None else make(n_samples)
    ws = cache[n_samples] = cast("W", made)
    return ws
