"""One matrix product against the same product in the two row blocks of ``row_blocks``.

OpenBLAS multiplies an (m×k)·(k×n) product of at most 100³ multiply-adds with its
small-matrix kernels (no packing of the operands). ``mlplab.fast.workspace.row_blocks``
splits a product a little over that size into two row blocks that are each under it;
the estimators' training step uses them on one BLAS thread. This script times, on one
BLAS thread (threadpoolctl), each shape as one ``ndarray.dot`` call and as the blocks,
interleaved round by round; it reports the best of ``--rounds`` rounds of ``--calls``
calls (the least disturbed by the other processes of a shared machine) and the ratio
one call / blocks (×1.4: the blocks take 1/1.4 of the time). Shapes that ``row_blocks``
leaves whole are timed against the split they would have had, to show why.

    python benchmarks/gemm_blocks.py [--rounds 20] [--calls 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # environment(), shared with make bench

from mlplab.fast.workspace import SMALL_GEMM, row_blocks

# (m, k, n): digits' products at batch 200 (forward, dW[1]ᵀ, and its last batch of 197),
# a wider hidden layer, and shapes row_blocks leaves whole (too small, or too large).
SHAPES = [
    (200, 64, 100),
    (64, 200, 100),
    (197, 64, 100),
    (200, 100, 100),
    (200, 100, 10),
    (256, 128, 128),
    (200, 784, 100),
]


def _split(m: int, k: int, n: int) -> tuple[slice, ...]:
    """row_blocks' two halves, also for shapes it leaves whole (for comparison)."""
    half = -(-m // 2)
    return row_blocks(m, k, n) or (slice(0, half), slice(half, m))


def run(dtype: str, rounds: int, calls: int) -> list[str]:
    rng = np.random.default_rng(0)
    cases = []
    for m, k, n in SHAPES:
        A, B = rng.random((m, k)).astype(dtype), rng.random((k, n)).astype(dtype)
        C = np.empty((m, n), dtype)
        blocks = _split(m, k, n)

        def whole(A=A, B=B, C=C) -> None:
            A.dot(B, out=C)

        def split(A=A, B=B, C=C, blocks=blocks) -> None:
            for r in blocks:
                A[r].dot(B, out=C[r])

        cases.append(((m, k, n), whole, split))
    best = {(shape, i): float("inf") for shape, *_ in cases for i in (0, 1)}
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(rounds):
            for shape, *fns in cases:
                for i, fn in enumerate(fns):
                    fn()
                    t0 = time.perf_counter()
                    for _ in range(calls):
                        fn()
                    best[shape, i] = min(best[shape, i], (time.perf_counter() - t0) / calls)
    rows = [
        f"| {dtype} | {m}×{k}×{n} | {m * k * n / 1e6:.2f} M | "
        f"{'yes' if row_blocks(m, k, n) else 'no'} | {best[(m, k, n), 0] * 1e6:.1f} | "
        f"{best[(m, k, n), 1] * 1e6:.1f} | ×{best[(m, k, n), 0] / best[(m, k, n), 1]:.2f} |"
        for (m, k, n), *_ in cases
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    env = bench.environment()
    lines = [
        f"One BLAS thread; best of {args.rounds} interleaved rounds of {args.calls} calls; "
        f"SMALL_GEMM = {SMALL_GEMM:,} multiply-adds.",
        "",
        "| dtype | m×k×n | multiply-adds | row_blocks splits it | one call (µs) | "
        "two blocks (µs) | one call / blocks |",
        "|---|---|---|---|---|---|---|",
    ]
    for dtype in ("float64", "float32"):
        lines += run(dtype, args.rounds, args.calls)
    lines += ["", "Environment:", ""]
    lines += [f"- {k}: {v}" for k, v in env.items() if k not in ("torch", "jax")]
    command = "python benchmarks/gemm_blocks.py " + " ".join(argv or sys.argv[1:])
    lines += ["", f"Command: `{command.strip()}`", ""]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
