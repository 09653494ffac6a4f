"""benchmarks/gpu.py runs: the GPU benchmark, on CPU tensors (so it is known to work
before a GPU is at hand)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def gpu_script(monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    pytest.importorskip("sklearn")
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script adds benchmarks/ to it
    for name in ("gpu", "workloads"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    spec = importlib.util.spec_from_file_location("gpu", ROOT / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    for name in ("gpu", "workloads"):
        sys.modules.pop(name, None)


def test_gpu_benchmark_runs_on_cpu_tensors(gpu_script, tmp_path, capsys):
    out = tmp_path / "gpu.md"
    argv = ["--device", "cpu", "--quick", "--workloads", "tabular,moons", "--epochs", "2"]
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("# Results\n\n## CPU\n\ntext\n\n## GPU: old\n\nnot measured\n")
    result = gpu_script.main([*argv, "--out", str(out), "--into", str(results_md)])
    rows = {(r["workload"], r["implementation"]): r for r in result["results"]}
    assert set(rows) == {
        (w, i)
        for w in ("tabular", "moons")
        for i in ("mlplab-torch", "mlplab-cupy", "pytorch", "mlplab-numpy")
    }
    for w in ("tabular", "moons"):
        mine, torch_row, numpy_row = (
            rows[w, "mlplab-torch"],
            rows[w, "pytorch"],
            rows[w, "mlplab-numpy"],
        )
        for r in (mine, torch_row, numpy_row):
            assert r["status"] == "ok" and r["samples_per_s"] > 0 and r["epochs"] == 2
        # the same initial weights, shuffles and optimizer trajectory: the same losses
        assert mine["final_loss"] == pytest.approx(torch_row["final_loss"], rel=1e-4)
        assert mine["final_loss"] == pytest.approx(numpy_row["final_loss"], rel=1e-4)
        assert rows[w, "mlplab-cupy"]["status"] == "skipped: CuPy needs a CUDA device"
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["results"] == json.loads(json.dumps(result["results"]))
    text = out.read_text()
    assert "| workload | implementation | device | samples/s |" in text
    assert "--device cpu --quick" in text
    updated = results_md.read_text()
    assert updated.startswith("# Results\n\n## CPU\n\ntext\n\n## GPU: mlplab on PyTorch")
    assert "not measured" not in updated and updated.endswith(text)
    printed = capsys.readouterr().out
    assert "mlplab-torch" in printed and "vs pytorch" in printed


def test_gpu_benchmark_says_when_there_is_no_gpu(gpu_script):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit, match="PyTorch sees no CUDA device"):
        gpu_script.main(["--workloads", "tabular", "--epochs", "1"])
