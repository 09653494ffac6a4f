"""train/ uses only the public names of fast/ (the layer below it), enforced with ``ast``.

:mod:`mlplab.train.fitstep` and :mod:`mlplab.train.blockcalls` bind the NumPy calls of a
step once; they get what they bind from :class:`~mlplab.fast.step.CheckedStep`,
:class:`~mlplab.fast.workspace.Workspace` and :mod:`mlplab.fast.kernels` through public
methods and functions. Two rules, on the source (nothing is imported):

- in every module of ``src/mlplab/train``, no ``name._x`` where ``name`` is a module or
  an object imported from ``mlplab.fast`` (``_kernels._relu_into``, ``CheckedStep._x``);
- in ``fitstep.py`` and ``blockcalls.py``, which handle fast/'s objects (the workspace
  ``ws``, the checked step ``cs``) under local names, no ``x._y`` at all except on
  ``self``/``cls``, the trainer (``tr``, ``trainer``: train/ itself) and the network
  (``net``, ``tr.net``, ``self.net``: core's :class:`~mlplab.core.network.Network`,
  whose θ vector the fused step swaps as ``AlternatingTheta.use`` does).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TRAIN = Path(__file__).resolve().parents[1] / "src" / "mlplab" / "train"
BOUND = ("fitstep.py", "blockcalls.py")  # the modules holding fast/'s objects locally
SAME_LAYER_OR_CORE = {"self", "cls", "tr", "trainer", "net"}


def _private(attr: str) -> bool:
    return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))


def _fast_names(tree: ast.Module) -> set[str]:
    """The local names bound to ``mlplab.fast`` modules or their members."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlplab.fast"):
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("mlplab.fast"):
                    names.add(a.asname or a.name.split(".")[0])
    return names


def _allowed_owner(value: ast.expr) -> bool:
    """``self``, ``tr``, ``net``…, or ``<anything>.net`` (the trainer's network)."""
    if isinstance(value, ast.Name):
        return value.id in SAME_LAYER_OR_CORE
    return isinstance(value, ast.Attribute) and value.attr == "net"


def violations(source: str, bound: bool) -> list[str]:
    """``line: expression`` of each access the rules above forbid in ``source``."""
    tree = ast.parse(source)
    fast = _fast_names(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        owner = node.value
        from_fast = isinstance(owner, ast.Name) and owner.id in fast
        if from_fast or (bound and not _allowed_owner(owner)):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return sorted(found, key=lambda f: int(f.split(":")[0]))


@pytest.mark.parametrize("path", sorted(TRAIN.glob("*.py")), ids=lambda p: p.name)
def test_train_reads_no_private_name_of_fast(path):
    found = violations(path.read_text(encoding="utf-8"), path.name in BOUND)
    assert not found, f"{path.name} reaches into fast/'s private names: {found}"


def test_the_rules_catch_what_they_should():
    fast_module = "from mlplab.fast import kernels as _k\nf = _k._relu_into\n"
    assert violations(fast_module, bound=False) == ["2: _k._relu_into"]
    local = "def f(ws, cs, tr, net):\n    return ws._fwd, cs._g, tr._l2, net._theta, tr.net._xp\n"
    assert violations(local, bound=True) == ["2: ws._fwd", "2: cs._g"]
    assert violations(local, bound=False) == []
    assert violations("x = a.__class__\n", bound=True) == []
