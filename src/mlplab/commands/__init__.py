"""CLI subcommands: one module each, with ``HELP``, ``add_parser(subparsers)`` and ``run(args)``.

Every module in this package is a subcommand (found with ``pkgutil``, listed
alphabetically), so adding a command means adding one file and nothing else.
"""

from __future__ import annotations

import pkgutil


def command_modules() -> list[str]:
    """Names of the subcommand modules in this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
