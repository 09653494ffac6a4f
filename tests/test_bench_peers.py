"""benchmarks/peers.py: the NumPy reference loop and the JAX peers train the same
trajectory as mlplab (same initial weights, data, batches and momentum), so that the
times benchmarks/bench.py sets side by side are times of the same work."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import peers
        import workloads
    finally:
        sys.path.remove(str(BENCH))
    return workloads, peers


def _small(workloads, name, rows, epochs):
    wl = next(w for w in workloads.make_workloads(quick=True) if w.name == name)
    wl.X, wl.y, wl.epochs = wl.X[:rows], wl.y[:rows], epochs
    return wl


@pytest.mark.parametrize(("name", "rows"), [("tabular", 200), ("mnist-shape", 300)])
def test_numpy_reference_follows_mlplabs_trajectory(bench, name, rows):
    workloads, peers = bench
    wl = _small(workloads, name, rows, 3)  # 200 rows, batch 32: a short last batch too
    _, ref = peers.run_numpy_reference(wl, seed=1)
    _, lecture = workloads.run_mlplab_lecture(wl, seed=1)  # same permutations (NumPy rng)
    assert ref == pytest.approx(lecture, rel=1e-4)
    _, other_seed = peers.run_numpy_reference(wl, seed=2)
    assert other_seed != ref  # the seed draws the batches


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is a bench extra")
def test_jax_step_and_scan_follow_the_same_trajectory(bench):
    workloads, peers = bench
    wl = _small(workloads, "tabular", 200, 3)
    _, ref = peers.run_numpy_reference(wl, seed=1)
    _, step = peers.run_jax_step(wl, seed=1)
    _, scan = peers.run_jax_scan(wl, seed=1)
    assert step == pytest.approx(ref, rel=1e-4)
    assert scan == pytest.approx(ref, rel=1e-4)
    assert np.isfinite(scan)


def test_the_compiled_column_is_judged_in_rows_of_its_own():
    sys.path.insert(0, str(BENCH))
    try:
        import bench
    finally:
        sys.path.remove(str(BENCH))
    results = {
        "moons": {
            "mlplab-compiled": {"epoch_s": [0.004, 0.005, 0.009]},
            "jax-scan": {"epoch_s": [0.007, 0.006, 0.012]},
            "numpy-reference": {"epoch_s": [0.003, 0.004, 0.0045]},
        },
        "tabular": {"jax-scan": {"epoch_s": [0.002]}},  # no compiled column: no rows
    }
    lines = bench.compiled_targets(["tabular", "moons"], results)
    rows = [ln for ln in lines if ln.startswith("| moons")]
    assert rows == [
        "| moons | numpy-reference | 0.80× [0.75×] | ≥ 0.9× | ✗ |",
        "| moons | jax-scan | 1.40× [1.50×] | ≥ 1.0× | ✓ |",
    ]
    assert not [ln for ln in lines if ln.startswith("| tabular")]
    assert bench.compiled_targets(["tabular"], results) == []
