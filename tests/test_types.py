"""The types are a promise (issue 21): ``mypy --strict`` over the library finds nothing.

mlplab ships ``py.typed``, so its annotations are part of its interface. The checker runs
once, configured by ``[tool.mypy]`` in pyproject.toml (``strict = true``, every module of
``src/mlplab``); its only allowlist is the ``[[tool.mypy.overrides]]`` table of third-party
modules that ship no types. Each error is printed with its file and line.

mypy comes with the ``dev`` extra (``make test`` installs it); without it the tests skip.
A first run takes about half a minute; mypy's cache (``.mypy_cache/``) makes reruns fast.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "mlplab"

# The layers below persist/ (docs/architecture.md): ground helpers, core/, fast/, train/.
GROUND = ("_typing", "_tree", "_validation", "_array_api", "_archive", "_version")
LOWER = (*(f"{name}.py" for name in GROUND), "core/", "fast/", "train/")


@cache
def _mypy() -> tuple[int, str]:
    """Run mypy as configured in pyproject.toml: (exit status, its report)."""
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def _errors(report: str) -> list[tuple[str, str]]:
    """(path relative to src/mlplab, line of the report) of each error."""
    found = []
    for line in report.splitlines():
        m = re.match(r"src/mlplab/(\S+?\.py):\d+: error:", line)
        if m:
            found.append((m.group(1), line))
    return found


def test_mypy_checks_every_module() -> None:
    status, report = _mypy()
    assert status in (0, 1), f"mypy did not run (exit status {status}):\n{report}"
    m = re.search(r"(?:in|Success: no issues found in) \d+ files? \(checked (\d+) source", report)
    m = m or re.search(r"Success: no issues found in (\d+) source files", report)
    assert m, f"no summary line in mypy's report:\n{report}"
    assert int(m.group(1)) == len(list(PKG.rglob("*.py")))


def test_config_is_strict_and_allowlists_only_dependencies() -> None:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True
    assert config["files"] == ["src/mlplab"]
    for override in config.get("overrides", []):
        modules = override["module"]
        modules = [modules] if isinstance(modules, str) else modules
        ours = [m for m in modules if m.split(".")[0] == "mlplab"]
        assert "ignore_errors" not in override, override
        if "ignore_missing_imports" in override:  # the allowlist: dependencies only
            assert set(override) == {"module", "ignore_missing_imports"}, override
            assert ours == [], modules
        else:  # our modules: only subclassing scikit-learn's untyped base classes
            assert set(override) == {"module", "disallow_subclassing_any"}, override


@pytest.mark.parametrize("half", ["lower", "upper"])
def test_mypy_strict_finds_no_error(half: str) -> None:
    status, report = _mypy()
    assert status in (0, 1), f"mypy did not run (exit status {status}):\n{report}"
    mine = [line for path, line in _errors(report) if path.startswith(LOWER) == (half == "lower")]
    assert mine == [], f"{len(mine)} mypy --strict errors:\n" + "\n".join(mine)
