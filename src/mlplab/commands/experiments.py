"""``mlplab experiments``: reproduce the lecture's claims, with figures, tables and a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "reproduce the lecture's claims: figures, tables, report.md and report.html"

_NAMES = (
    "logistic", "backprop", "activations", "depth", "init", "normalize", "optimizers",
    "dropout", "batchnorm", "lr_decay",
)  # fmt: skip


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "experiments",
        help=HELP,
        description=(
            f"{HELP}. Runs the named experiments (default: all ten: {', '.join(_NAMES)}), "
            "writes <name>.png, <name>.md and <name>.json for each into --out, then "
            "report.md and a self-contained report.html."
        ),
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"experiments to run (default: all): {', '.join(_NAMES)}",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("report"),
        help="folder for the figures, tables and report (default: ./report)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into --out even if it already holds files (they are overwritten)",
    )
    p.add_argument("--quick", action="store_true", help="small sizes: all ten in about a minute")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--dpi", type=int, default=90, help="resolution of the PNG figures (default 90)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def run(args: argparse.Namespace) -> int:
    import mlplab.experiments as ex

    if args.list:
        for name, fn in ex.EXPERIMENTS.items():
            doc = (fn.__doc__ or "").strip().splitlines()[0]
            print(f"{name:<12} {doc}")
        return 0
    names = ex.check_names(args.names)  # fail on a typo before any work
    _check_out(args.out, args.force)

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    results = ex.run(names, out=args.out, quick=args.quick, seed=args.seed, dpi=args.dpi, log=log)
    failing = [(n, c) for n, r in results.items() for c in r.claims if not c.holds]
    n_claims = sum(len(r.claims) for r in results.values())
    print(f"{n_claims - len(failing)} of {n_claims} claims hold.")
    for name, claim in failing:
        print(f"  not supported ({name}): {claim.text}")
    print(f"wrote {args.out / 'report.md'} and {args.out / 'report.html'}")
    return 0


def _check_out(out: Path, force: bool) -> None:
    """Refuse a ``--out`` folder that already holds files, unless ``--force``."""
    if force or not out.is_dir() or not any(out.iterdir()):
        return
    raise FileExistsError(
        f"--out {out} is not empty (an earlier report?); "
        "pass --force to overwrite its files, or choose another folder"
    )
