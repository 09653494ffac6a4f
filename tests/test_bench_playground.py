"""benchmarks/playground_frames.py runs and reports a frame rate (no speed is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the playground needs the 'web' extra")
pytest.importorskip("httpx", reason="the benchmark drives it with httpx's test client")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "playground_frames.py"


def test_playground_frames_benchmark_reports_a_positive_rate():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--seconds", "0.3", "--rounds", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    line = next(l for l in out.splitlines() if l.startswith("playground API"))
    median = float(line.split("median ")[1].split(" frames/s")[0])
    assert median > 0
    assert "over 2 rounds of 0.3 s" in line
    assert "cpu:" in out and "numpy:" in out  # the machine it ran on is named
