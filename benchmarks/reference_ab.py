"""mlplab's default NumPy path against the NumPy reference loop, alternating in one process.

Issue 19's target "≥ 0.9× the NumPy reference" compares two loops whose steps take
≈ 50–150 µs on this shared 2-core machine. In ``bench.py`` each of five peers trains a
whole fit in turn, and in ``compare.py`` every run is a fresh process; rounds there fall
into fast and slow phases of the machine (moons: ≈ 13–15 against ≈ 19–22 ms per epoch for
the same tree) that last longer than one run, so a ratio of two medians may pair a fast
run of one loop with a slow run of the other. Here the two loops run in **one process**,
one short fit each, back to back, the order alternating from pair to pair (A B, B A, ...),
after the same warm-up and from the same initial weights and batch order (so both meet the
same subnormal momentum entries: benchmarks/RESULTS.md). Each pair gives one ratio
reference ÷ mlplab; the report gives their median and spread beside the ratio of the
medians. Nothing of either loop changes: ``peers.run_numpy_reference`` and
``workloads.run_mlplab`` (``mlplab.fit``, every check included) as ``bench.py`` runs them.

Workloads: ``moons`` and ``tabular`` of ``workloads.py``, and ``digits``, the 8×8 digits
standardized, [64, 32, 16, 10] with batch 32 (the fit of ``time_to_model.py``).

Usage: ``PYTHONPATH=src python benchmarks/reference_ab.py [--workloads moons,digits]
[--pairs 15] [--epochs N] [--pause 0.2] [--out FILE]`` (``--epochs``: the epochs of each
short fit; default each workload's own).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
import workloads

import mlplab


def digits_workload(epochs: int = 100) -> workloads.Workload:
    """The 8×8 digits, standardized, [64, 32, 16, 10] ReLU, batch 32 (time_to_model.py's)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    wl = workloads.Workload(
        "digits", workloads._standardize(X), y.astype(np.int64), [64, 32, 16, 10],
        "multiclass", 32, epochs, 0.01, "load_digits() 1797×64 standardized",
    )  # fmt: skip
    net = mlplab.Network(wl.layer_sizes, hidden="relu", output=wl.output, seed=0)
    wl.init = [(W.copy(), b.copy()) for W, b in net.params]
    return wl


def make(names: list[str], epochs: int | None) -> list[workloads.Workload]:
    """The workloads called ``names``, with ``epochs`` epochs if given."""
    wls = {"digits": digits_workload()}
    if {"moons", "tabular"} & set(names):  # bench.py's, with their initial weights
        wls.update((w.name, w) for w in workloads.make_workloads())
    out = []
    for name in names:
        wl = wls[name]
        if epochs is not None:
            wl.epochs = epochs
        out.append(wl)
    return out


def pairs(wl: workloads.Workload, n: int, pause: float) -> dict[str, list[float]]:
    """``n`` back-to-back pairs, the order alternating; seconds per step and final losses."""
    run = {"numpy-reference": peers.run_numpy_reference, "mlplab": workloads.run_mlplab}
    steps = wl.steps_per_epoch * wl.epochs
    out: dict[str, list[float]] = {k: [] for k in ("numpy-reference", "mlplab", "load")}
    losses: dict[str, list[float]] = {k: [] for k in run}
    for name in run:  # warm-up: imports, BLAS threads, the allocator
        run[name](wl, seed=0)
    names = list(run)
    for i in range(n):
        out["load"].append(os.getloadavg()[0])
        for name in names if i % 2 == 0 else names[::-1]:
            time.sleep(pause)
            dt, loss = run[name](wl, seed=i)
            out[name].append(dt / steps)
            losses[name].append(loss)
    out["loss_diff"] = [  # the same trajectory: the final losses differ by rounding only
        abs(a - b) / max(abs(a), 1e-12)
        for a, b in zip(losses["numpy-reference"], losses["mlplab"], strict=True)
    ]
    return out


def environment() -> dict[str, str]:
    """bench.py's description of the machine (CPU, BLAS, versions, load), taken now."""
    import bench

    return bench.environment()


def report(results: dict[str, dict[str, list[float]]], wls: list[workloads.Workload],
           argv: list[str], n: int, env: dict[str, str]) -> str:  # fmt: skip
    lines = [
        "# mlplab (default NumPy path) against the NumPy reference loop, one process",
        "",
        f"Command: `PYTHONPATH=src python benchmarks/reference_ab.py {' '.join(argv)}`",
        "",
        *[f"* {k}: {v}" for k, v in env.items() if not k.startswith(("torch", "jax"))],
        "",
        f"{n} pairs per workload, reference and mlplab back to back, the order alternating;"
        " µs per step (one step per mini-batch; every check of `mlplab.fit` included);"
        " ratio = reference ÷ mlplab of the same pair (> 1: mlplab faster); the ratio of the"
        " minimums compares the two loops' least disturbed fits.",
        "",
        "| workload | steps per fit | reference µs/step, median (min–max) | mlplab µs/step |"
        " median of the pair ratios (min–max) | ratio of medians | ratio of minimums |"
        " pairs ≥ 0.9 | final losses, largest relative difference |",
        "|---|---:|---|---|---|---:|---:|---:|---:|",
    ]
    for wl in wls:
        r = results[wl.name]
        ref, mlp = r["numpy-reference"], r["mlplab"]
        ratios = [a / b for a, b in zip(ref, mlp, strict=True)]

        def cell(xs: list[float]) -> str:
            return f"{statistics.median(xs) * 1e6:.1f} ({min(xs) * 1e6:.1f}–{max(xs) * 1e6:.1f})"

        lines.append(
            f"| {wl.name} {wl.layer_sizes} b{wl.batch_size} | {wl.steps_per_epoch * wl.epochs}"
            f" | {cell(ref)} | {cell(mlp)} | **{statistics.median(ratios):.3f}** "
            f"({min(ratios):.2f}–{max(ratios):.2f})"
            f" | {statistics.median(ref) / statistics.median(mlp):.3f}"
            f" | {min(ref) / min(mlp):.3f} | {sum(x >= 0.9 for x in ratios)}/{len(ratios)}"
            f" | {max(r['loss_diff']):.1e} |"
        )
    lines.append("")
    for wl in wls:
        r = results[wl.name]
        per = ", ".join(
            f"{a * 1e6:.0f}/{b * 1e6:.0f}"
            for a, b in zip(r["numpy-reference"], r["mlplab"], strict=True)
        )
        lines.append(
            f"{wl.name}, per pair reference/mlplab µs per step: {per}; load average "
            f"{min(r['load']):.1f}–{max(r['load']):.1f}."
        )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="moons,tabular,digits")
    ap.add_argument("--pairs", type=int, default=15)
    ap.add_argument("--epochs", type=int, default=None, help="epochs of each fit")
    ap.add_argument("--pause", type=float, default=0.2, help="idle seconds before each fit")
    ap.add_argument("--out", default=None, help="write the report here (default: print)")
    args = ap.parse_args(argv)
    wls = make(args.workloads.split(","), args.epochs)
    env = environment()  # at the start: the load average before the runs
    results = {}
    for wl in wls:
        results[wl.name] = pairs(wl, args.pairs, args.pause)
        print(f"  {wl.name} done (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
    text = report(results, wls, argv, args.pairs, env)
    return emit(text, args.out)


def emit(text: str, out: str | None) -> int:
    """Print the report, and write it to ``out`` when given (this script's and the other
    same-process A/B scripts' end); the exit status 0."""
    if out:
        Path(out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
