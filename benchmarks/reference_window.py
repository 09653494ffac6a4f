"""bench.py's rounds and reference_ab.py's pairs in the same minutes: do they disagree?

Issue 19's "mlplab ≥ 0.9× the NumPy reference" on moons read 0.80–0.88 in ``bench.py``
(five interleaved rounds of every peer, a 1 s pause before each run, the ratio of the two
medians) and 0.95–1.0 in the same-process pairs of ``reference_ab.py`` (0.2 s pauses) at
15:26–15:29. The two scripts ran at different times on a shared 2-core machine whose
speed swings by ±30 % from minute to minute. This script takes both kinds of measurement
in one process, alternating, so that they see the same minutes:

* ``window`` (default): each block is one ``bench.py`` round (every peer that applies, the
  order rotating from block to block, ``--pause`` seconds idle before each run, the seed
  the block's index) followed by one ``reference_ab.py`` pair (the reference and mlplab
  back to back, the order alternating, 0.2 s pauses, the same seed). Reported per kind:
  the ratio reference ÷ mlplab of the medians and the median of the per-block ratios.
* ``after``: what runs just before. In ``bench.py`` mlplab always follows ``jax-step`` and
  ``jax-scan`` (the JAX child process loads both cores for seconds), the reference always
  follows ``pytorch``, ``mlplab-lecture`` and ``matmuls only``. Each block runs mlplab and
  the reference once after each of the two sequences (four cells, the order rotating);
  reported: the ratio in each placement.

Nothing of either loop changes: ``workloads.run_mlplab`` (``mlplab.fit``, every check) and
``peers.run_numpy_reference`` as ``bench.py`` runs them.

Usage: ``PYTHONPATH=src python benchmarks/reference_window.py [--mode window|after]
[--workload moons] [--blocks 8] [--pause 1] [--epochs N] [--peers a,b,...] [--quick]
[--out FILE]`` (``--peers``: the peers of a ``window`` round, default every one that runs
here; ``--quick``: the workloads' small versions, for tests).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
import reference_ab
import workloads

REF, MLP = "numpy-reference", "mlplab"
BEFORE = {  # what runs just before each loop in bench.py's rotation (peers.register's order)
    "jax": ["jax-step", "jax-scan"],
    "torch": ["pytorch", "mlplab-lecture", "matmuls only"],
}


def _all_peers(wl: workloads.Workload) -> list[str]:
    """bench.py's implementations, in its order, that apply to ``wl``."""
    names = ["mlplab", "scikit-learn"]
    if workloads.torch_available():
        names.append("pytorch")
    names += ["mlplab-lecture", "matmuls only", *peers.register()]
    return [n for n in names if peers.applies(n, wl)]


def _run(name: str, wl: workloads.Workload, seed: int, pause: float) -> float:
    """Milliseconds per epoch of one fit by ``name``, after ``pause`` idle seconds."""
    time.sleep(pause)
    dt, _ = workloads.IMPLEMENTATIONS[name](wl, seed=seed)
    return dt / wl.epochs * 1e3


def window(wl: workloads.Workload, blocks: int, pause: float, names: list[str]) -> dict:
    """``blocks`` × (a bench.py round of ``names``, then a reference_ab.py pair)."""
    out: dict[str, list[float]] = {f"{k} {x}": [] for k in ("round", "pair") for x in (REF, MLP)}
    for r in range(blocks):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            ms = _run(name, wl, r, pause)
            if name in (REF, MLP):
                out[f"round {name}"].append(ms)
        for name in (REF, MLP) if r % 2 == 0 else (MLP, REF):
            out[f"pair {name}"].append(_run(name, wl, r, 0.2))
        print(f"  block {r + 1}/{blocks} (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
    return out


def after(wl: workloads.Workload, blocks: int, pause: float) -> dict:
    """``blocks`` × the four cells (mlplab or the reference, after each sequence)."""
    cells = [(before, x) for before in BEFORE for x in (REF, MLP)]
    out: dict[str, list[float]] = {f"{b} {x}": [] for b, x in cells}
    for r in range(blocks):
        k = r % len(cells)
        for before, x in cells[k:] + cells[:k]:
            for name in BEFORE[before]:
                _run(name, wl, r, pause)
            out[f"{before} {x}"].append(_run(x, wl, r, pause))
        print(f"  block {r + 1}/{blocks} (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
    return out


def ratios(out: dict[str, list[float]], ref_key: str, mlp_key: str) -> tuple[float, float]:
    """(ratio of the medians, median of the per-block ratios), reference ÷ mlplab."""
    ref, mlp = out[ref_key], out[mlp_key]
    per = [a / b for a, b in zip(ref, mlp, strict=True)]
    return statistics.median(ref) / statistics.median(mlp), statistics.median(per)


def report(mode: str, out: dict[str, list[float]], argv: list[str], env: dict[str, str]) -> str:
    lines = [
        f"# bench.py's rounds and reference_ab.py's pairs in the same minutes ({mode})",
        "",
        f"Command: `PYTHONPATH=src python benchmarks/reference_window.py {' '.join(argv)}`",
        "",
        *[f"* {k}: {v}" for k, v in env.items() if not k.startswith(("torch", "jax"))],
        f"* load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "",
        "ms per epoch, median (min–max); ratio = reference ÷ mlplab (> 1: mlplab faster).",
        "",
        "| kind | reference | mlplab | ratio of medians | median of per-block ratios |",
        "|---|---|---|---:|---:|",
    ]
    kinds = ("round", "pair") if mode == "window" else tuple(BEFORE)
    for kind in kinds:
        ref, mlp = out[f"{kind} {REF}"], out[f"{kind} {MLP}"]
        med, per = ratios(out, f"{kind} {REF}", f"{kind} {MLP}")
        label = {"round": "bench.py round", "pair": "reference_ab.py pair"}.get(kind, "")
        label = label or f"both after {', '.join(BEFORE[kind])}"
        lines.append(
            f"| {label} | {statistics.median(ref):.2f} ({min(ref):.1f}–{max(ref):.1f}) | "
            f"{statistics.median(mlp):.2f} ({min(mlp):.1f}–{max(mlp):.1f}) | **{med:.3f}** "
            f"| {per:.3f} |"
        )
    if mode == "after":
        placed = statistics.median(out[f"torch {REF}"]) / statistics.median(out[f"jax {MLP}"])
        lines += ["", f"bench.py's placement (mlplab after JAX, the reference after PyTorch): "
                  f"{placed:.3f}."]  # fmt: skip
    lines.append("")
    for key, xs in out.items():
        lines.append(f"{key}: {', '.join(f'{x:.1f}' for x in xs)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("window", "after"), default="window")
    ap.add_argument("--workload", default="moons", choices=("tabular", "moons"))
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--pause", type=float, default=1.0, help="idle seconds before each run")
    ap.add_argument("--epochs", type=int, default=None, help="epochs of each fit")
    ap.add_argument("--peers", default=None, help="a window round's peers (default: all)")
    ap.add_argument("--quick", action="store_true", help="the workloads' small versions")
    ap.add_argument("--out", default=None, help="write the report here (default: print)")
    args = ap.parse_args(argv)
    import bench  # the machine's description, and the warm-up

    wl = next(w for w in workloads.make_workloads(args.quick) if w.name == args.workload)
    if args.epochs is not None:
        wl.epochs = args.epochs
    here = _all_peers(wl)  # registers the peers
    names = here if args.peers is None else args.peers.split(",")
    if args.mode == "after":
        names = [n for n in here if n in {REF, MLP, *BEFORE["jax"], *BEFORE["torch"]}]
    missing = ({REF, MLP} | (set(BEFORE["jax"]) if args.mode == "after" else set())) - set(names)
    if missing or not set(names) <= set(here):
        raise SystemExit(f"needs {sorted(missing)}; peers that run here: {', '.join(here)}")
    env = bench.environment()
    bench.warm_up(wl, names)
    if args.mode == "window":
        out = window(wl, args.blocks, args.pause, names)
    else:
        out = after(wl, args.blocks, args.pause)
    text = report(args.mode, out, argv, env)
    return reference_ab.emit(text, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
