"""mlplab against scikit-learn and PyTorch on the CPU: the benchmark of issue 6.

Run ``make bench`` (the full suite, writes benchmarks/RESULTS.md) or, while developing,
``make bench-quick`` / ``python benchmarks/bench.py --quick`` (smaller data, fewer epochs
and rounds; prints the report). Options: ``--repeats N``, ``--workloads tabular,moons``,
``--no-micro``, ``--out FILE``.

Method. Every workload is trained by every implementation from the same initial weights,
with the same data, batch size, epochs and optimizer (SGD with momentum 0.9 in each
library's convention, see workloads.py). The runs are interleaved — mlplab, scikit-learn,
PyTorch, mlplab-lecture, then again — so that a burst of load from the other processes on
this shared machine hits all of them alike; we report the median time per epoch, its
min–max, and the ratio other/mlplab of the medians of the same run (×2 means mlplab
takes half the time). GFLOP/s counts the matrix products only; the peak is NumPy's
float32 matmul measured in the same process.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import micro
import peers
import workloads

import mlplab

ROOT = Path(__file__).resolve().parent.parent

# Issues 6 and 19: minimum speed-up (other's median time per epoch / mlplab's), same run.
# "best of" targets compare with the fastest of those peers in the run (issue 19: mlplab
# ≥ 0.97× the best of the NumPy reference, PyTorch and JAX on the GEMM-bound workloads).
BEST_OF = ("numpy-reference", "pytorch", "jax-step", "jax-scan")
TARGETS = {
    "tabular": {"scikit-learn": 3.0, "pytorch": 8.0, "numpy-reference": 0.9, "jax-scan": 1.0},
    "moons": {"scikit-learn": 2.0, "pytorch": 4.0, "numpy-reference": 0.9, "jax-scan": 1.0},
    "mnist-shape": {"scikit-learn": 1.4, "pytorch": 1.1, "best of": 0.97},
    "wide": {"scikit-learn": 1.2, "pytorch": 0.95, "best of": 0.97},
}
# The same targets for the optional compiled steps (``mlplab-compiled``: the extra
# [numba], ``MLPLAB_COMPILED=always``), judged in rows of their own: the default column
# takes them only for fits of 20000 steps and more (mlplab.fast.compiled.MIN_STEPS).
COMPILED_TARGETS = {
    "tabular": {"numpy-reference": 0.9, "jax-scan": 1.0},
    "moons": {"numpy-reference": 0.9, "jax-scan": 1.0},
}


# ------------------------------------------------------------------------ environment
def environment() -> dict[str, str]:
    """What the numbers depend on: CPU, load, library versions, BLAS kernel, threads."""
    import sklearn
    from threadpoolctl import threadpool_info

    cpu = "unknown"
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.*)", text)
        cpu = m.group(1).strip() if m else cpu
        if " avx512f" in text:
            cpu += " (AVX-512)"
    except OSError:
        pass
    blas = [
        f"{i.get('internal_api')} {i.get('version')}, kernel {i.get('architecture')}, "
        f"{i.get('num_threads')} threads ({Path(i.get('filepath', '')).name})"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    info = {
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "load average (1, 5, 15 min) at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "mlplab": mlplab.__version__,
        "NumPy BLAS (threadpoolctl)": "; ".join(blas) or "unknown",
        "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE": (
            f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')} / "
            f"{os.environ.get('OPENBLAS_L2_SIZE', 'unset')}"
        ),
    }
    if workloads.torch_available():
        import torch

        torch.set_num_threads(2)
        info["torch"] = f"{torch.__version__}, {torch.get_num_threads()} threads"
        cfg = torch.__config__.show()
        blas = re.search(r"BLAS_INFO=(\w+)", cfg)
        mkl = "MKL" if torch.backends.mkl.is_available() else "no MKL"
        info["torch BLAS"] = f"{blas.group(1) if blas else 'unknown'} ({mkl})"
    else:
        info["torch"] = "not installed (pip install -e '.[bench]'): PyTorch columns skipped"
    if peers.available("jax"):
        from importlib.metadata import version

        info["jax"] = f"{version('jax')}, CPU (XLA), in a child process of its own (peers.py)"
    else:
        info["jax"] = "not installed (pip install -e '.[bench]'): JAX columns skipped"
    return info


def matmul_peak(n: int = 2048, repeats: int = 7) -> float:
    """Best float32 GFLOP/s of NumPy's ``A @ B`` (n×n), the yardstick for 'fraction of peak'."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    C = np.empty((n, n), np.float32)
    np.matmul(A, B, out=C)
    best = min(_timed(lambda: np.matmul(A, B, out=C)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


FLOOR = "matmuls only"  # workloads.run_matmuls: the products of training and nothing else


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- training
def warm_up(wl: workloads.Workload, impls: list[str]) -> None:
    """One short run of each implementation (imports, BLAS threads, allocator)."""
    k = min(wl.n_samples, 8 * wl.batch_size)
    small = workloads.Workload(
        wl.name,
        wl.X[:k],
        wl.y[:k],
        wl.layer_sizes,
        wl.output,
        wl.batch_size,
        1,
        wl.lr,
        init=wl.init,
    )
    for name in impls:
        workloads.IMPLEMENTATIONS[name](small)


def others_running(samples: int = 20, interval: float = 0.05) -> float:
    """Mean number of *other* runnable tasks on the machine right now (/proc/loadavg).

    The load average lags by a minute and counts our own work; the 4th field of
    /proc/loadavg is the instantaneous count of runnable tasks, ourselves included.
    """
    counts = []
    for _ in range(samples):
        try:
            running = Path("/proc/loadavg").read_text().split()[3].split("/")[0]
        except (OSError, IndexError):
            return 0.0
        counts.append(int(running) - 1)
        time.sleep(interval)
    return statistics.mean(counts)


def wait_for_quiet(max_wait_s: float) -> tuple[float, float]:
    """Wait (up to ``max_wait_s``) until no other process competes for the cores.

    Returns (seconds waited, other runnable tasks when the round started).
    """
    t0 = time.perf_counter()
    busy = others_running()
    while busy >= 0.5 and time.perf_counter() - t0 < max_wait_s:
        time.sleep(2.0)
        busy = others_running()
    return time.perf_counter() - t0, busy


def run_workload(
    wl: workloads.Workload,
    impls: list[str],
    repeats: int,
    max_wait_s: float = 0.0,
    pause_s: float = 0.0,
) -> dict[str, dict[str, list[float]]]:
    """Interleaved rounds; per implementation the seconds per epoch and final losses.

    With ``max_wait_s`` > 0 each round first waits for the other processes on this shared
    machine to go idle (at most that long) and records how busy it still was. With
    ``pause_s`` > 0 every run, of every implementation, starts after that many idle
    seconds: this virtual machine slows down after a few seconds of load on both cores
    (see ``--pause``), and the pause gives each run the same starting state.

    The order rotates from round to round (A B C, B C A, C A B, ...): the first run after
    the wait for quiet fell into the machine's slow phases more often than the others (one
    test, mnist-shape, 7 rounds of mlplab, scikit-learn, mlplab, matmuls only: the same
    mlplab run was slow 3 times in position 1, never in position 3), so no implementation
    may always take that place.
    """
    out: dict[str, dict[str, list[float]]] = {k: {"epoch_s": [], "loss": []} for k in impls}
    out["_busy"] = {"waited_s": [], "others": []}
    for r in range(repeats):
        if max_wait_s > 0:
            waited, busy = wait_for_quiet(max_wait_s)
            out["_busy"]["waited_s"].append(waited)
            out["_busy"]["others"].append(busy)
        k = r % len(impls)
        for name in impls[k:] + impls[:k]:
            time.sleep(pause_s)
            dt, loss = workloads.IMPLEMENTATIONS[name](wl, seed=r)
            out[name]["epoch_s"].append(dt / wl.epochs)
            out[name]["loss"].append(loss)
        print(
            f"  round {r + 1}/{repeats} (load {os.getloadavg()[0]:.1f}): "
            + ", ".join(f"{k} {out[k]['epoch_s'][-1] * 1e3:.1f} ms" for k in impls),
            file=sys.stderr,
        )
    return out


def peak_memory(wl: workloads.Workload) -> int:
    """Peak bytes allocated (tracemalloc: NumPy reports its buffers) during mlplab's fit."""
    net = workloads._mlplab_net(wl)
    opt = mlplab.optimizers.momentum(lr=wl.lr / (1 - workloads.MOMENTUM), beta=workloads.MOMENTUM)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        mlplab.fit(net, wl.X, wl.y, optimizer=opt, epochs=1, batch_size=wl.batch_size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base


# ------------------------------------------------------------------------ import time
def import_time(runs: int = 7) -> dict[str, float]:
    """Median cumulative ``-X importtime`` of numpy and mlplab, in ms, fresh interpreters."""
    res: dict[str, list[float]] = {"numpy": [], "mlplab": [], "wall": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import mlplab"],
            capture_output=True,
            text=True,
            check=True,
        )
        res["wall"].append((time.perf_counter() - t0) * 1e3)
        for line in p.stderr.splitlines():
            parts = [x.strip() for x in line.split("|")]
            if len(parts) == 3 and parts[2] in ("numpy", "mlplab"):
                res[parts[2]].append(int(parts[1]) / 1e3)
    return {k: statistics.median(v) for k, v in res.items() if v}


# ------------------------------------------------------------------------------ report
def _fmt_ms(s: float) -> str:
    ms = s * 1e3
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def compiled_targets(
    names: list[str], results: dict[str, dict[str, dict[str, list[float]]]]
) -> list[str]:
    """Report lines judging ``mlplab-compiled`` against COMPILED_TARGETS (none if not run)."""
    rows = [
        (name, other, target)
        for name in names
        if "mlplab-compiled" in results[name]
        for other, target in COMPILED_TARGETS.get(name, {}).items()
        if other in results[name]
    ]
    if not rows:
        return []
    out = [
        "The optional compiled steps (`mlplab-compiled`: `pip install mlplab[numba]`, "
        "`MLPLAB_COMPILED=always`) against the same targets, speed-up = other's median / "
        "mlplab-compiled's:",
        "",
        "| workload | peer | speed-up of mlplab-compiled [best rounds] | target | met |",
        "|---|---|---|---|---|",
    ]
    for name, other, target in rows:
        mine, theirs = results[name]["mlplab-compiled"]["epoch_s"], results[name][other]["epoch_s"]
        ratio = statistics.median(theirs) / statistics.median(mine)
        best = min(theirs) / min(mine)
        out.append(
            f"| {name} | {other} | {ratio:.2f}× [{best:.2f}×] | ≥ {target}× | "
            f"{'✓' if ratio >= target else '✗'} |"
        )
    return [*out, ""]


def report(
    cmd: str,
    env: dict[str, str],
    peak: float,
    wls: list[workloads.Workload],
    results: dict[str, dict[str, dict[str, list[float]]]],
    memory: dict[str, int],
    micro_res: list[micro.Comparison],
    imports: dict[str, float],
    repeats: int,
    quick: bool,
    wall_s: float,
) -> str:
    L: list[str] = []
    add = L.append
    add(
        "# Benchmark results"
        + (" (quick mode: smaller data, not the issue's workloads)" if quick else "")
    )
    add("")
    add(
        f"Produced by `{cmd}` in {wall_s / 60:.1f} min; every number below was measured "
        "in that one run."
    )
    add("")
    for k, v in env.items():
        add(f"- {k}: {v}")
    add(f"- load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    add(
        f"- measured float32 matmul peak (NumPy, 2048×2048, best of the measurements "
        f"before and between workloads): **{peak:.0f} GFLOP/s**"
    )
    add("")
    add(
        "The machine is shared (2 cores, other processes running): absolute times vary from one "
        "run to the next; the ratios between implementations measured in the same interleaved "
        "run are what to compare."
    )
    add("")

    # Summary against the targets.
    add(
        "## Targets (issues 6 and 19): speed-up = other's median time per epoch / mlplab's, "
        "same run"
    )
    add("")
    add(
        "In brackets, the same ratio from each implementation's best round (least disturbed "
        "by the other processes on the machine), for comparison; the target is judged on "
        f"the medians. 'best of' is the fastest in this run of {', '.join(BEST_OF)}."
    )
    add("")
    add("| workload | peer | speed-up of mlplab [best rounds] | target | met |")
    add("|---|---|---|---|---|")
    all_met = True
    for wl in wls:
        res = results[wl.name]
        m = statistics.median(res["mlplab"]["epoch_s"])
        for other, target in TARGETS[wl.name].items():
            if other == "best of":
                ran = [o for o in BEST_OF if o in res]
                if not ran:
                    continue
                other = min(ran, key=lambda o: statistics.median(res[o]["epoch_s"]))
                label = f"best of: {other}"
            else:
                label = other
            if other not in res:
                add(f"| {wl.name} | {label} | not run | ≥ {target}× | — |")
                all_met = False
                continue
            ratio = statistics.median(res[other]["epoch_s"]) / m
            best = min(res[other]["epoch_s"]) / min(res["mlplab"]["epoch_s"])
            ok = ratio >= target
            all_met &= ok
            add(
                f"| {wl.name} | {label} | {ratio:.2f}× [{best:.2f}×] | ≥ {target}× | "
                f"{'✓' if ok else '✗'} |"
            )
    add("")
    add(f"All targets met in this run: **{'yes' if all_met else 'no'}**.")
    add("")
    L += compiled_targets([wl.name for wl in wls], results)
    if all(FLOOR in results[wl.name] for wl in wls):
        add(
            f"Ceiling: `{FLOOR}` runs just the matrix products of every training step (the "
            "same NumPy/BLAS calls mlplab and scikit-learn make, nothing else), so no "
            "implementation on NumPy's BLAS can be faster per epoch. Other's median / its "
            "median is the largest speed-up such an implementation could show in this run; "
            "mlplab's overhead is the part of its epoch outside the products."
        )
        add("")
        add(
            "| workload | ceiling vs scikit-learn | ceiling vs PyTorch | matmuls only "
            "(ms/epoch) | mlplab's overhead | scikit-learn's overhead |"
        )
        add("|---|---|---|---|---|---|")
        for wl in wls:
            res = results[wl.name]
            f = statistics.median(res[FLOOR]["epoch_s"])
            m = statistics.median(res["mlplab"]["epoch_s"])
            cells = [
                f"{statistics.median(res[o]['epoch_s']) / f:.2f}×" if o in res else "not run"
                for o in ("scikit-learn", "pytorch")
            ]
            sk = statistics.median(res["scikit-learn"]["epoch_s"]) if "scikit-learn" in res else f
            add(
                f"| {wl.name} | {cells[0]} | {cells[1]} | {_fmt_ms(f)} | {_fmt_ms(m - f)} | "
                f"{_fmt_ms(sk - f)} |"
            )
        add("")

    # Per workload detail.
    add("## Time per epoch")
    add("")
    add(
        f"{repeats} interleaved rounds per workload, the order rotating from round to round "
        "(each implementation starts as many rounds; the first run after the wait for quiet "
        "was more often slow). `mlplab-lecture` is the same maths run "
        "through the lecture-shaped functions (`network.loss_and_grads`, the pure optimizer "
        "`update`, `apply_updates`, fancy-indexed batches) in a plain loop: it measures what "
        "the Trainer's fast path buys. Loss = final epoch's mean training loss (median over "
        "rounds), to show every implementation did the same work."
    )
    add("")
    for wl in wls:
        res = results[wl.name]
        flops = wl.flops_per_epoch()
        add(
            f"### {wl.name}: {wl.description} → {wl.layer_sizes}, batch {wl.batch_size}, "
            f"{wl.epochs} epochs ({wl.steps_per_epoch} steps/epoch, {wl.n_params:,} parameters, "
            f"{flops / 1e9:.2f} GFLOP/epoch)"
        )
        add("")
        busy = res.get("_busy", {})
        if busy.get("others"):
            add(
                "Other runnable processes at the start of each round (after waiting up to "
                f"{max(busy['waited_s']):.0f} s for quiet): "
                + ", ".join(f"{b:.1f}" for b in busy["others"])
            )
            add("")
        add(
            "| implementation | median ms/epoch | min–max | µs/step | speed-up of mlplab "
            "(median, min–max of per-round ratios) | GFLOP/s | % of peak | loss |"
        )
        add("|---|---|---|---|---|---|---|---|")
        m_times = res["mlplab"]["epoch_s"]
        m = statistics.median(m_times)
        for name, r in res.items():
            if name.startswith("_"):
                continue
            t = r["epoch_s"]
            med = statistics.median(t)
            if name == "mlplab":
                sp = "—"
            elif name == FLOOR:
                sp = f"{med / m * 100:.0f} % of mlplab's epoch"
            else:
                per_round = [o / s for o, s in zip(t, m_times, strict=True)]
                sp = f"{med / m:.2f}× ({min(per_round):.2f}–{max(per_round):.2f})"
            gf = flops / med / 1e9
            add(
                f"| {name} | {_fmt_ms(med)} | {_fmt_ms(min(t))}–{_fmt_ms(max(t))} | "
                f"{med / wl.steps_per_epoch * 1e6:.0f} | {sp} | {gf:.1f} | {gf / peak * 100:.0f} % "
                f"| {'—' if name == FLOOR else format(statistics.median(r['loss']), '.4f')} |"
            )
        add("")

    # Memory.
    add("## Peak memory of mlplab's training (one epoch, tracemalloc)")
    add("")
    add(
        "Peak bytes allocated during `mlplab.fit` (the caller's X excluded: it exists before), "
        "against the budget of issue 6, 1.5 × (parameters + one batch of activations "
        "a[0..L] + the data: X and the targets in float32). What fit holds: Y (and a copy "
        "of X only if X is not already finite float32), the flat gradient, a second θ vector "
        "(each step writes θ + update there and is adopted once checked), the optimizer "
        "state (v) in two alternating sets, slice-sized scratch buffers of the optimizer "
        "step, and the workspace (batch, z[l], a[l], dZ[l])."
    )
    add("")
    add(
        "| workload | parameters | one batch of activations | data | budget (1.5×) "
        "| peak in fit | peak / budget |"
    )
    add("|---|---|---|---|---|---|---|")
    for wl in wls:
        if wl.name not in memory:
            continue
        p, a, d = wl.param_bytes(), wl.activation_bytes(), wl.data_bytes()
        budget = 1.5 * (p + a + d)
        add(
            f"| {wl.name} | {_mb(p)} | {_mb(a)} | {_mb(d)} | {_mb(budget)} | "
            f"{_mb(memory[wl.name])} | {memory[wl.name] / budget:.2f} |"
        )
    add("")

    # Import.
    add("## `import mlplab`")
    add("")
    add(
        f"Median of 7 fresh interpreters (`python -X importtime -c 'import mlplab'`): mlplab "
        f"{imports.get('mlplab', float('nan')):.0f} ms cumulative, of which numpy "
        f"{imports.get('numpy', float('nan')):.0f} ms; whole interpreter start + import "
        f"{imports.get('wall', float('nan')):.0f} ms wall. Target: under 150 ms. scikit-learn, "
        "scipy, matplotlib and tqdm are imported only by the functions that use them "
        "(tests/test_performance_contracts.py checks both)."
    )
    add("")

    # Micro.
    if micro_res:
        add("## Why each optimization: micro-benchmarks (median µs per call, interleaved)")
        add("")
        add(
            "The first variant is what the lecture-shaped code does, the last what the "
            "Trainer's fast path does (`mlplab.fast.workspace.Workspace`, "
            "`mlplab.fast.step.CheckedStep`, the in-place kernels of `mlplab.fast.kernels`)."
        )
        add("")
        add("| operation | shape | variants (µs) | speed-up |")
        add("|---|---|---|---|")
        for c in micro_res:
            v = "; ".join(
                f"{k}: {t:.2f}" if t < 10 else f"{k}: {t:.0f}" for k, t in c.medians.items()
            )
            add(f"| {c.name} | {c.shape} | {v} | {c.speedup:.2f}× |")
        add("")
    return "\n".join(L) + "\n"


def _mb(b: float) -> str:
    return f"{b / 1e6:.2f} MB" if b < 1e8 else f"{b / 1e6:.0f} MB"


# -------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small data, few epochs and rounds")
    ap.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="interleaved rounds (10: each of 5 implementations starts 2; quick 2)",
    )
    ap.add_argument("--workloads", default="tabular,moons,mnist-shape,wide")
    ap.add_argument("--no-micro", action="store_true", help="skip the micro-benchmarks")
    ap.add_argument("--out", default=None, help="write the Markdown report here")
    ap.add_argument(
        "--torch-compile",
        action="store_true",
        help="add PyTorch through torch.compile (compiling takes minutes per workload here)",
    )
    ap.add_argument(
        "--max-wait",
        type=float,
        default=None,
        help="seconds each round may wait for other processes to go idle (20; quick 0)",
    )
    ap.add_argument(
        "--pause",
        type=float,
        default=None,
        help="idle seconds before every run of every implementation (2; quick 0): this "
        "machine's throughput drops after a few seconds of load on both cores, so "
        "back-to-back runs would each start in a different state",
    )
    args = ap.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 10)
    max_wait = args.max_wait if args.max_wait is not None else (0.0 if args.quick else 20.0)
    pause = args.pause if args.pause is not None else (0.0 if args.quick else 2.0)
    t_start = time.perf_counter()

    env = environment()
    print("\n".join(f"{k}: {v}" for k, v in env.items()), file=sys.stderr)
    peak = matmul_peak()
    print(f"matmul peak: {peak:.0f} GFLOP/s", file=sys.stderr)
    impls = ["mlplab", "scikit-learn"]
    if workloads.torch_available():
        impls.append("pytorch")
    impls += ["mlplab-lecture", "matmuls only"]
    impls += peers.register(torch_compile=args.torch_compile)

    wanted = args.workloads.split(",")
    wls = [wl for wl in workloads.make_workloads(quick=args.quick) if wl.name in wanted]
    results, memory = {}, {}
    for wl in wls:
        print(f"{wl.name}:", file=sys.stderr)
        mine = [i for i in impls if peers.applies(i, wl)]
        warm_up(wl, mine)
        results[wl.name] = run_workload(wl, mine, repeats, max_wait, pause)
        memory[wl.name] = peak_memory(wl)
        # The peak is measured again between workloads and the best kept: a measurement
        # taken while other processes hold a core understates it.
        peak = max(peak, matmul_peak(repeats=3))
    micro_res = [] if args.no_micro else micro.run_all(quick=args.quick)
    imports = import_time()

    cmd = "python benchmarks/bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if os.environ.get("MLPLAB_BENCH_CMD"):
        cmd = os.environ["MLPLAB_BENCH_CMD"]
    env["idle pause before every run"] = f"{pause:g} s"
    text = report(
        cmd.strip(),
        env,
        peak,
        wls,
        results,
        memory,
        micro_res,
        imports,
        repeats,
        args.quick,
        time.perf_counter() - t_start,
    )
    gpu = Path(__file__).resolve().parent / "RESULTS-gpu.md"  # benchmarks/gpu.py's report
    if gpu.exists():
        text = text.rstrip("\n") + "\n\n" + gpu.read_text()
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
