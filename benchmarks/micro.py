"""Micro-benchmarks: each optimization of mlplab's training fast path against the plain code.

Every comparison runs its variants interleaved (A B A B ...) for several rounds and
reports the median time per call; the ratio plain/fast is taken between the medians of
the same run. The shapes are those of the workloads (tabular: batch 32, [30, 16, 8, 1];
mnist-shape: batch 128, [784, 256, 128, 10]; wide: batch 256, [1024, 1024, 1024, 1]).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import mlplab
from mlplab.core import activations as _act
from mlplab.core import network as _net
from mlplab.core import optimizers as _opt
from mlplab.fast import _blas
from mlplab.fast import kernels as _kernels
from mlplab.fast import step as _step
from mlplab.fast import workspace as _ws


@dataclass
class Comparison:
    """Median µs per call of each variant (first = the plain code, last = mlplab's)."""

    name: str
    shape: str
    medians: dict[str, float]

    @property
    def speedup(self) -> float:
        names = list(self.medians)
        return self.medians[names[0]] / self.medians[names[-1]]


def _time_per_call(fn: Callable[[], object], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number * 1e6


def compare(
    name: str, shape: str, variants: dict[str, Callable[[], object]], budget_s: float, rounds: int
) -> Comparison:
    """Time each variant, interleaved, ``rounds`` times; about ``budget_s`` seconds in all."""
    for fn in variants.values():  # warm-up, and a first estimate of the cost per call
        fn()
    est = min(_time_per_call(fn, 3) for fn in variants.values())
    number = max(1, int(budget_s / rounds / len(variants) / max(est, 0.05) * 1e6))
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        for k, fn in variants.items():
            samples[k].append(_time_per_call(fn, number))
    return Comparison(name, shape, {k: statistics.median(v) for k, v in samples.items()})


def run_all(quick: bool = False) -> list[Comparison]:
    """Every micro-comparison; about 10 s in quick mode, 40 s otherwise."""
    budget, rounds = (0.25, 5) if quick else (1.0, 9)
    f32 = np.float32
    rng = np.random.default_rng(0)
    out: list[Comparison] = []

    # 2-D products: np.matmul (the `@` of the lecture code) against ndarray.dot.
    for nb, n0, n1 in [(32, 30, 16), (256, 1024, 1024)]:
        A = rng.standard_normal((nb, n0), dtype=f32)
        W = rng.standard_normal((n1, n0), dtype=f32)
        Z = np.empty((nb, n1), f32)
        out.append(
            compare(
                "z = a Wᵀ: `A @ W.T` vs `A.dot(W.T, out=Z)`",
                f"({nb}×{n0})·({n0}×{n1})",
                {
                    "A @ W.T": lambda A=A, W=W: A @ W.T,
                    "np.matmul(out=)": lambda A=A, W=W, Z=Z: np.matmul(A, W.T, out=Z),
                    "A.dot(W.T, out=Z)": lambda A=A, W=W, Z=Z: A.dot(W.T, out=Z),
                },
                budget,
                rounds,
            )
        )
        dZ = rng.standard_normal((nb, n1), dtype=f32)
        gW = np.empty((n1, n0), f32)
        out.append(
            compare(
                "dW = dZᵀ a: `dZ.T @ A` vs `dZ.T.dot(A, out=dW)`",
                f"({n1}×{nb})·({nb}×{n0})",
                {
                    "dZ.T @ A": lambda dZ=dZ, A=A: dZ.T @ A,
                    "dZ.T.dot(A, out=dW)": lambda dZ=dZ, A=A, gW=gW: dZ.T.dot(A, out=gW),
                },
                budget,
                rounds,
            )
        )
        ones = np.ones(nb, f32)
        gb = np.empty(n1, f32)
        out.append(
            compare(
                "db = Σᵢ dZ: `dZ.sum(axis=0)` vs `ones.dot(dZ, out=db)`",
                f"{nb}×{n1}",
                {
                    "dZ.sum(axis=0)": lambda dZ=dZ: dZ.sum(axis=0),
                    "ones.dot(dZ, out=db)": lambda dZ=dZ, o=ones, gb=gb: o.dot(dZ, out=gb),
                },
                budget,
                rounds,
            )
        )

    # Where W[l] lives: row by row (W[l] C-contiguous) or as W[l]ᵀ row by row (the
    # network's θ, scikit-learn's coefs_). All products of one training step, with dW[l]
    # stored like W[l]: forward a[l-1] W[l]ᵀ, dW[l] = dZ[l]ᵀ a[l-1], dA[l-1] = dZ[l] W[l].
    for sizes, nb in [([784, 256, 128, 10], 128), ([1024, 1024, 1024, 1], 256)]:
        L = len(sizes) - 1

        def products(transposed: bool, sizes=sizes, nb=nb, L=L) -> Callable[[], None]:
            Ws = [rng.standard_normal((sizes[l + 1], sizes[l]), dtype=f32) * 0.05 for l in range(L)]
            if transposed:
                Ws = [np.ascontiguousarray(W.T).T for W in Ws]
            gW = [np.empty_like(W.T).T if transposed else np.empty_like(W) for W in Ws]
            X = rng.standard_normal((nb, sizes[0]), dtype=f32)
            Z = [np.empty((nb, sizes[l + 1]), f32) for l in range(L)]
            dZ = [rng.standard_normal((nb, sizes[l + 1]), dtype=f32) for l in range(L)]

            def step() -> None:
                A = X
                for l in range(L):
                    A.dot(Ws[l].T, out=Z[l])
                    A = Z[l]
                for l in range(L - 1, -1, -1):
                    A = X if l == 0 else Z[l - 1]
                    if transposed:
                        A.T.dot(dZ[l], out=gW[l].T)
                    else:
                        dZ[l].T.dot(A, out=gW[l])
                    if l > 0 and sizes[l + 1] > 1:
                        dZ[l].dot(Ws[l], out=dZ[l - 1])

            return step

        out.append(
            compare(
                "products of one step: W[l] stored by rows vs as W[l]ᵀ (θ's layout)",
                f"{sizes}, batch {nb}",
                {"W[l] by rows": products(False), "W[l]ᵀ by rows": products(True)},
                3 * budget,
                rounds,
            )
        )

    # ReLU forward and backward together: the pure functions; np.maximum then the
    # derivative written into the dead z buffer (a > 0); and the kernels of
    # fast.kernels.inplace_kernels: the mask 1[z > 0] kept from forward, a = z ⊙ mask.
    for nb, n1 in [(32, 16), (128, 256), (256, 1024)]:
        Z0 = rng.standard_normal((nb, n1), dtype=f32)
        dA0 = rng.standard_normal((nb, n1), dtype=f32)
        Z, A, dA = Z0.copy(), np.empty_like(Z0), dA0.copy()
        relu = _kernels.inplace_kernels(_act.relu)

        def maximum_greater(Z=Z, A=A, dA=dA):
            np.maximum(Z, 0, out=A)
            np.greater(A, 0, out=Z)
            dA *= Z

        def kernels(Z=Z, A=A, dA=dA, k=relu):
            k.forward_into(Z, A)
            k.backward_into(dA, Z, A)

        def restore(Z=Z, dA=dA, Z0=Z0, dA0=dA0):  # the kernels overwrite Z and dA
            Z[...] = Z0
            dA[...] = dA0

        out.append(
            compare(
                "a = ReLU(z), then dZ = dA ⊙ ReLU'(z): pure vs in place (incl. a copy-in)",
                f"{nb}×{n1}",
                {
                    "relu(Z); dA * relu.derivative(Z, A)": lambda Z0=Z0, dA0=dA0: (
                        restore(),
                        dA0 * _act.relu.derivative(Z0, _act.relu.forward(Z0)),
                    ),
                    "maximum(Z, 0, out=A); greater(A, 0, out=Z); dA *= Z": lambda: (
                        restore(),
                        maximum_greater(),
                    ),
                    "greater(Z, 0, out=A); Z *= A; dA *= A (kernels)": lambda: (
                        restore(),
                        kernels(),
                    ),
                },
                budget,
                rounds,
            )
        )

    # Batch gather: fancy indexing (a new array per step) against take(out=) into a buffer.
    for n, nb, n0 in [(569, 32, 30), (60000, 128, 784)]:
        X = rng.standard_normal((n, n0), dtype=f32)
        idx = rng.permutation(n)[:nb]
        buf = np.empty((nb, n0), f32)
        out.append(
            compare(
                "batch gather: `X[idx]` vs `X.take(idx, axis=0, out=, mode='clip')`",
                f"{nb} of {n}×{n0}",
                {
                    "X[idx]": lambda X=X, idx=idx: X[idx],
                    "np.take(out=) (mode=raise)": lambda X=X, idx=idx, b=buf: np.take(
                        X, idx, axis=0, out=b
                    ),
                    "X.take(out=, mode=clip)": lambda X=X, idx=idx, b=buf: X.take(
                        idx, axis=0, out=b, mode="clip"
                    ),
                },
                budget,
                rounds,
            )
        )

    # The trainer's checked optimizer step over θ: the pure update, checked (u·g) and then
    # added; the same in place (propose into buffers, check, add: two passes over θ); and
    # CheckedStep.step_into, which writes θ + u into a second vector in one pass, whole or
    # in slices of 2**16 and 2**18 elements (fast.step.CHUNK); CheckedStep.step in place.
    # From fast.step.BLAS_MIN parameters on, step_into and step run momentum as BLAS
    # axpby/axpy calls (mlplab.fast._blas): shown against the ufunc kernels (blas_min raised).
    for n_params in [641, 235_146, 2_100_225]:
        opt = _opt.momentum(lr=0.1, beta=0.9)
        g = rng.standard_normal(n_params, dtype=f32) * f32(1e-3)
        theta = np.zeros(n_params, f32)
        out_theta = np.empty_like(theta)

        def pure(g=g, th=theta, o=out_theta, opt=opt):
            st = [opt.init(th)]

            def step():
                updates, st[0] = opt.update(g, st[0], th)
                if np.isfinite(float(updates @ g)):
                    np.add(th, updates, out=o)

            return step

        def propose(g=g, th=theta, o=out_theta, opt=opt):
            s, st = _step.CheckedStep(opt), [opt.init(th)]

            def step():
                st[0], u, ug = s.propose(g, st[0], th)
                if np.isfinite(ug):
                    np.add(th, u, out=o)

            return step

        def stepper(chunk=_step.CHUNK, blas=True, opt=opt):
            s = _step.CheckedStep(opt, chunk=chunk)
            if not blas:
                s.blas_min = 1 << 62
            return s

        def into(chunk, blas=True, g=g, th=theta, o=out_theta, opt=opt):
            s, st = stepper(chunk, blas), [opt.init(th)]

            def step():
                st[0], _ = s.step_into(g, st[0], th, o)

            return step

        def in_place(blas=True, g=g, th=theta, o=out_theta, opt=opt):
            s = stepper(blas=blas)
            st = [s.step_into(g, opt.init(th), th, o)[0]]  # then the state is s's own

            def step():
                st[0], _, _ = s.step(0.5, g, st[0], th, lambda: o)

            return step

        blas = n_params >= _step.BLAS_MIN and _blas.level1(f32) is not None
        variants = {"pure update, u·g, θ + u": pure(), "propose, u·g, θ + u": propose()}
        variants[f"step_into, slices of {n_params}"] = into(n_params, blas=False)
        if n_params > 1 << 16:
            variants["step_into, slices of 2**16"] = into(1 << 16, blas=False)
        variants["step_into, slices of 2**18 (CHUNK)"] = into(_step.CHUNK, blas=False)
        variants["step: in place, proven finite by g·g"] = in_place(blas=False)
        if blas:
            variants["step_into, BLAS axpby + axpy"] = into(_step.CHUNK)
            variants["step: in place, BLAS axpby + axpy"] = in_place()
        out.append(
            compare(
                "checked momentum step: pure update vs `CheckedStep`",
                f"{n_params} parameters",
                variants,
                budget,
                rounds,
            )
        )

    # The checks fit makes on X before training (finite? how large?), on mnist-shape's X.
    from mlplab._validation import finite_extremes

    X = rng.standard_normal((6000 if quick else 60000, 784), dtype=f32)
    out.append(
        compare(
            "checks of X before training: finite sum + max |X| vs one blocked min/max pass",
            f"{X.shape[0]}×{X.shape[1]}",
            {
                "sum, np.abs(X).max()": lambda X=X: (
                    np.add.reduce(X, axis=None),
                    np.abs(X).max(),
                ),
                "sum, X.max(), X.min()": lambda X=X: (
                    np.add.reduce(X, axis=None),
                    X.max(),
                    X.min(),
                ),
                "finite_extremes(X)": lambda X=X: finite_extremes(X),
            },
            budget,
            rounds,
        )
    )
    del X

    # Whole loss_and_grads of a step: lecture functions against the Workspace.
    for sizes, nb, output in [
        ([30, 16, 8, 1], 32, "binary"),
        ([784, 256, 128, 10], 128, "multiclass"),
    ]:
        net = mlplab.Network(sizes, output=output, seed=0)
        X = rng.standard_normal((nb, sizes[0]), dtype=f32)
        y = rng.integers(0, 2 if output == "binary" else sizes[-1], nb)
        Y = net._prepare_y(y, nb)
        ws = _ws.Workspace(net, nb)
        grads = net._views(np.empty_like(net._theta))
        out.append(
            compare(
                "forward + backprop: `network.loss_and_grads` vs `Workspace.loss_and_grads`",
                f"{sizes}, batch {nb}",
                {
                    "loss_and_grads": lambda n=net, X=X, Y=Y: _net.loss_and_grads(
                        n._params, X, Y, n.hidden, n.head
                    ),
                    "Workspace": lambda n=net, X=X, Y=Y, ws=ws, g=grads: ws.loss_and_grads(
                        n._params, X, Y, g
                    ),
                },
                budget,
                rounds,
            )
        )
    return out
