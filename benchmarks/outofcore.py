"""Memory of data bigger than one process (issue 18): sharded CSV under MPI, and
out-of-core training on a memory-mapped .npy.

    python benchmarks/outofcore.py csv [--mb 520] [--ranks 1 2 4] [--fractions 0.5] [--empty-cells]
        [--categories]
    python benchmarks/outofcore.py npy [--mb 1200] [--limit-mb 600] [--rounds 2]
    python benchmarks/outofcore.py npy-mpi [--mb 520] [--ranks 1 2 4] [--fractions 0.5]

``csv``: writes a CSV of 20 float columns and a text label (``--mb`` megabytes) under
/tmp, then for each K runs ``mpiexec -n K`` of ``train_csv(..., comm=COMM_WORLD)`` for
one epoch (each rank parses only its byte range) and prints every rank's peak resident
memory (``ru_maxrss``) against the data's float size (rows × features × 8 bytes) / K (the
share); the same on the file's first rows (``--fractions``, default half of them), and
per K and rank the line through the two: peak = c + s × share (s: bytes held per byte of
the share; the target is s → 1.0, c the constant of that K and rank).

``npy``: writes a float64 .npy of ``--mb`` megabytes, then, in child processes,
(a) loads it in memory under ``RLIMIT_DATA = --limit-mb`` (expected: MemoryError),
(b) trains one epoch on the memory map under that limit, and (c) trains one epoch in
memory without a limit, (b) and (c) interleaved ``--rounds`` times; prints seconds per
epoch, their ratio, and the peak anonymous (private) and file-backed resident memory.
Why RLIMIT_DATA (``ulimit -d``) and not ``ulimit -v``: a memory map of a file takes its
whole size of address space whatever is resident, so ``-v`` refuses to map any file
larger than the limit; since Linux 4.7, RLIMIT_DATA counts private and anonymous memory
(what an in-memory load needs) and not a read-only shared file map.

``npy-mpi``: writes a float64 .npy of ``--mb`` megabytes (FEATURES columns) and a .npy of
int64 labels, and one of their first rows (``--fractions``), then for each K runs
``mpiexec -n K`` of ``train_npy(X.npy, y.npy, comm=COMM_WORLD)`` for one epoch (each
rank maps its part of the file) and prints every rank's peak RSS, and the peaks of its
two parts: anonymous memory (``RssAnon``: arrays, the interpreter) and the file's pages
it touched (``RssFile``: its rows, read at least once an epoch; the kernel may drop
them), sampled every 20 ms; per K and rank the lines through the two sizes, as ``csv``.

The files are deleted afterwards (also on errors). Run it on a quiet machine; on a shared
one, hold the benchmark lock around it yourself (``flock /tmp/bench.lock python
benchmarks/outofcore.py csv``): it does not take the lock.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()
PY = sys.executable
FEATURES = 20


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    src = str(HERE.parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _status() -> dict[str, int]:
    """Resident memory of this process by kind, in kB (/proc/self/status)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0])
    return out


def _mpiexec(k: int, *args: str) -> list[dict]:
    """``mpiexec --oversubscribe -n k`` of this script with ``args``: the JSON list that
    rank 0 printed last (one entry per rank)."""
    mpiexec = str(Path(PY).parent / "mpiexec")
    cmd = [mpiexec, "--oversubscribe", "-n", str(k), PY, str(HERE), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=False)
    if proc.returncode:
        print(proc.stderr[-3000:])
        raise SystemExit(f"mpiexec -n {k} failed")
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))


def _print_fits(k: int, seen: dict[int, list[tuple[float, float]]], what: str = "peak") -> None:
    """Per rank, the line through its first and last (share, MiB) points:
    ``what = c + s x share``."""
    for rank, pts in sorted(seen.items()):
        (s1, m1), (s2, m2) = pts[0], pts[-1]
        slope = (m1 - m2) / (s1 - s2) if s1 != s2 else float("nan")
        print(
            f"fit K={k} rank {rank}: {what} = {m1 - slope * s1:.0f} MiB + {slope:.3f} x "
            f"share (shares {s2:.0f} and {s1:.0f} MiB)",
            flush=True,
        )


def _per_rank(k: int, runs: list[tuple[int, list[str]]], row: Any, fits: dict[str, str]) -> None:
    """For each (rows, arguments) of ``runs`` (largest first): ``mpiexec -n k`` of this
    script, a table line per rank (``| K | rank | rows | row(r, share) | seconds |``,
    share: the float size of the rows / K in MiB); then per rank, for each key of
    ``fits`` (kB), the line through its MiB at the first and last run against the share."""
    seen: dict[str, dict[int, list[tuple[float, float]]]] = {key: {} for key in fits}
    for n, argv in runs:
        share = n * FEATURES * 8 / k / 2**20
        for r in _mpiexec(k, *argv):
            for key, pts in seen.items():
                pts.setdefault(r["rank"], []).append((share, r[key] / 1024))
            line = f"| {k} | {r['rank']} | {n} | {row(r, share)} | {r['seconds']:.1f} |"
            print(line, flush=True)
    for key, what in fits.items():
        _print_fits(k, seen[key], what)


# ---------------------------------------------------------------------- CSV under MPI
def write_csv(path: Path, mb: float, empty: bool = False, categories: bool = False) -> int:
    """A CSV of FEATURES floats and a text label; a 100,000-row block repeated (``empty``:
    column x0 empty in one row of 1,000; ``categories``: a column of three colours too)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    block = pd.DataFrame(
        rng.normal(size=(100_000, FEATURES)), columns=[f"x{i}" for i in range(FEATURES)]
    )
    block["label"] = np.where(block["x0"] + block["x1"] > 0, "yes", "no")
    if empty:
        block.loc[::1000, "x0"] = np.nan
    if categories:
        block.insert(FEATURES, "color", rng.choice(["red", "green", "blue"], 100_000))
    text = block.to_csv(index=False, float_format="%.6f")
    header, body = text.split("\n", 1)
    rows = 0
    with open(path, "w") as f:
        f.write(header + "\n")
        while f.tell() < mb * 1e6:
            f.write(body)
            rows += 100_000
    return rows


def csv_rank(path: str, missing: str | None = None) -> None:
    """One rank: train one epoch on its byte range (``missing``: the empty-cell policy);
    rank 0 prints every rank's numbers."""
    from mpi4py import MPI

    from mlplab.recipes import train_csv

    comm = MPI.COMM_WORLD
    t0 = time.perf_counter()
    columns = {"missing": missing} if missing else {}
    train_csv(
        path, "label", comm=comm, epochs=1, layers="16", batch_size=1024, seed=0, columns=columns
    )
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB
    got = comm.gather({"rank": comm.rank, "peak_kb": peak, "seconds": seconds}, root=0)
    if comm.rank == 0:
        print(json.dumps(got))


def bench_csv(args: argparse.Namespace, folder: Path) -> None:
    path = folder / "big.csv"
    rows = write_csv(path, args.mb, args.empty_cells, args.categories)
    size = path.stat().st_size
    policy = ["mean"] if args.empty_cells else []
    floats = rows * FEATURES * 8
    print(
        f"CSV {size / 2**20:.0f} MiB, {rows} rows x {FEATURES} floats"
        f"{' + a column of categories' if args.categories else ''} + label; float size "
        f"{floats / 2**20:.0f} MiB (of the {FEATURES} columns of floats)"
    )

    # the constant: the same run on a file of 2,000 rows (Python, NumPy, pandas, mpi4py)
    small = folder / "small.csv"
    with open(path) as f:
        small.write_text("".join(f.readline() for _ in range(2001)))
    base = max(r["peak_kb"] for r in _mpiexec(1, "_csv_rank", str(small), *policy)) / 1024
    print(f"constant (one rank, 2,000 rows): peak RSS {base:.0f} MiB")
    # the slope: the same runs on the file's first rows (a fraction of it, whole blocks)
    sizes = sorted({*(float(f) for f in args.fractions), 1.0}, reverse=True)
    files = {1.0: (path, rows)}
    for frac in sizes[1:]:
        part_rows = max(100_000, int(rows * frac) // 100_000 * 100_000)
        part = folder / f"part{frac:g}.csv"
        with open(path) as f, open(part, "w") as g:
            g.writelines(itertools.islice(f, part_rows + 1))
        files[frac] = (part, part_rows)
    print(
        "| K | rank | rows | peak RSS (MiB) | float size / K (MiB) | (peak - constant) / share "
        "| seconds |"
    )
    print("|---|---|---|---|---|---|---|")
    runs = [(files[frac][1], ["_csv_rank", str(files[frac][0]), *policy]) for frac in sizes]
    for k in args.ranks:

        def row(r: dict, share: float) -> str:
            mb = r["peak_kb"] / 1024
            return f"{mb:.0f} | {share:.0f} | {(mb - base) / share:.2f}"

        _per_rank(k, runs, row, {"peak_kb": "peak"})


# ---------------------------------------------------------------------- .npy out of core
def npy_child(mode: str, path: str, limit_mb: int) -> None:
    """One measurement in a fresh process: 'load' (under the limit), 'map' or 'memory'."""
    if limit_mb:
        lim = limit_mb * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (lim, lim))
    import mlplab
    from mlplab.train.callbacks import Callback
    from mlplab.train.exactsum import moments

    if mode == "load":
        try:
            X = np.load(path)
        except MemoryError as exc:
            print(json.dumps({"mode": mode, "error": f"MemoryError: {exc}"}))
            return
        print(json.dumps({"mode": mode, "loaded": X.nbytes}))
        return
    X = np.load(path, mmap_mode="r")
    y = (X[:, 0] > 0).astype(np.int64)  # one column: 8 bytes a row
    peak = {"RssAnon": 0, "RssFile": 0}

    class Sample(Callback):
        def on_batch_end(self, batch: int, logs: dict) -> None:
            if batch % 500 == 0:
                st = _status()
                for k in peak:
                    peak[k] = max(peak[k], st[k])

    t0 = time.perf_counter()
    mu, sigma = moments(lambda: (X[s : s + 2**16] for s in range(0, X.shape[0], 2**16)))
    t_std = time.perf_counter() - t0
    std = mlplab.Standardizer()
    std.mean_, std.scale_ = mu, sigma
    if mode == "memory":
        X = np.array(X)  # loaded
    net = mlplab.Network([FEATURES, 64, 32, 1], seed=0, standardizer=std)
    t0 = time.perf_counter()
    mlplab.fit(net, X, y, epochs=1, batch_size=256, callbacks=[Sample()])
    seconds = time.perf_counter() - t0
    st = _status()
    out = {"mode": mode, "epoch_seconds": seconds, "std_seconds": t_std, **peak}
    out["VmHWM"] = st["VmHWM"]
    print(json.dumps(out))


def write_npy(path: Path, rows: int, target: Path | None = None) -> None:
    """A float64 .npy of ``rows`` x FEATURES normal values, written 2**18 rows at a time;
    with ``target`` also a .npy of int64 labels (x0 > 0)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, FEATURES))
    y = None
    if target is not None:
        y = np.lib.format.open_memmap(target, mode="w+", dtype=np.int64, shape=(rows,))
    rng = np.random.default_rng(1)
    for s in range(0, rows, 2**18):
        out[s : s + 2**18] = rng.normal(size=(min(2**18, rows - s), FEATURES))
        if y is not None:
            y[s : s + 2**18] = out[s : s + 2**18, 0] > 0
    out.flush()
    del out, y


def bench_npy(args: argparse.Namespace, folder: Path) -> None:
    path = folder / "big.npy"
    rows = int(args.mb * 1e6 / (FEATURES * 8))
    write_npy(path, rows)
    print(
        f".npy {path.stat().st_size / 2**20:.0f} MiB ({rows} x {FEATURES} float64); "
        f"RLIMIT_DATA {args.limit_mb} MiB"
    )

    def child(mode: str, limit: int) -> dict:
        cmd = [PY, str(HERE), "_npy_child", mode, str(path), str(limit)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=False)
        if proc.returncode:
            return {"mode": mode, "error": proc.stderr.strip().splitlines()[-1]}
        return json.loads(proc.stdout.strip().splitlines()[-1])

    print(json.dumps(child("load", args.limit_mb)))
    times: dict[str, list[float]] = {"map": [], "memory": []}
    for _ in range(args.rounds):
        for mode, limit in (("map", args.limit_mb), ("memory", 0)):
            r = child(mode, limit)
            print(json.dumps(r), flush=True)
            if "epoch_seconds" in r:
                times[mode].append(r["epoch_seconds"])
    if times["map"] and times["memory"]:
        ratio = np.median(times["map"]) / np.median(times["memory"])
        print(
            f"median epoch: memory map {np.median(times['map']):.2f} s, in memory "
            f"{np.median(times['memory']):.2f} s, ratio {ratio:.2f}"
        )


# ---------------------------------------------------------------------- .npy under MPI
def npy_rank(path: str, target: str) -> None:
    """One rank: train one epoch on its part of the memory-mapped file; rank 0 prints
    every rank's peak RSS and the peaks of its anonymous and file-backed parts (sampled
    from /proc/self/status every 20 ms by a thread)."""
    import threading

    from mpi4py import MPI

    from mlplab.recipes import train_npy

    comm = MPI.COMM_WORLD
    seen = {"RssAnon": 0, "RssFile": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            st = _status()
            for key in seen:
                seen[key] = max(seen[key], st[key])

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    train_npy(path, target, comm=comm, epochs=1, layers="16", batch_size=1024, seed=0)
    seconds = time.perf_counter() - t0
    done.set()
    thread.join()
    st = _status()
    for key in seen:
        seen[key] = max(seen[key], st[key])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB
    mine = {"rank": comm.rank, "peak_kb": peak, "anon_kb": seen["RssAnon"], "seconds": seconds}
    mine.update(file_kb=seen["RssFile"], anon_end_kb=st["RssAnon"])
    got = comm.gather(mine, root=0)
    if comm.rank == 0:
        print(json.dumps(got))


def bench_npy_mpi(args: argparse.Namespace, folder: Path) -> None:
    """``mpiexec -n K`` of ``train_npy(X.npy, y.npy, comm=COMM_WORLD)`` on a float64 .npy
    of ``--mb`` and on one of its first rows (``--fractions``), K = ``--ranks``."""
    rows = int(args.mb * 1e6 / (FEATURES * 8))
    sizes = sorted({*(float(f) for f in args.fractions), 1.0}, reverse=True)
    files = {}
    for frac in sizes:
        n = max(100_000, int(rows * frac))
        files[frac] = (folder / f"X{frac:g}.npy", folder / f"y{frac:g}.npy", n)
        write_npy(files[frac][0], n, files[frac][1])
    big = files[1.0][0].stat().st_size
    print(f".npy {big / 2**20:.0f} MiB ({rows} x {FEATURES} float64) and y.npy (int64)")
    print("| K | rank | rows | peak RSS | peak RssAnon | peak RssFile | share | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    runs = [(n, ["_npy_rank", str(x), str(y)]) for x, y, n in (files[f] for f in sizes)]

    def row(r: dict, share: float) -> str:
        mb, anon, fmb = (r[key] / 1024 for key in ("peak_kb", "anon_kb", "file_kb"))
        return f"{mb:.0f} | {anon:.0f} | {fmb:.0f} | {share:.0f}"

    for k in args.ranks:
        _per_rank(k, runs, row, {"peak_kb": "peak", "anon_kb": "RssAnon"})


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_csv_rank":
        return csv_rank(sys.argv[2], *sys.argv[3:4])
    if len(sys.argv) > 1 and sys.argv[1] == "_npy_rank":
        return npy_rank(sys.argv[2], sys.argv[3])
    if len(sys.argv) > 1 and sys.argv[1] == "_npy_child":
        return npy_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["csv", "npy", "npy-mpi"])
    p.add_argument("--mb", type=float, default=None, help="file size (csv, npy-mpi 520; npy 1200)")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--limit-mb", type=int, default=600)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument(
        "--empty-cells",
        action="store_true",
        help="csv: column x0 empty in one row of 1,000, trained with --missing mean",
    )
    p.add_argument(
        "--categories",
        action="store_true",
        help="csv: a column of three colours besides the floats (their codes are written "
        "into the rows on disk); the float size counts the floats only",
    )
    p.add_argument(
        "--fractions",
        type=float,
        nargs="*",
        default=[0.5],
        help="csv, npy-mpi: also run on these fractions of the file's rows, to fit the slope",
    )
    args = p.parse_args()
    args.mb = args.mb or (1200 if args.what == "npy" else 520)
    cpu = platform.processor() or platform.machine()
    print(f"{platform.platform()}, {os.cpu_count()} CPUs ({cpu}), numpy {np.__version__}")
    print(f"command: python benchmarks/outofcore.py {' '.join(sys.argv[1:])}")
    folder = Path(tempfile.mkdtemp(prefix="mlplab-bench18-", dir="/tmp"))
    try:
        run = {"csv": bench_csv, "npy": bench_npy, "npy-mpi": bench_npy_mpi}[args.what]
        run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
