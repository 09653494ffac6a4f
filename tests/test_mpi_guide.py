"""Every example of docs/guide/mpi.md runs as written (the cluster one is marked as not
runnable here), in order, in one folder: shell blocks with bash, Python blocks that use
mpi4py under ``mpiexec -n 2``, the others in one process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_distributed import MPIEXEC, TIMEOUT, needs_mpi

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "mpi.md"
NOT_HERE = "# not runnable here"


def _blocks() -> list[tuple[str, str]]:
    return re.findall(r"```(sh|python)\n(.*?)```", GUIDE.read_text(), re.S)


def test_the_guide_shows_the_sharded_csv_workflow_first():
    text = GUIDE.read_text()
    first = _blocks()[0][1]
    assert "mpiexec --oversubscribe" in first and "--distributed --data iris.csv" in first
    assert "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" in first  # a comment
    cluster = [code for _, code in _blocks() if code.startswith(NOT_HERE)]
    assert len(cluster) == 1 and "--hostfile" in cluster[0] and "srun" in cluster[0]
    assert text.index("## A CSV file read in parts") < text.index("## A `.npy` bigger")


@needs_mpi
@pytest.mark.slow  # six blocks, five with MPI launches
def test_every_example_of_the_guide_runs(tmp_path):
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)  # mlplab and mpiexec of this environment
    env.update(PATH=bin_dir + os.pathsep + env["PATH"], OPENBLAS_NUM_THREADS="1")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    ran = 0
    for k, (lang, code) in enumerate(_blocks()):
        if code.startswith(NOT_HERE):
            continue
        if lang == "sh":
            cmd = ["bash", "-euo", "pipefail", "-c", code]
        else:
            script = tmp_path / f"block{k}.py"
            script.write_text(code)
            cmd = [sys.executable, str(script)]
            if "from mpi4py import MPI" in code:
                cmd = [MPIEXEC, "--oversubscribe", "-n", "2", *cmd]
        proc = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert proc.returncode == 0, f"block {k}:\n{code}\n{proc.stderr[-3000:]}"
        if "print(" in code:
            assert proc.stdout.strip(), f"block {k} printed nothing"
        ran += 1
    assert ran == 6  # the CSV and .npy workflows, then the in-memory ones
    assert (tmp_path / "runs" / "iris-mpi" / "model.npz").exists()
    assert (tmp_path / "runs" / "npy" / "model.npz").exists()
