"""Mutation testing of the lecture core with mutmut 3, one module at a time (``make mutation``).

    python tests/mutation/mutation_run.py [MODULE ...]      # default: every module in MODULES

For each module of ``src/mlplab/core/`` this copies the checkout (``src``, ``tests``,
``conftest.py``, ``pyproject.toml``) into a temporary folder, writes a ``[tool.mutmut]``
section that mutates only that module and selects only its test files (mutmut's stats
phase runs them once to learn which test covers which function), runs ``mutmut run``
there and reads ``mutmut results --all true``. It prints one line per module and every
surviving mutant with its diff; ``--out FILE`` writes the table as Markdown
(``docs/mutation.md`` holds the checked-in one and the equivalent survivors).
Running one module at a time keeps each run to that module's tests on a 2-core machine.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MODULES: dict[str, list[str]] = {
    "activations": ["tests/test_activations.py", "tests/test_core_exact.py"],
    "heads": ["tests/test_heads.py", "tests/test_core_exact.py", "tests/test_sample_weight.py"],
    "initializers": ["tests/test_initializers.py", "tests/test_core_exact.py"],
    "layers": ["tests/test_gradients.py", "tests/test_core_exact.py"],
    "backprop": ["tests/test_gradients.py", "tests/test_network.py", "tests/test_core_exact.py"],
    "network": ["tests/test_network.py", "tests/test_core_exact.py"],
    "optimizers": ["tests/test_optimizers.py"],
    "schedules": ["tests/test_schedules.py"],
    "data": ["tests/test_data.py"],
    "diagnostics": ["tests/test_gradients.py", "tests/test_core_exact.py"],
    "dropout": ["tests/test_batchnorm_dropout.py"],
    "batchnorm": ["tests/test_batchnorm_dropout.py"],
}
"""Each core module and the test files that exercise it."""


def _config(module: str, tests: list[str]) -> str:
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f'only_mutate = ["src/mlplab/core/{module}.py"]\n'
        'also_copy = ["conftest.py", "tests"]\n'
        f"pytest_add_cli_args_test_selection = {tests!r}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x", "-o", "addopts="]\n'
    ).replace("'", '"')


def run_module(module: str, workdir: Path) -> dict[str, list[str]]:
    """Mutate ``module`` in a copy of the checkout; the mutant names by status."""
    for part in ("src", "tests"):
        shutil.copytree(ROOT / part, workdir / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "conftest.py", workdir / "conftest.py")
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"\n\[tool\.mutmut\][^\[]*", "\n", pyproject)
    (workdir / "pyproject.toml").write_text(pyproject + _config(module, MODULES[module]))
    mutmut = [sys.executable, "-m", "mutmut"]
    subprocess.run([*mutmut, "run"], cwd=workdir, check=False, stdout=subprocess.DEVNULL)
    out = subprocess.run(
        [*mutmut, "results", "--all", "true"], cwd=workdir, capture_output=True, text=True
    ).stdout
    by_status: dict[str, list[str]] = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            by_status.setdefault(status, []).append(name)
    for name in by_status.get("survived", []):
        diff = subprocess.run([*mutmut, "show", name], cwd=workdir, capture_output=True, text=True)
        print(diff.stdout)
    return by_status


def main() -> None:
    """Run the modules asked for, one after the other, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"some of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--out", type=Path, help="write the table as Markdown here")
    args = parser.parse_args()
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {list(MODULES)}")
    args.modules = args.modules or list(MODULES)
    rows = ["| module | mutants | killed | survived | other |", "|---|---:|---:|---:|---|"]
    for module in args.modules:
        with tempfile.TemporaryDirectory(prefix=f"mlplab-mutmut-{module}-") as tmp:
            found = run_module(module, Path(tmp))
        total = sum(len(v) for v in found.values())
        killed, survived = len(found.get("killed", [])), len(found.get("survived", []))
        other = {k: len(v) for k, v in found.items() if k not in ("killed", "survived")}
        rows.append(f"| {module} | {total} | {killed} | {survived} | {other or ''} |")
        print(rows[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
