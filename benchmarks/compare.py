"""Two mlplab trees, before and after a change, in one interleaved benchmark run.

Usage (from the repository root; ``make bench-compare`` runs it against a temporary
worktree of ``BEFORE``, default 1413e4d, and writes benchmarks/RESULTS-redesign.md)::

    python benchmarks/compare.py --before DIR --after DIR [--workloads tabular,moons,...]
        [--impls mlplab,mlplab-lecture] [--rounds N] [--quick] [--distributed]
        [--out FILE.md] [--json FILE.json]

DIR is a checkout of mlplab: its ``src/`` is put first on ``sys.path`` of the processes
that run it (two versions of mlplab cannot be imported in one process). The benchmark code
is the copy next to this file, for both trees: workloads.py and distributed.py import
mlplab through the paths that exist in both (``mlplab.network``, ``mlplab.optimizers``,
``mlplab.distributed``).

Single process (the workloads of bench.py). In each round, for each workload, one worker
process per (implementation, tree) runs: it builds the workloads with
``workloads.make_workloads`` (the same seed, so the same data and initial weights in both
trees), warms up as bench.py does (one epoch of at most 8 batches), waits ``--pause`` idle
seconds, times one run of the implementation (the shuffling seed is the round number, the
same for both trees) and prints seconds per epoch, the final loss and ``mlplab.__file__``.
Process start, imports and data generation are outside the timing. The order of the workers
rotates from round to round (bench.py's reason: the first run after the wait for quiet is
slow more often), and every round first waits for the machine to be quiet
(``bench.wait_for_quiet``). An implementation that fails in a tree (a function it calls
was changed or removed) is skipped for that tree, and the report says why.

Distributed (``--distributed``): ``benchmarks/distributed.py`` (its own mpiexec launch:
one BLAS thread per rank, ``--oversubscribe``, Open MPI's run-as-root variables) run once
per (net, ranks, tree) and round with ``PYTHONPATH=TREE/src``, interleaved the same way;
the time per epoch is its best-of-``--dist-repeats`` step time × steps per epoch.

The report: per workload the median ms/epoch before and after, their min–max, the ratio
before/after of the medians (≥ 1: the after tree is not slower) against the target 0.97,
the final losses of both (the same trajectory: equal, or equal to rounding), the CPU,
BLAS, load, both trees' commits and the command that produced it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = 0.97  # the issue: every workload at ≥ 0.97× of before (before/after of the medians)
SIDES = ("before", "after")
MARK = "COMPARE-RESULT "  # prefixes the worker's one JSON line on stdout
WORKLOADS = "tabular,moons,mnist-shape,wide"


# ----------------------------------------------------------------------------- worker
def worker(tree: str, workload: str, impl: str, quick: bool, seed: int, pause: float) -> int:
    """Runs in a fresh process with ``tree``/src first on sys.path; prints one JSON line."""
    src = (Path(tree) / "src").resolve()
    sys.path.insert(0, str(src))
    if str(HERE) not in sys.path:
        sys.path.insert(1, str(HERE))
    import workloads

    import mlplab

    where = Path(mlplab.__file__).resolve()
    if src not in where.parents:
        sys.exit(f"mlplab was imported from {where}, not from {src}")
    rec: dict = {
        "tree": str(Path(tree).resolve()),
        "mlplab": str(where),
        "version": getattr(mlplab, "__version__", "?"),
        "workload": workload,
        "impl": impl,
        "seed": seed,
    }
    wl = next(w for w in workloads.make_workloads(quick=quick) if w.name == workload)
    rec["meta"] = {
        "description": wl.description,
        "layer_sizes": wl.layer_sizes,
        "batch_size": wl.batch_size,
        "epochs": wl.epochs,
        "steps_per_epoch": wl.steps_per_epoch,
        "n_params": wl.n_params,
    }
    if impl not in workloads.IMPLEMENTATIONS:  # numpy-reference, mlplab-compiled, ...
        import peers

        peers.register()
    fn = workloads.IMPLEMENTATIONS[impl]
    phase = "warm-up"
    try:
        # bench.warm_up's short run: imports, BLAS threads, allocator (bench.py itself is
        # not imported here: it needs the new tree's modules).
        k = min(wl.n_samples, 8 * wl.batch_size)
        small = workloads.Workload(
            wl.name, wl.X[:k], wl.y[:k], wl.layer_sizes, wl.output, wl.batch_size, 1, wl.lr,
            init=wl.init,
        )  # fmt: skip
        fn(small)
        time.sleep(pause)
        phase = "timed run"
        dt, loss = fn(wl, seed=seed)
    except Exception as exc:  # the implementation does not run in this tree: say why
        traceback.print_exc()
        rec["skipped"] = f"{phase}: {type(exc).__name__}: {exc}"
    else:
        rec["epoch_s"] = dt / wl.epochs
        rec["loss"] = float(loss)
    print(MARK + json.dumps(rec), flush=True)
    return 0


def _parse(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    return None


def _tail(text: str, n: int = 6) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-n:])


def launch_worker(tree: Path, workload: str, impl: str, quick: bool, seed: int, pause: float):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(tree)]
    cmd += ["--workload", workload, "--impl", impl, "--seed", str(seed), "--pause", str(pause)]
    if quick:
        cmd.append("--quick")
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    rec = _parse(p.stdout)
    if p.returncode != 0 or rec is None:
        return {"skipped": f"worker failed (exit {p.returncode}): {_tail(p.stderr)}"}
    return rec


def rotated(units: list, r: int) -> list:
    """Round r's order: the list rotated by r (A B C D, B C D A, ...), as in bench.py."""
    k = r % len(units)
    return units[k:] + units[:k]


# ---------------------------------------------------------------------- single process
def run_single(trees, wanted, impls, rounds, quick, max_wait, pause, bench):
    """results[workload][impl][side] = {"epoch_s": [...], "loss": [...], "round": [...]}."""
    units = [(impl, side) for impl in impls for side in SIDES]
    results: dict = {w: {i: {s: _empty() for s in SIDES} for i in impls} for w in wanted}
    busy: dict = {w: [] for w in wanted}
    meta: dict = {}
    files: dict = {s: set() for s in SIDES}
    for r in range(rounds):
        for w in wanted:
            if max_wait > 0:
                busy[w].append(bench.wait_for_quiet(max_wait))
            for impl, side in rotated(units, r):
                cell = results[w][impl][side]
                if cell["skipped"]:
                    continue  # failed once in this tree: not tried again
                rec = launch_worker(trees[side], w, impl, quick, r, pause)
                if "skipped" in rec:
                    cell["skipped"] = rec["skipped"]
                    print(f"  {w} {impl} {side}: SKIPPED {rec['skipped']}", file=sys.stderr)
                    continue
                meta.setdefault(w, rec["meta"])
                files[side].add(rec["mlplab"])
                cell["epoch_s"].append(rec["epoch_s"])
                cell["loss"].append(rec["loss"])
                cell["round"].append(r)
            print(
                f"  round {r + 1}/{rounds} {w} (load {os.getloadavg()[0]:.1f}): "
                + ", ".join(
                    f"{i} {s} {results[w][i][s]['epoch_s'][-1] * 1e3:.1f} ms"
                    for i, s in units
                    if results[w][i][s]["round"][-1:] == [r]
                ),
                file=sys.stderr,
            )
    return results, busy, meta, files


def _empty() -> dict:
    return {"epoch_s": [], "loss": [], "round": [], "skipped": None}


# ------------------------------------------------------------------------- distributed
def run_distributed(trees, nets, ranks, rounds, repeats, max_wait, pause, bench):
    """dist[net][k][side] = {"epoch_s": [...], "step_ms": [...], "allreduce_ms": [...]}."""
    import distributed

    units = [(k, side) for k in ranks for side in SIDES]
    dist: dict = {
        n: {k: {s: {"epoch_s": [], "step_ms": [], "allreduce_ms": [], "round": [],
                    "skipped": None} for s in SIDES} for k in ranks}
        for n in nets
    }  # fmt: skip
    busy: dict = {n: [] for n in nets}
    files: dict = {s: set() for s in SIDES}
    script = HERE / "distributed.py"
    for r in range(rounds):
        for n in nets:
            if max_wait > 0:
                busy[n].append(bench.wait_for_quiet(max_wait))
            for k, side in rotated(units, r):
                cell = dist[n][k][side]
                if cell["skipped"]:
                    continue
                time.sleep(pause)
                src = str((trees[side] / "src").resolve())
                env = dict(os.environ)
                env["PYTHONPATH"] = os.pathsep.join(
                    [src] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
                )
                cmd = [sys.executable, str(script), "--ranks", str(k), "--nets", n]
                cmd += ["--repeats", str(repeats), "--json"]
                p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
                recs = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
                if p.returncode != 0 or not recs:
                    cell["skipped"] = f"exit {p.returncode}: {_tail(p.stderr + p.stdout)}"
                    print(f"  {n} K={k} {side}: FAILED {cell['skipped']}", file=sys.stderr)
                    continue
                rec = recs[-1]
                where = Path(rec.get("mlplab", "?")).resolve()
                if Path(src) not in where.parents:
                    cell["skipped"] = f"mlplab was imported from {where}, not from {src}"
                    print(f"  {n} K={k} {side}: FAILED {cell['skipped']}", file=sys.stderr)
                    continue
                files[side].add(str(where))
                steps = distributed.NETS[n]["steps"]
                cell["epoch_s"].append(rec["step_ms"] * steps / 1e3)
                cell["step_ms"].append(rec["step_ms"])
                cell["allreduce_ms"].append(rec["allreduce_ms"])
                cell["round"].append(r)
                cell.setdefault("meta", {x: rec[x] for x in ("layers", "params", "batch")})
                cell["meta"]["steps"] = steps
                cell["meta"]["buffer_bytes"] = rec.get("buffer_bytes")
            print(
                f"  round {r + 1}/{rounds} {n} (load {os.getloadavg()[0]:.1f}): "
                + ", ".join(
                    f"K={k} {s} {dist[n][k][s]['epoch_s'][-1] * 1e3:.1f} ms"
                    for k, s in units
                    if dist[n][k][s]["round"][-1:] == [r]
                ),
                file=sys.stderr,
            )
    return dist, busy, files


# ------------------------------------------------------------------------------ report
def _ms(s: float) -> str:
    ms = s * 1e3
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def _paired(b: dict, a: dict, key: str = "epoch_s") -> list[tuple[float, float]]:
    """(before, after) of the rounds that both trees ran."""
    after = dict(zip(a["round"], a[key], strict=True))
    return [(x, after[r]) for r, x in zip(b["round"], b[key], strict=True) if r in after]


def _compare_cells(b: dict, a: dict) -> tuple[str, str, str, str, float | None]:
    """before, after, ratio and verdict cells; the ratio (None when a side did not run)."""
    cells = []
    for c in (b, a):
        t = c["epoch_s"]
        if c["skipped"] and not t:
            cells.append(f"skipped: {c['skipped']}")
        elif not t:
            cells.append("not run")
        else:
            cells.append(f"{_ms(statistics.median(t))} ({_ms(min(t))}–{_ms(max(t))})")
    if not (b["epoch_s"] and a["epoch_s"]):
        return cells[0], cells[1], "—", "not measured", None
    ratio = statistics.median(b["epoch_s"]) / statistics.median(a["epoch_s"])
    pr = [x / y for x, y in _paired(b, a)]
    rng = f" ({min(pr):.2f}–{max(pr):.2f})" if pr else ""
    ok = ratio >= TARGET
    return cells[0], cells[1], f"{ratio:.3f}{rng}", "✓" if ok else "✗", ratio


def _git(tree: Path) -> str:
    def g(*args: str) -> str:
        p = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else ""

    head = g("rev-parse", "HEAD")
    if not head:
        return "not a git checkout"
    subject = g("log", "-1", "--format=%s")
    dirty = g("status", "--porcelain", "--untracked-files=no", "--", "src")
    state = "**uncommitted changes in src/**" if dirty else "src/ clean"
    return f"commit {head[:12]} ({subject}), {state}"


def report(args, cmd, env, trees, single, dist, wall_s) -> str:
    L: list[str] = []
    add = L.append
    add(
        "# Before/after benchmark"
        + (" (quick mode: smaller data, not the issue's workloads)" if args.quick else "")
    )
    add("")
    add(
        f"Produced by {cmd} in {wall_s / 60:.1f} min; every number below was measured in "
        "that one interleaved run."
    )
    add("")
    for side in SIDES:
        files = sorted((single[3][side] if single else set()) | (dist[2][side] if dist else set()))
        add(f"- {side}: `{trees[side]}`, {_git(trees[side])}")
        add(f"  - mlplab imported from: {', '.join(f'`{f}`' for f in files) or 'nothing ran'}")
    for k, v in env.items():
        add(f"- {k}: {v}")
    add(f"- load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    add(
        f"- rounds: {args.rounds}; idle pause before every timed run: {args.pause:g} s; wait "
        f"for quiet before every round: up to {args.max_wait:g} s"
    )
    add("")
    add(
        "Ratio = before's median ms/epoch / after's (≥ 1: after is not slower); in brackets "
        f"the min–max of the per-round ratios (both trees, same round). Target: ≥ {TARGET}. "
        "The machine may be shared: the ratios of this one interleaved run are what to "
        "compare, not the absolute times."
    )
    add("")
    if single:
        results, busy, meta, _ = single
        add("## Single process (bench.py's workloads, one worker process per run)")
        add("")
        add(
            "Each run: a fresh process with the tree's src/ first on sys.path, the workloads "
            "of benchmarks/workloads.py (same seed: same data, same initial weights), "
            "bench.py's warm-up, the idle pause, one timed run. Loss = final epoch's mean "
            "training loss (median over rounds); |Δ loss| = the largest difference "
            "between the trees in one round (same shuffling seed: the same trajectory, so "
            "0 or rounding)."
        )
        add("")
        add(
            "| workload | implementation | before ms/epoch (min–max) | after ms/epoch "
            "(min–max) | before/after | ≥ 0.97 | loss before | loss after | max abs Δ loss |"
        )
        add("|---|---|---|---|---|---|---|---|---|")
        verdict = {}
        for w, per_impl in results.items():
            for impl, cells in per_impl.items():
                b, a = cells["before"], cells["after"]
                cb, ca, cr, ok, ratio = _compare_cells(b, a)
                verdict[(w, impl)] = ratio is not None and ratio >= TARGET
                lb = f"{statistics.median(b['loss']):.6g}" if b["loss"] else "—"
                la = f"{statistics.median(a['loss']):.6g}" if a["loss"] else "—"
                pl = [abs(x - y) for x, y in _paired(b, a, "loss")]
                dl = f"{max(pl):.2g}" if pl else "—"
                add(f"| {w} | {impl} | {cb} | {ca} | {cr} | {ok} | {lb} | {la} | {dl} |")
        add("")
        for impl in args.impls:
            ws = [w for w in results if (w, impl) in verdict]
            met = all(verdict[(w, impl)] for w in ws)
            add(
                f"`{impl}`: every workload at ≥ {TARGET}× of before in this run: "
                f"**{'yes' if met else 'no'}**."
            )
        add("")
        for w, m in meta.items():
            add(
                f"- {w}: {m['description']} → {m['layer_sizes']}, batch {m['batch_size']}, "
                f"{m['epochs']} epochs ({m['steps_per_epoch']} steps/epoch, "
                f"{m['n_params']:,} parameters)"
                + (
                    "; other runnable processes at the start of each round: "
                    + ", ".join(f"{o:.1f}" for _, o in busy[w])
                    if busy.get(w)
                    else ""
                )
            )
        add("")
    if dist:
        d, busy, _ = dist
        add("## Distributed (benchmarks/distributed.py, MPI ranks)")
        add("")
        add(
            f"One `python benchmarks/distributed.py --ranks K --nets NET --repeats "
            f"{args.dist_repeats} --json` per (net, K, tree) and round, with "
            "PYTHONPATH=TREE/src: mpiexec --oversubscribe, one BLAS thread per rank; each "
            "launch warms up one epoch and keeps its best epoch. ms/epoch = its step time × "
            "steps per epoch (strong scaling: the global batch is fixed). Speed-up = K = 1's "
            "median ms/epoch / this K's, same tree."
        )
        add("")
        add(
            "| net | K | before ms/epoch (min–max) | after ms/epoch (min–max) | before/after "
            "| ≥ 0.97 | all-reduce ms/step before / after | speed-up before / after |"
        )
        add("|---|---|---|---|---|---|---|---|")
        for n, per_k in d.items():
            base = {s: per_k[min(per_k)][s]["epoch_s"] for s in SIDES}
            for k, cells in per_k.items():
                b, a = cells["before"], cells["after"]
                cb, ca, cr, ok, _ = _compare_cells(b, a)
                ar = " / ".join(
                    f"{statistics.median(cells[s]['allreduce_ms']):.3f}"
                    if cells[s]["allreduce_ms"]
                    else "—"
                    for s in SIDES
                )
                sp = " / ".join(
                    f"{statistics.median(base[s]) / statistics.median(cells[s]['epoch_s']):.2f}"
                    if cells[s]["epoch_s"] and base[s]
                    else "—"
                    for s in SIDES
                )
                add(f"| {n} | {k} | {cb} | {ca} | {cr} | {ok} | {ar} | {sp} |")
        add("")
        for n, per_k in d.items():
            m = next((c[s]["meta"] for c in per_k.values() for s in SIDES if "meta" in c[s]), None)
            if m:
                add(
                    f"- {n}: layers {m['layers']}, {m['params']:,} parameters, global batch "
                    f"{m['batch']}, {m['steps']} steps/epoch, all-reduce buffer "
                    f"{m['buffer_bytes']} bytes"
                    + (
                        "; other runnable processes at the start of each round: "
                        + ", ".join(f"{o:.1f}" for _, o in busy[n])
                        if busy.get(n)
                        else ""
                    )
                )
        add("")
    return "\n".join(L) + "\n"


# -------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, help="checkout of the old tree (its src/ is used)")
    ap.add_argument("--after", type=Path, help="checkout of the new tree")
    ap.add_argument("--workloads", default=WORKLOADS, help="comma-separated; 'none' to skip")
    ap.add_argument("--impls", default="mlplab,mlplab-lecture", help="of workloads.py")
    ap.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds (default 10, rounded up to a multiple of the runs per round "
        "so that each run takes each place in the order equally often; quick 2)",
    )
    ap.add_argument("--quick", action="store_true", help="bench.py's small data; few rounds")
    ap.add_argument("--max-wait", type=float, default=None, help="as bench.py (20; quick 0)")
    ap.add_argument("--pause", type=float, default=None, help="as bench.py (2; quick 0)")
    ap.add_argument("--distributed", action="store_true", help="also compare distributed.py")
    ap.add_argument("--nets", default="gemm,tiny", help="distributed.py's nets (quick: tiny)")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2], help="MPI ranks K")
    ap.add_argument("--dist-rounds", type=int, default=None, help="(default 5; quick 2)")
    ap.add_argument("--dist-repeats", type=int, default=None, help="timed epochs (3; quick 1)")
    ap.add_argument("--out", default=None, help="write the Markdown report here")
    ap.add_argument("--json", default=None, help="write the raw measurements here")
    # worker mode (one run in a fresh process)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--workload", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--impl", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.workload, args.impl, args.quick, args.seed,
                      args.pause or 0.0)  # fmt: skip
    if args.before is None or args.after is None:
        ap.error("--before and --after are required")
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    for side, t in trees.items():
        if not (t / "src" / "mlplab" / "__init__.py").exists():
            ap.error(f"--{side} {t}: no src/mlplab/__init__.py there")

    # This process imports bench.py (wait_for_quiet, environment) with the mlplab of the
    # checkout this file belongs to; the measured trees run only in the workers.
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(HERE))
    import bench

    wanted = [] if args.workloads == "none" else args.workloads.split(",")
    impls = args.impls.split(",")
    import peers
    import workloads as _w

    peers.register()  # the peers of bench.py too (numpy-reference, mlplab-compiled, ...)
    for x in impls:
        if x not in _w.IMPLEMENTATIONS:
            ap.error(f"--impls: unknown {x!r}; one of {', '.join(_w.IMPLEMENTATIONS)}")
    for x in wanted:
        if x not in WORKLOADS.split(","):
            ap.error(f"--workloads: unknown {x!r}; one of {WORKLOADS}")
    args.impls = impls
    per_round = 2 * len(impls)
    if args.rounds is None:
        args.rounds = 2 if args.quick else -(-10 // per_round) * per_round
    args.max_wait = args.max_wait if args.max_wait is not None else (0.0 if args.quick else 20.0)
    args.pause = args.pause if args.pause is not None else (0.0 if args.quick else 2.0)
    if args.quick and args.nets == "gemm,tiny":
        args.nets = "tiny"
    args.dist_rounds = args.dist_rounds or (2 if args.quick else 5)
    args.dist_repeats = args.dist_repeats or (1 if args.quick else 3)

    t_start = time.perf_counter()
    env = bench.environment()
    env.pop("mlplab", None)  # the parent's; each tree's is listed above it
    print("\n".join(f"{k}: {v}" for k, v in env.items()), file=sys.stderr)
    for side, t in trees.items():
        print(f"{side}: {t} ({_git(t)})", file=sys.stderr)
    single = ()
    if wanted:
        single = run_single(
            trees, wanted, impls, args.rounds, args.quick, args.max_wait, args.pause, bench
        )
    dist = ()
    if args.distributed:
        dist = run_distributed(
            trees,
            args.nets.split(","),
            args.ranks,
            args.dist_rounds,
            args.dist_repeats,
            args.max_wait,
            args.pause,
            bench,
        )

    cmd = "python benchmarks/compare.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    cmd = f"`{cmd}`"
    if os.environ.get("MLPLAB_BENCH_CMD"):  # set by make bench-compare
        cmd = f"`{os.environ['MLPLAB_BENCH_CMD']}` (that is, {cmd})"
    text = report(args, cmd, env, trees, single, dist, time.perf_counter() - t_start)
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    if args.json:
        raw = {"single": single[0] if single else {}, "distributed": dist[0] if dist else {}}
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str))
    # Exit 1 when mlplab's own training (or a distributed launch) did not run in a tree;
    # mlplab-lecture may be skipped where its functions changed (the report says so).
    cells = [
        c for per in (single[0] if single else {}).values() for c in per.get("mlplab", {}).values()
    ]
    cells += [
        c for per in (dist[0] if dist else {}).values() for cs in per.values() for c in cs.values()
    ]
    return 1 if any(c["skipped"] for c in cells) else 0


if __name__ == "__main__":
    raise SystemExit(main())
