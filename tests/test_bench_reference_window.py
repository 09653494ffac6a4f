"""benchmarks/reference_window.py: bench.py's rounds and reference_ab.py's pairs taken in
the same minutes; the report gives both ratios and every fit's time."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def rw():
    sys.path.insert(0, str(BENCH))
    try:
        import reference_window
    finally:
        sys.path.remove(str(BENCH))
    return reference_window


def test_ratios_are_reference_over_mlplab_of_medians_and_per_block(rw):
    out = {"a": [2.0, 4.0, 9.0], "b": [1.0, 4.0, 3.0]}
    med, per = rw.ratios(out, "a", "b")
    assert med == pytest.approx(4.0 / 3.0)  # medians 4 and 3
    assert per == pytest.approx(2.0)  # per block 2, 1, 3


def test_window_alternates_rounds_and_pairs_and_reports_both(rw, tmp_path):
    out = tmp_path / "w.md"
    argv = ["--workload", "tabular", "--epochs", "1", "--blocks", "2", "--pause", "0",
            "--peers", "mlplab,numpy-reference", "--quick", "--out", str(out)]  # fmt: skip
    assert rw.main(argv) == 0
    text = out.read_text()
    assert "| bench.py round |" in text and "| reference_ab.py pair |" in text
    assert "cpu" in text and "NumPy BLAS" in text
    for key in ("round numpy-reference", "round mlplab", "pair numpy-reference", "pair mlplab"):
        line = next(x for x in text.splitlines() if x.startswith(key + ":"))
        times = [float(t) for t in line.split(":")[1].split(",")]
        assert len(times) == 2 and all(t > 0 for t in times)  # one fit per block


def test_a_round_without_both_loops_is_refused(rw):
    with pytest.raises(SystemExit, match="numpy-reference"):
        rw.main(["--workload", "tabular", "--peers", "mlplab", "--blocks", "1", "--quick"])
