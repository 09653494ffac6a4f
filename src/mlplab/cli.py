"""The ``mlplab`` command line: argparse subcommands, a thin layer over the library.

Errors the user can fix (bad values, bad files) print one line ``mlplab: error: ...``
and exit with status 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from mlplab._version import __version__
from mlplab.commands import command_modules


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus a pointer to --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand registered, or only the subcommand ``only``.

    ``mlplab train ...`` needs the parser of ``train`` alone: importing the other
    subcommands' modules (and what they import) would only add to its start-up time.
    """
    parser = _Parser(
        prog="mlplab",
        description="mlplab: fully connected networks with backpropagation by hand.",
    )
    parser.add_argument("--version", action="version", version=f"mlplab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in command_modules() if only is None else [only]:
        module = importlib.import_module(f"mlplab.commands.{name}")
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mlplab`` console script and ``python -m mlplab``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # `mlplab COMMAND ...`: only that command's module; anything else (--help, --version,
    # a typo) gets the full parser, whose messages list every command.
    first = argv[0] if argv else None
    parser = build_parser(first if first in command_modules() else None)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("mlplab: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, FloatingPointError) as exc:
        print(f"mlplab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
