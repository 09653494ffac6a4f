"""CLI subcommands: one module each, with ``add_parser(subparsers)`` and ``run(args)``.

To add a command, write ``mlplab/commands/<name>.py`` and list it in ``COMMANDS``.
"""

COMMANDS: list[str] = [
    "train",
]
