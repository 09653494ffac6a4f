"""pytest's settings for the whole checkout (pyproject.toml collects tests/ and the doctests
of src/mlplab).

The one-line modules beside ``mlplab/__init__.py`` (``mlplab/training.py``, ``mlplab/io.py``,
...) are old import paths: each points its name at the module that moved (``sys.modules``),
so they hold no doctest of their own, and collecting them would import the moved module
under the alias's file name. The doctests of the moved modules are collected where they
live now.
"""

from pathlib import Path

_PKG = Path(__file__).parent / "src" / "mlplab"
collect_ignore = [
    str(p) for p in sorted(_PKG.glob("*.py")) if "sys.modules[__name__] = _moved" in p.read_text()
]
