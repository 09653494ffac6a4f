"""The package's architecture, enforced: each layer imports only the layers below it.

The order is stated once, in ``LAYERS`` (lowest first); ``docs/architecture.md`` explains
it. The test parses every module of ``src/mlplab`` with ``ast`` (nothing is imported), so
it also sees imports inside functions, and fails on

- an import from a lower layer to a higher one,
- an import between two interface packages (they stand side by side),
- any import circle between modules, wherever they sit,
- an import of the package face (``mlplab/__init__.py``) or of an old import path kept
  for users (the one-line alias modules such as ``mlplab/training.py``) from inside the
  package: those exist for users only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "mlplab"

# Lowest first. A module belongs to the first entry whose prefix matches its dotted name
# (relative to mlplab). "face" is the package's __init__ and the old-path aliases.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("ground", ("_typing", "_tree", "_validation", "_array_api", "_archive", "_version")),
    ("core", ("core",)),
    ("fast", ("fast",)),
    ("train", ("train",)),
    ("persist", ("persist",)),
    ("interface", ("recipes", "saving", "sklearn", "plots", "experiments", "playground")),
    ("cli", ("commands", "cli", "__main__")),
]
# Interfaces do not import each other, except here (importer, imported):
INTERFACE_EXCEPTIONS: set[tuple[str, str]] = {("saving", "sklearn")}  # estimator files


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)  # "" is the face


def _is_alias(path: Path) -> bool:
    return path.parent == PKG and "sys.modules[__name__] = _moved" in path.read_text()


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


ALIASES = {name for name, p in _modules().items() if _is_alias(p)}


def _layer(name: str) -> str | None:
    if name == "" or name in ALIASES:
        return "face"
    for layer, prefixes in LAYERS:
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return layer
    return None


def _rank(layer: str) -> int:
    return [name for name, _ in LAYERS].index(layer)


def _imports(path: Path, name: str, modules: dict[str, Path]) -> list[tuple[int, str]]:
    """(line, imported module) for every mlplab import in the file, resolved to modules."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.split(".")[0] == "mlplab"]
            targets = [t.partition(".")[2] for t in targets]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.split(".")[0] == "mlplab":
                mod = node.module.partition(".")[2]
            else:
                continue
            # `from mlplab.x import y`: y is a module when such a file exists
            subs = [f"{mod}.{a.name}" if mod else a.name for a in node.names]
            mods = [s for s in subs if s in modules]
            targets = mods if len(mods) == len(subs) else [mod, *mods]
        found += [(node.lineno, t) for t in targets]
    return found


def _edges() -> list[tuple[str, int, str]]:
    modules = _modules()
    return [
        (name, line, target)
        for name, path in modules.items()
        for line, target in _imports(path, name, modules)
    ]


def _violations() -> dict[str, str]:
    """{"importer -> imported": "importer:line imports imported (why not)"}."""
    bad: dict[str, str] = {}
    for src, line, dst in _edges():
        s, d = _layer(src), _layer(dst)
        key = f"{src or 'mlplab'} -> {dst or 'mlplab'}"
        where = f"{src or 'mlplab'}:{line} imports {dst or 'mlplab'}"
        add = bad.setdefault
        if s is None or d is None:
            add(key, f"{where} (module outside every layer: add it to LAYERS)")
        elif s == "face":
            continue  # the face re-exports from everywhere
        elif d == "face":
            if dst != "":
                add(key, f"{where} (an old import path kept for users; import the module)")
            else:
                add(key, f"{where} (the package face; import the module that defines it)")
        elif _rank(d) > _rank(s):
            add(key, f"{where} ({s} must not import {d})")
        elif s == d == "interface":
            a, b = src.split(".")[0], dst.split(".")[0]
            if a != b and (a, b) not in INTERFACE_EXCEPTIONS:
                add(key, f"{where} (interfaces do not import each other)")
    return bad


def _cycles() -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for src, _, dst in _edges():
        if _layer(src) != "face" and _layer(dst) != "face" and src != dst:
            graph.setdefault(src, set()).add(dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_sits_in_a_layer() -> None:
    missing = [n for n in _modules() if _layer(n) is None]
    assert not missing, f"modules in no layer of LAYERS: {missing}"


def test_no_import_goes_up_a_layer_or_across_interfaces() -> None:
    bad = sorted(_violations().values())
    assert not bad, "imports against the layer rule:\n" + "\n".join(bad)


def test_no_import_circles() -> None:
    assert _cycles() == []


def test_the_checker_sees_violations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule is not vacuous: a core module importing train, and a circle, are caught."""
    fake = tmp_path / "mlplab"
    (fake / "core").mkdir(parents=True)
    (fake / "train").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "core" / "__init__.py").write_text("")
    (fake / "train" / "__init__.py").write_text("")
    (fake / "core" / "a.py").write_text("def f():\n    from mlplab.train import b\n")
    (fake / "train" / "b.py").write_text("from mlplab.train import c\n")
    (fake / "train" / "c.py").write_text("from . import b\n")
    monkeypatch.setattr(__import__(__name__), "PKG", fake)
    assert any("core must not import train" in v for v in _violations().values())
    assert _cycles() == [["train.b", "train.c"]]
