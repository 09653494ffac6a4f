"""Mutation testing of the lecture core with mutmut 3, one module at a time (``make mutation``).

    python tests/mutation/mutation_run.py [MODULE ...]      # default: every module in MODULES

For each module of ``src/mlplab/core/`` this copies the checkout (``src``, ``tests``,
``conftest.py``, ``pyproject.toml``) into a temporary folder, writes a ``[tool.mutmut]``
section that mutates only that module and selects only its test files (mutmut's stats
phase runs them once to learn which test covers which function), runs ``mutmut run``
there and reads ``mutmut results --all true``.

Every mutant that no test killed (mutmut's ``survived`` and ``no tests``) is looked up in
the checked-in list of equivalent mutants, ``tests/mutation/equivalent.json``: per module,
the mutated function and the diff's changed lines (a stable description, unlike mutmut's
numbering), with the reason no input can tell it apart. A survivor not in that list is
printed with its diff and makes the run fail (exit status 1), so a new survivor shows up
in review. Entries that matched no survivor are printed as stale (the code moved or a
test now kills the mutant). ``--out FILE`` writes the table as Markdown; ``--json FILE``
writes every unlisted survivor in the list's format, to be read and classified.
Running one module at a time keeps each run to that module's tests on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.json"

MODULES: dict[str, list[str]] = {
    "activations": [
        "tests/test_activations.py",
        "tests/test_core_exact.py",
        "tests/test_core_exact_namespaces.py",
    ],
    "heads": [
        "tests/test_heads.py",
        "tests/test_core_exact.py",
        "tests/test_sample_weight.py",
        "tests/test_core_exact_namespaces.py",
        "tests/test_core_exact_heads.py",
    ],
    "initializers": [
        "tests/test_initializers.py",
        "tests/test_core_exact.py",
        "tests/test_core_exact_initializers.py",
    ],
    "layers": ["tests/test_gradients.py", "tests/test_core_exact.py"],
    "backprop": [
        "tests/test_gradients.py",
        "tests/test_network.py",
        "tests/test_core_exact.py",
        "tests/test_core_exact_backprop.py",
    ],
    "network": [
        "tests/test_network.py",
        "tests/test_core_exact.py",
        "tests/test_core_exact_network.py",
    ],
    "optimizers": ["tests/test_optimizers.py", "tests/test_core_exact_optimizers.py"],
    "schedules": ["tests/test_schedules.py", "tests/test_core_exact_schedules.py"],
    "data": ["tests/test_data.py", "tests/test_core_exact_data.py"],
    "diagnostics": [
        "tests/test_gradients.py",
        "tests/test_core_exact.py",
        "tests/test_core_exact_diagnostics.py",
    ],
    "dropout": ["tests/test_batchnorm_dropout.py", "tests/test_core_exact_lecture2.py"],
    "batchnorm": ["tests/test_batchnorm_dropout.py", "tests/test_core_exact_lecture2.py"],
}
"""Each core module and the test files that exercise it."""

ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""mutmut forks a test process per mutant: thread pools started before the fork (PyTorch's
OpenMP pool, in the tests that compare with it) deadlock the child, so none is started."""

KILLED = ("killed", "timeout", "segfault")
"""mutmut's statuses of a mutant some test noticed (a crash or a hang counts)."""
UNKILLED = ("survived", "no tests")
"""mutmut's statuses of a mutant no test noticed: equivalent, or a gap in the tests."""


def _config(module: str, tests: list[str]) -> str:
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f'only_mutate = ["src/mlplab/core/{module}.py"]\n'
        'also_copy = ["conftest.py", "tests"]\n'
        f"pytest_add_cli_args_test_selection = {tests!r}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x", "-o", "addopts="]\n'
    ).replace("'", '"')


def function_of(name: str) -> str:
    """The mutated function of a mutmut name: ``x_relu__mutmut_3`` -> ``relu``.

    >>> function_of("mlplab.core.network.xǁNetworkǁpredict__mutmut_12")
    'Network.predict'
    >>> function_of("mlplab.core.activations.x_relu__mutmut_3")
    'relu'
    """
    last = name.rpartition(".")[2].rpartition("__mutmut_")[0]
    if last.startswith("xǁ"):
        return ".".join(last[2:].split("ǁ"))
    return last[2:]


def changed_lines(diff: str) -> list[str]:
    """The removed and added lines of a unified diff, stripped: the mutant's description.

    >>> changed_lines("--- a.py\\n+++ a.py\\n@@ -1 +1 @@\\n-    x = a + b\\n+    x = a - b\\n")
    ['- x = a + b', '+ x = a - b']
    """
    out = []
    for line in diff.splitlines():
        if line[:1] in "-+" and not line.startswith(("---", "+++")):
            out.append(f"{line[0]} {line[1:].strip()}")
    return out


def _results(mutmut: list[str], workdir: Path) -> dict[str, list[str]]:
    """mutmut's verdicts in ``workdir``: mutant names by status."""
    out = subprocess.run(
        [*mutmut, "results", "--all", "true"], cwd=workdir, capture_output=True, text=True
    ).stdout
    by_status: dict[str, list[str]] = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            by_status.setdefault(status, []).append(name)
    return by_status


def _write_copy(module: str, workdir: Path) -> None:
    """The checkout's src, tests and conftest in ``workdir``, configured for ``module``."""
    workdir.mkdir(parents=True, exist_ok=True)
    for part in ("src", "tests"):
        shutil.rmtree(workdir / part, ignore_errors=True)
        shutil.copytree(ROOT / part, workdir / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "conftest.py", workdir / "conftest.py")
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"\n\[tool\.mutmut\][^\[]*", "\n", pyproject)
    (workdir / "pyproject.toml").write_text(pyproject + _config(module, MODULES[module]))


def _unkilled(mutmut: list[str], workdir: Path, by_status: dict[str, list[str]]) -> list[dict]:
    """Every mutant no test killed, with its function, changed lines and diff."""
    unkilled = []
    for status in UNKILLED:
        for name in by_status.get(status, []):
            show = [*mutmut, "show", name]
            diff = subprocess.run(show, cwd=workdir, capture_output=True, text=True)
            unkilled.append(
                {
                    "function": function_of(name),
                    "mutant": changed_lines(diff.stdout),
                    "status": status,
                    "name": name,
                    "diff": diff.stdout,
                }
            )
    return unkilled


def run_module(module: str, workdir: Path) -> tuple[dict[str, list[str]], list[dict]]:
    """Mutate ``module`` in a copy of the checkout: mutant names by status, and unkilled ones."""
    _write_copy(module, workdir)
    mutmut = [sys.executable, "-m", "mutmut"]
    env = {**os.environ, **ONE_THREAD}
    subprocess.run([*mutmut, "run"], cwd=workdir, check=False, stdout=subprocess.DEVNULL, env=env)
    by_status = _results(mutmut, workdir)
    if by_status.get("timeout"):  # a busy machine can time a mutant out: try those once more
        again = [*mutmut, "run", *by_status["timeout"]]
        subprocess.run(again, cwd=workdir, check=False, stdout=subprocess.DEVNULL, env=env)
        by_status = _results(mutmut, workdir)
    return by_status, _unkilled(mutmut, workdir, by_status)


def rerun_survivors(module: str, workdir: Path) -> tuple[dict[str, list[str]], list[dict]]:
    """Run only the unkilled mutants of an earlier ``--keep`` run again, with today's tests.

    Tests are only ever added, so a mutant killed before stays killed: its verdict is kept,
    and every survivor is run again (mutmut learns which new test covers what).
    """
    mutmut = [sys.executable, "-m", "mutmut"]
    before = _results(mutmut, workdir)
    todo = [name for status in UNKILLED for name in before.get(status, [])]
    _write_copy(module, workdir)
    shutil.rmtree(workdir / "mutants" / "tests", ignore_errors=True)
    shutil.copytree(ROOT / "tests", workdir / "mutants" / "tests")
    shutil.copy(workdir / "pyproject.toml", workdir / "mutants" / "pyproject.toml")
    if todo:
        run = [*mutmut, "run", *todo]
        env = {**os.environ, **ONE_THREAD}
        subprocess.run(run, cwd=workdir, check=False, stdout=subprocess.DEVNULL, env=env)
    after = {name: status for status, names in _results(mutmut, workdir).items() for name in names}
    by_status: dict[str, list[str]] = {}
    for status, names in before.items():
        for name in names:
            now = after.get(name, status) if name in todo else status
            now = status if now not in KILLED + UNKILLED else now  # not re-checked: as before
            by_status.setdefault(now, []).append(name)
    return by_status, _unkilled(mutmut, workdir, by_status)


def _key(entry: dict) -> tuple[str, tuple[str, ...]]:
    return entry["function"], tuple(entry["mutant"])


def load_equivalent(path: Path = EQUIVALENT) -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    """The checked-in equivalent mutants: module -> {(function, changed lines)}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {module: {_key(e) for e in entries} for module, entries in data.items()}


def summarize(module: str, by_status: dict[str, list[str]], unkilled: list[dict], known: set):
    """One table row, the unlisted survivors and the stale list entries of one module."""
    total = sum(len(v) for v in by_status.values())
    killed = sum(len(by_status.get(s, [])) for s in KILLED)
    survived, no_tests = (len(by_status.get(s, [])) for s in UNKILLED)
    equivalent = [u for u in unkilled if _key(u) in known]
    new = [u for u in unkilled if _key(u) not in known]
    stale = known - {_key(u) for u in unkilled}
    other = {k: len(v) for k, v in by_status.items() if k not in KILLED + UNKILLED}
    checked = total - len(equivalent)
    score = f"{killed} / {checked} = {100 * killed / checked:.1f} %" if checked else "n/a"
    row = (
        f"| {module} | {total} | {killed} | {survived} | {no_tests} | {len(equivalent)} "
        f"| {score} |" + (f" other: {other}" if other else "")
    )
    return row, new, stale, other


def main() -> int:
    """Run the modules asked for, one after the other; 1 if any survivor is not listed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"some of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--out", type=Path, help="write the table as Markdown here")
    parser.add_argument("--json", type=Path, help="write the unlisted survivors here (JSON)")
    parser.add_argument("--keep", type=Path, help="run in KEEP/<module> and keep it (no temp)")
    parser.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="with --keep: run only the earlier run's unkilled mutants again, with today's tests",
    )
    args = parser.parse_args()
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {list(MODULES)}")
    args.modules = args.modules or list(MODULES)
    known = load_equivalent()
    rows = [
        "| module | mutants | killed | survived | no tests | equivalent "
        "| score on non-equivalent |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    failed, found_new = [], {}
    for module in args.modules:
        if args.keep and args.rerun_survivors:
            by_status, unkilled = rerun_survivors(module, args.keep / module)
        elif args.keep:
            shutil.rmtree(args.keep / module, ignore_errors=True)
            by_status, unkilled = run_module(module, args.keep / module)
        else:
            with tempfile.TemporaryDirectory(prefix=f"mlplab-mutmut-{module}-") as tmp:
                by_status, unkilled = run_module(module, Path(tmp))
        row, new, stale, other = summarize(module, by_status, unkilled, known.get(module, set()))
        for u in new:
            print(f"NOT LISTED ({module}, {u['status']}): {u['name']}\n{u['diff']}")
        for function, lines in sorted(stale):
            print(f"stale entry ({module}): {function}: {' / '.join(lines)}")
        if new or other or not by_status:
            failed.append(module)
        found_new[module] = [{k: u[k] for k in ("function", "mutant", "status")} for u in new]
        rows.append(row)
        print(row, flush=True)
        if args.out:
            args.out.write_text("\n".join(rows) + "\n")
        if args.json:
            args.json.write_text(json.dumps(found_new, indent=1, ensure_ascii=False) + "\n")
    if failed:
        print(f"survivors not in {EQUIVALENT.relative_to(ROOT)} (or no result) in: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
