"""benchmarks/reference_ab.py: mlplab and the NumPy reference loop alternate in one
process, train the same trajectory, and the report names the machine and every pair."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def test_pairs_alternate_on_one_trajectory_and_the_report_names_the_machine(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        import reference_ab
    finally:
        sys.path.remove(str(BENCH))
    wl = reference_ab.make(["digits"], epochs=1)[0]
    assert (wl.layer_sizes, wl.batch_size, wl.epochs) == ([64, 32, 16, 10], 32, 1)
    res = reference_ab.pairs(wl, 3, pause=0.0)
    assert len(res["numpy-reference"]) == len(res["mlplab"]) == 3
    assert all(t > 0 for t in res["numpy-reference"] + res["mlplab"])
    assert max(res["loss_diff"]) < 1e-4  # the same batches and updates, rounding apart
    out = tmp_path / "ab.md"
    argv = ["--workloads", "digits", "--pairs", "2", "--epochs", "1", "--pause", "0"]
    assert reference_ab.main([*argv, "--out", str(out)]) == 0
    text = out.read_text()
    assert "| digits [64, 32, 16, 10] b32 | 57 |" in text
    assert "cpu" in text and "NumPy BLAS" in text
    assert text.count("/") > 2  # the per-pair times
