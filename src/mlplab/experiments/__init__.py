r"""The lecture's claims, reproduced: ten experiments with numbers, figures and a report.

Each function runs one experiment and returns an :class:`ExperimentResult` whose
``numbers`` hold everything measured (``result["max_abs_diff"]`` is
``result.numbers["max_abs_diff"]``) and whose ``claims`` say which of the notes' claims
the numbers support::

    import mlplab.experiments as ex
    r = ex.logistic()                 # one experiment, nothing written
    r.claims[1].holds, r["max_abs_diff"]
    r.save("out/")                    # out/logistic.png, .md, .json
    ex.run(["depth", "init"], out="report/", quick=True)  # + report.md, report.html

=============  ================================================================
logistic       logistic regression = a one-neuron network, vs scikit-learn
backprop       the gradient check for every activation × output head
activations    sigmoid vs tanh vs ReLU: learning curves, saturation, dead units
depth          ŷ = 1.5^L x and 0.5^L x; activation scale with and without the rules
init           zeros / large / Xavier / He / Glorot on the circles data
normalize      raw vs normalized inputs: epochs to a target cost, largest stable α
optimizers     batch GD, mini-batch GD, momentum, Adam on the moons data
dropout        the next lecture: dropout narrows the train–test gap
batchnorm      batch norm trains deep sigmoid / badly initialized networks
lr_decay       learning-rate schedules against a constant α on noisy mini-batches
=============  ================================================================

``quick=True`` uses small sizes (all ten in well under a minute); every claim is checked
on those sizes by the test suite. Importing this package is cheap: NumPy only;
scikit-learn and matplotlib are imported when an experiment runs or draws.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from mlplab.experiments._activations import activations
from mlplab.experiments._backprop import backprop
from mlplab.experiments._batchnorm import batchnorm
from mlplab.experiments._common import DPI, Claim, ExperimentResult, Table, timer
from mlplab.experiments._depth import depth
from mlplab.experiments._dropout import dropout
from mlplab.experiments._init import init
from mlplab.experiments._logistic import logistic
from mlplab.experiments._lr_decay import lr_decay
from mlplab.experiments._normalize import normalize
from mlplab.experiments._optimizers import optimizers

EXPERIMENTS: dict[str, Callable[..., ExperimentResult]] = {
    "logistic": logistic,
    "backprop": backprop,
    "activations": activations,
    "depth": depth,
    "init": init,
    "normalize": normalize,
    "optimizers": optimizers,
    "dropout": dropout,
    "batchnorm": batchnorm,
    "lr_decay": lr_decay,
}
"""Every experiment by name, in the report's order."""


def check_names(names: Iterable[str] | None) -> list[str]:
    """Validate experiment names (None or empty: all), dropping repeats, in the given order.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    if names is None:
        return list(EXPERIMENTS)
    if isinstance(names, str):
        names = [names]
    chosen: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"experiment names must be strings, got {name!r}")
        key = name.strip().lower()
        if key not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
        if key not in chosen:
            chosen.append(key)
    return chosen or list(EXPERIMENTS)


def run(
    names: Iterable[str] | None = None,
    out: str | Path | None = None,
    *,
    quick: bool = False,
    seed: int = 0,
    dpi: int = DPI,
    log: Callable[[str], None] | None = None,
) -> dict[str, ExperimentResult]:
    """Run experiments by name; with ``out``, write their files and the report.

    Parameters
    ----------
    names : list of str, optional
        Experiments to run (default: all ten, in the report's order).
    out : path, optional
        Folder for ``<name>.png``, ``<name>.md``, ``<name>.json``, ``report.md`` and
        ``report.html`` (created if missing). None writes nothing.
    quick : bool, default=False
        Small sizes.
    seed : int, default=0
    dpi : int, default=90
        Resolution of the PNG figures.
    log : callable, optional
        Called with one line of progress per experiment.

    Returns
    -------
    dict
        name → ExperimentResult.
    """
    chosen = check_names(names)
    _check_run_options(seed, dpi)
    out_dir = _output_folder(out)
    elapsed = timer()
    results: dict[str, ExperimentResult] = {}
    for i, name in enumerate(chosen, 1):
        results[name] = _run_one(
            name, f"[{i}/{len(chosen)}]", out_dir, quick=quick, seed=seed, dpi=dpi, log=log
        )
    if out_dir is not None:
        from mlplab.experiments._report import write_report

        write_report(
            list(results.values()),
            out_dir,
            names=chosen,
            all_names=list(EXPERIMENTS),
            quick=quick,
            seed=seed,
            seconds=elapsed(),
        )
    return results


def _check_run_options(seed: int, dpi: int) -> None:
    """``seed`` an integer >= 0, ``dpi`` an integer in [20, 600] (bools refused)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 20 <= dpi <= 600:
        raise ValueError(f"dpi must be an integer between 20 and 600, got {dpi!r}")


def _output_folder(out: str | Path | None) -> Path | None:
    """``out`` as a Path, created if missing (None: nothing is written)."""
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise NotADirectoryError(f"--out {out_dir} exists and is not a folder")
        out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _run_one(
    name: str,
    counter: str,
    out_dir: Path | None,
    *,
    quick: bool,
    seed: int,
    dpi: int,
    log: Callable[[str], None] | None,
) -> ExperimentResult:
    """Run one experiment, save its files into ``out_dir`` and log one line of progress."""
    t = timer()
    result = EXPERIMENTS[name](quick=quick, seed=seed)
    if out_dir is not None:
        result.save(out_dir, dpi=dpi)
    if log is not None:
        held = sum(c.holds for c in result.claims)
        log(f"{counter} {name}: {held} of {len(result.claims)} claims hold ({t():.1f} s)")
    return result


__all__ = [
    "EXPERIMENTS",
    "Claim",
    "ExperimentResult",
    "Table",
    "activations",
    "backprop",
    "batchnorm",
    "check_names",
    "depth",
    "dropout",
    "init",
    "logistic",
    "lr_decay",
    "normalize",
    "optimizers",
    "run",
]
