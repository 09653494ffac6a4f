"""benchmarks/compare.py, the before/after benchmark of two trees, runs end to end.

Both "trees" here are this checkout's src/ (one copy with the lecture's
``loss_and_grads`` broken, to see that implementation skipped with its reason): the
numbers mean nothing, the test checks the plumbing (worker processes, which tree ran,
the same trajectory, the report).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "compare.py"


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("bench_compare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rotation_puts_every_run_in_every_place(compare):
    units = [("mlplab", "before"), ("mlplab", "after"), ("lecture", "before"), ("lecture", "after")]
    orders = [compare.rotated(units, r) for r in range(len(units))]
    for place in range(len(units)):
        assert sorted(o[place] for o in orders) == sorted(units)


def test_ratio_is_before_over_after_of_the_medians(compare):
    def cell(times, rounds):
        return {"epoch_s": times, "loss": [0.5] * len(times), "round": rounds, "skipped": None}

    b, a = cell([2.0, 4.0, 3.0], [0, 1, 2]), cell([1.0, 2.0, 1.5], [0, 1, 2])
    *_, ok, ratio = compare._compare_cells(b, a)
    assert ratio == pytest.approx(2.0)
    assert ok == "✓"
    skipped = {**cell([], []), "skipped": "warm-up: TypeError: x"}
    before, _, _, verdict, ratio = compare._compare_cells(skipped, a)
    assert ratio is None
    assert verdict == "not measured"
    assert "skipped: warm-up: TypeError" in before


def _broken_copy(tmp_path: Path) -> Path:
    tree = tmp_path / "before"
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__"))
    net = tree / "src" / "mlplab" / "core" / "network.py"
    if not net.exists():  # the flat layout
        net = tree / "src" / "mlplab" / "network.py"
    net.write_text(
        net.read_text()
        + "\n\ndef loss_and_grads(*args, **kwargs):\n"
        + "    raise TypeError('loss_and_grads() changed in this tree')\n"
    )
    return tree


@pytest.mark.slow
def test_compare_runs_both_trees_and_skips_what_fails(tmp_path):
    pytest.importorskip("sklearn")
    before = _broken_copy(tmp_path)
    out, raw = tmp_path / "report.md", tmp_path / "raw.json"
    cmd = [sys.executable, str(SCRIPT), "--before", str(before), "--after", str(ROOT)]
    cmd += ["--quick", "--rounds", "1", "--workloads", "tabular"]
    cmd += ["--out", str(out), "--json", str(raw)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    res = json.loads(raw.read_text())["single"]["tabular"]
    b, a = res["mlplab"]["before"], res["mlplab"]["after"]
    assert len(b["epoch_s"]) == len(a["epoch_s"]) == 1
    assert b["loss"] == a["loss"]  # same data, weights, seed and maths: the same trajectory
    assert res["mlplab-lecture"]["before"]["skipped"].startswith(
        "warm-up: TypeError: loss_and_grads() changed in this tree"
    )
    assert len(res["mlplab-lecture"]["after"]["epoch_s"]) == 1
    assert f"`{before / 'src' / 'mlplab' / '__init__.py'}`" in text
    assert f"`{ROOT / 'src' / 'mlplab' / '__init__.py'}`" in text
    assert "| tabular | mlplab | " in text
    assert "skipped: warm-up: TypeError" in text
    assert "python benchmarks/compare.py --before" in text


def _mpi_available() -> bool:
    local = Path(sys.executable).parent / "mpiexec"
    found = local.exists() or shutil.which("mpiexec") is not None
    return found and importlib.util.find_spec("mpi4py") is not None


@pytest.mark.slow
@pytest.mark.skipif(not _mpi_available(), reason="mpiexec or mpi4py not found (make install-dev)")
def test_compare_distributed(tmp_path):
    before = _broken_copy(tmp_path)  # the MPI path does not use loss_and_grads
    out, raw = tmp_path / "report.md", tmp_path / "raw.json"
    cmd = [sys.executable, str(SCRIPT), "--before", str(before), "--after", str(ROOT)]
    cmd += ["--workloads", "none", "--distributed", "--nets", "tiny", "--ranks", "1"]
    cmd += ["--dist-rounds", "1", "--dist-repeats", "1", "--quick"]
    cmd += ["--out", str(out), "--json", str(raw)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr
    res = json.loads(raw.read_text())["distributed"]["tiny"]["1"]
    assert len(res["before"]["epoch_s"]) == len(res["after"]["epoch_s"]) == 1
    assert "| tiny | 1 | " in out.read_text()


def test_the_peers_of_bench_py_can_be_compared_too():
    # compare.py registers benchmarks/peers.py's runners (numpy-reference, and
    # mlplab-compiled where Numba is installed), so an --impls typo lists them.
    cmd = [sys.executable, str(SCRIPT), "--before", str(ROOT), "--after", str(ROOT)]
    cmd += ["--impls", "no-such-impl", "--workloads", "none"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2
    assert "unknown 'no-such-impl'" in p.stderr
    assert "numpy-reference" in p.stderr
