"""CSV reading, before and after: wall time and peak memory on a large file.

Writes a CSV of ``--rows`` rows × 20 float columns + a text label (400,000 rows: about
97 MB) into a temporary folder, then reads it into the float matrix X (n, 20) and the
labels, each reader in its own fresh Python process, ``--rounds`` times, interleaved:

* ``before``: the reader of the tree at ``--before`` (``persist/csvdata.py``, taken
  with ``git show``): ``read_table`` + ``numeric`` (+ ``labels``);
* ``after``: this tree's ``mlplab.persist.csvdata.read_training_csv`` (fast read,
  table plan, target encoding), the path ``mlplab train --data`` takes;
* ``after, read only``: ``mlplab.persist.csvfast.read_frame`` alone;
* for reference, plain ``pandas.read_csv`` (its C parser) and, when importable (a folder
  given by ``--pyarrow-path`` / ``--polars-path``, e.g. from ``pip install --target``:
  they are no dependencies of mlplab), pandas with ``engine="pyarrow"``, pyarrow's
  ``pyarrow.csv.read_csv`` with the column types given, and ``polars.read_csv``: the
  engines the choice was between.

Time is wall-clock; CPU is the process's user + system time while reading (all its
threads): on a machine shared with other work the wall time of a reader that uses two
cores grows with the load, its CPU time much less. Peak memory is the process's peak
resident set (``VmHWM``) less its resident set just before reading (after the imports,
pandas's included: a fixed cost, not one that grows with the file), compared with the
size of X in float64.

    python benchmarks/csv_read.py                      # prints the report
    python benchmarks/csv_read.py --out benchmarks/RESULTS-csv.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
K = 20

PRELUDE = """
import json, os, resource, sys, threading, time
sys.path.insert(0, {src!r})
import numpy as np
{imports}
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)  # all threads of the process
    return r.ru_utime + r.ru_stime
anon = [status("RssAnon")]
done = threading.Event()
def sample():  # RssAnon has no high-water mark: poll it (a round of its own, untimed)
    while not done.wait(0.002):
        anon.append(status("RssAnon"))
if os.environ.get("CSV_BENCH_SAMPLE"):
    threading.Thread(target=sample, daemon=True).start()
base = status("VmRSS")
c0 = cpu()
t0 = time.perf_counter()
{body}
dt = time.perf_counter() - t0
dc = cpu() - c0
peak = status("VmHWM")  # not ru_maxrss: after fork + exec it starts at the parent's
done.set()
assert X.shape == ({rows}, {k}) and X.dtype == np.float64, (X.shape, X.dtype)
print(json.dumps({{"seconds": dt, "cpu_seconds": dc, "peak_mb": peak - base,
                   "anon_mb": max(anon) - anon[0],
                   "x_mb": X.nbytes / 2**20, "checksum": float(X.sum())}}))
"""

READERS = {
    "before": (
        "import csvdata_before as old",
        "t = old.read_table(PATH)\nX = old.numeric(t, list(range(20)))\ny = old.labels(t, 20)",
    ),
    "after": (
        "import pandas\nfrom mlplab.persist.csvdata import read_training_csv",
        "d = read_training_csv(PATH, 'label')\nX, y = d.X, d.y",
    ),
    "after, read only": (
        "import pandas\nfrom mlplab.persist.csvfast import read_frame",
        "f = read_frame(PATH)\n"
        "X = np.empty((f.n_rows, 20))\n"
        "for j in range(20):\n"
        "    X[:, j] = f.data[j]\n"
        "    f.data[j] = None\n"
        "y = f.data[20]",
    ),
    "pandas.read_csv (reference)": (
        "import pandas as pd",
        "df = pd.read_csv(PATH, keep_default_na=False, na_values=[''])\n"
        "X = df.iloc[:, :20].to_numpy(np.float64)\ny = df['label'].to_numpy()",
    ),
    "pandas engine=pyarrow (reference)": (
        "import pandas as pd, pyarrow",
        "df = pd.read_csv(PATH, engine='pyarrow', keep_default_na=False, na_values=[''])\n"
        "X = df.iloc[:, :20].to_numpy(np.float64)\ny = df['label'].to_numpy()",
    ),
    "pyarrow.csv (reference)": (
        "import pyarrow as pa, pyarrow.csv as pc",
        "types = {f'x{j}': pa.float64() for j in range(20)}\n"
        "options = pc.ConvertOptions(null_values=[''], column_types=types)\n"
        "tb = pc.read_csv(PATH, convert_options=options)\n"
        "cols = [tb.column(i) for i in range(tb.num_columns)]\ndel tb\n"
        "X = np.empty((len(cols[0]), 20))\n"
        "for j in range(20):\n"
        "    X[:, j] = cols[j].to_numpy()\n"
        "    cols[j] = None\n"
        "y = cols[20]",
    ),
    "polars.read_csv (reference)": (
        "import polars as pl",
        "df = pl.read_csv(PATH, schema_overrides={f'x{j}': pl.Float64 for j in range(20)})\n"
        "X = df.select([f'x{j}' for j in range(20)]).to_numpy()\ny = df['label'].to_numpy()",
    ),
}


def make_file(path: Path, rows: int, seed: int = 0) -> None:
    """rows × 20 floats (9 significant digits, magnitudes 1e-2..1e3) + a text label."""
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = np.array(["north", "south", "east", "west"])
    with open(path, "w") as f:
        f.write(",".join([f"x{j}" for j in range(K)] + ["label"]) + "\n")
        for lo in range(0, rows, 50_000):
            n = min(50_000, rows - lo)
            X = rng.normal(size=(n, K)) * 10.0 ** rng.integers(-2, 4, size=K)
            body = np.char.mod("%.9g", X)
            lab = labels[rng.integers(0, 4, n)]
            f.writelines(",".join(r) + "," + c + "\n" for r, c in zip(body, lab, strict=True))


EXTRA = {"pyarrow": "pyarrow.csv", "polars": "polars"}
"""Readers whose name holds a key need that module, from the folder given for it."""


def _env(name: str, paths: dict[str, str | None]) -> dict[str, str]:
    """The reader's environment: pyarrow's (polars') folder on the path for its readers
    only (with pyarrow importable, pandas would store text columns in pyarrow for the
    others)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    extra = [paths.get(key) for key in EXTRA if key in name]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*extra, env.get("PYTHONPATH")]))
    return env


def available(name: str, paths: dict[str, str | None]) -> bool:
    modules = [module for key, module in EXTRA.items() if key in name]
    if not modules:
        return True
    code = "import " + ", ".join(modules)
    env = _env(name, paths)
    return (
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True).returncode == 0
    )


def run_one(
    name: str,
    path: Path,
    rows: int,
    src_before: Path,
    paths: dict[str, str | None],
    sample: bool = False,
) -> dict:
    imports, body = READERS[name]
    src = str(src_before if name == "before" else ROOT / "src")
    code = PRELUDE.format(src=src, imports=imports, body=body, rows=rows, k=K)
    code = code.replace("PATH", repr(str(path)))
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(_env(name, paths), **({"CSV_BENCH_SAMPLE": "1"} if sample else {})),
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions() -> str:
    code = (
        "import numpy, pandas, sys; "
        "print(sys.version.split()[0], numpy.__version__, pandas.__version__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    py, np_v, pd_v = out.split()
    return f"Python {py}, NumPy {np_v}, pandas {pd_v}"


def head() -> str:
    """This tree's commit (what ``after`` measures), marked when files differ from it."""
    git = ["git", "-C", str(ROOT)]
    rev = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True)
    return rev.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def _med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def report(results: dict, anon: dict, args: argparse.Namespace, size_mb: float, x_mb: float) -> str:
    before = results["before"]
    lines = [
        "# CSV reading: before and after (issue 16)",
        "",
        f"Command: `python benchmarks/csv_read.py --rows {args.rows} --rounds {args.rounds}"
        f" --before {args.before}"
        f"{' --pyarrow-path DIR' if args.pyarrow_path else ''}"
        f"{' --polars-path DIR' if args.polars_path else ''}"
        f"{''.join(f' --skip {name!r}' for name in args.skip)}"
        f"{' --out ' + str(args.out) if args.out else ''}`",
        f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs; {versions()}.",
        f"File: {args.rows:,} rows × 20 float columns + a text label, {size_mb:.0f} MB; "
        f"X (n, 20) float64 = {x_mb:.0f} MB. Each reader in its own process, "
        f"{args.rounds} rounds interleaved; time: median, memory: peak RSS above the "
        "process's RSS before reading (after the imports, pandas included where a reader "
        "uses it), largest of the rounds. Load average (1 min) before the run: "
        f"{args.load:.2f}, after it: {os.getloadavg()[0]:.2f} (other processes share the "
        f"CPUs). `after` is the tree at {head()}.",
        "",
        "| reader | time (s) | speed-up vs before | fastest round (s) | speed-up, fastest "
        "rounds | CPU (s) | CPU speed-up | peak memory (MB) | peak / X | peak anonymous "
        "memory / X |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    t0, f0, c0 = (
        _med(before, "seconds"),
        min(r["seconds"] for r in before),
        _med(before, "cpu_seconds"),
    )
    for name, runs in results.items():
        t, c = _med(runs, "seconds"), _med(runs, "cpu_seconds")
        fast = min(r["seconds"] for r in runs)
        peak = max(r["peak_mb"] for r in runs)
        lines.append(
            f"| {name} | {t:.2f} | {t0 / t:.1f}× | {fast:.2f} | {f0 / fast:.1f}× | {c:.2f} | "
            f"{c0 / c:.1f}× | {peak:.0f} | {peak / x_mb:.2f}× | "
            f"{anon[name]['anon_mb'] / x_mb:.2f}× |"
        )
    lines += [
        "",
        "Targets of issue 16: at least 20× faster than before, peak memory at most 3× X.",
        "`before` is `read_table` + `numeric` + `labels` of the tree at the commit named; "
        "`after` is `read_training_csv` (the path of `mlplab train --data`: fast read, "
        "table plan, label encoding, X built).",
        "Peak memory counts the file's pages a reader maps (pandas' own parallel read maps "
        f"the whole file, {size_mb / x_mb:.1f}× X here: page cache, shared and reclaimable); peak "
        "anonymous memory leaves them out: RssAnon polled every 2 ms in one more, untimed "
        "round per reader (a lower bound of the true peak).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", default="0ac4382", help="git commit of the old reader")
    ap.add_argument("--out", type=Path, default=None, help="write the report (markdown) here")
    ap.add_argument("--skip", action="append", default=[], help="a reader to leave out")
    ap.add_argument("--pyarrow-path", default=None, help="a folder holding pyarrow (reference)")
    ap.add_argument("--polars-path", default=None, help="a folder holding polars (reference)")
    args = ap.parse_args()
    args.load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        old = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{args.before}:src/mlplab/persist/csvdata.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (tmp_path / "csvdata_before.py").write_text(old)
        path = tmp_path / "big.csv"
        make_file(path, args.rows)
        size_mb = path.stat().st_size / 2**20
        paths = {"pyarrow": args.pyarrow_path, "polars": args.polars_path}
        names = [n for n in READERS if available(n, paths) and n not in args.skip]
        results: dict[str, list[dict]] = {n: [] for n in names}
        for r in range(args.rounds):
            for name in names:
                results[name].append(run_one(name, path, args.rows, tmp_path, paths))
                print(f"round {r + 1} {name}: {results[name][-1]}", file=sys.stderr)
        anon = {n: run_one(n, path, args.rows, tmp_path, paths, sample=True) for n in names}
        sums = {n: results[n][0]["checksum"] for n in names}
        ref = sums["before"] if "before" in sums else sums["after"]
        if not all(math.isclose(v, ref, rel_tol=1e-9) for v in sums.values()):
            raise SystemExit(f"the readers disagree on X: {sums}")
        text = report(results, anon, args, size_mb, results["after"][0]["x_mb"])
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
