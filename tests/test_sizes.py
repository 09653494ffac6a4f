"""Small modules and short functions: the sizes docs/architecture.md promises.

A module of the library stays under ``MAX_MODULE_LINES`` lines and a function under
``MAX_FUNCTION_LINES`` lines of code (its docstring not counted: the lecture's equations
live there). The experiments' bodies (``experiments/_*.py``: one figure's whole story
each) are the documented exception for functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "mlplab"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from ``def`` to the end, less the docstring's."""
    lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
    first = node.body[0] if node.body else None
    value = first.value if isinstance(first, ast.Expr) else None
    if isinstance(value, ast.Constant) and isinstance(value.value, str):  # a docstring
        lines -= first.end_lineno - first.lineno + 1  # type: ignore[union-attr,operator]
    return lines


def _long_functions(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "experiments" and rel.name.startswith("_"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = _code_lines(node)
                if n > MAX_FUNCTION_LINES:
                    found.append(f"{rel}:{node.lineno} {node.name} ({n} lines)")
    return found


def test_modules_are_small() -> None:
    big = [
        f"{p.relative_to(PKG)} ({n} lines)"
        for p in sorted(PKG.rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert big == []


def test_functions_are_short() -> None:
    assert _long_functions(PKG) == []


def test_the_size_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "m.py").write_text(f'def f():\n    """Doc."""\n{body}\n')
    assert _long_functions(tmp_path) == ["m.py:1 f (61 lines)"]
    (tmp_path / "m.py").write_text(f'def f():\n    """Doc\n    more."""\n{body[:-12]}\n')
    assert _long_functions(tmp_path) == []
