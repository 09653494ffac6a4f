"""Why `make bench` pauses before every run: back-to-back runs against runs after a pause.

Trains mlplab on mnist-shape (the workload of benchmarks/workloads.py) six times
back to back, then six times each after ``--pause`` idle seconds, and repeats that
``--cycles`` times, printing ms/epoch. On the 2-core VM this project is developed on,
throughput drops after a few seconds of load on both cores, so back-to-back runs
start in different states; bench.py therefore sleeps before every run of every
implementation (``--pause``).

    python benchmarks/throttle.py [--pause 3] [--cycles 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import workloads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pause", type=float, default=3.0)
    ap.add_argument("--cycles", type=int, default=2)
    args = ap.parse_args()
    wl = next(w for w in workloads.make_workloads() if w.name == "mnist-shape")
    workloads.run_mlplab(wl)  # warm-up
    for _ in range(args.cycles):
        for pause in (0.0, args.pause):
            times = []
            for _ in range(6):
                time.sleep(pause)
                times.append(workloads.run_mlplab(wl)[0] / wl.epochs * 1e3)
            print(
                f"pause {pause:g} s: ms/epoch "
                + ", ".join(f"{t:.0f}" for t in times)
                + f" (median {statistics.median(times):.0f})",
                flush=True,
            )


if __name__ == "__main__":
    main()
