"""Frames per second the playground's server can produce, measured in process.

One frame is one ``POST /api/sessions/{id}/step`` of one epoch plus everything the page
draws from its answer, for the default network [2, 8, 8, 1] on 500 points. The page
needs 10 frames/s to animate smoothly; the browser test in
``tests/test_playground_e2e.py`` checks that frames keep coming, this script measures
how many. Run::

    python benchmarks/playground_frames.py --seconds 3 --rounds 5

It prints the median frames/s of the rounds, with the CPU, BLAS and library versions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # environment(), shared with make bench

from mlplab.playground import create_app


def frames_per_second(seconds: float) -> float:
    """Step one new session one epoch at a time for ``seconds``; return frames/s."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    with TestClient(create_app()) as client:
        sid = client.post("/api/sessions", json={"config": {}}).json()["session"]
        client.post(f"/api/sessions/{sid}/step", json={"epochs": 1})  # warm up
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            r = client.post(f"/api/sessions/{sid}/step", json={"epochs": 1})
            if r.status_code != 200:
                raise SystemExit(f"step failed: {r.status_code} {r.text}")
            n += 1
        return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    ap.add_argument("--rounds", type=int, default=5, help="rounds; the median is reported")
    args = ap.parse_args(argv)
    rates = [frames_per_second(args.seconds) for _ in range(args.rounds)]
    for key, value in bench.environment().items():
        print(f"{key}: {value}")
    print(
        f"playground API, [2, 8, 8, 1] on 500 points: median {statistics.median(rates):.1f} "
        f"frames/s over {args.rounds} rounds of {args.seconds:g} s "
        f"(min {min(rates):.1f}, max {max(rates):.1f}); the page needs 10"
    )


if __name__ == "__main__":
    main()
