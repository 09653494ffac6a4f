"""Fit time of mlplab's drop-in MLPClassifier against scikit-learn's, same settings (issue 15).

Digits (1797 × 64, 10 classes, pixel values 0-16 as loaded), ``hidden_layer_sizes=(100,)``,
``solver="adam"``, ``max_iter=200``, ``tol=0``, ``random_state=0``: both libraries run the
same 200 epochs of the same mini-batches and steps (the fits are checked equal first).
Five fits, timed with ``time.perf_counter`` around ``fit``, interleaved round by round —
scikit-learn, mlplab float64, mlplab ``dtype="float32"``, scikit-learn on float32 X,
mlplab on float32 X, then again in a rotated order — after the same idle pause, so that
the load of this shared machine hits all of them alike. Reported: the median fit time,
its min-max, and the ratio of scikit-learn's float64 median to each (×2: half the time).

    python benchmarks/sklearn_dropin.py [--rounds 5] [--max-iter 200] [--out FILE]

Targets of the issue: ≥ 2× in float64, ≥ 3× with ``dtype="float32"``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # environment() and wait_for_quiet(), shared with make bench

TARGETS = {"mlplab float64": 2.0, 'mlplab dtype="float32"': 3.0}


def _implementations(X: np.ndarray, y: np.ndarray, max_iter: int) -> dict:
    from sklearn import neural_network as sk

    from mlplab import sklearn as ml

    params = dict(hidden_layer_sizes=(100,), solver="adam", max_iter=max_iter, tol=0.0)
    params["random_state"] = 0
    X32 = X.astype(np.float32)
    return {
        "scikit-learn float64": lambda: sk.MLPClassifier(**params).fit(X, y),
        "mlplab float64": lambda: ml.MLPClassifier(**params).fit(X, y),
        'mlplab dtype="float32"': lambda: ml.MLPClassifier(dtype="float32", **params).fit(X, y),
        "scikit-learn float32 X": lambda: sk.MLPClassifier(**params).fit(X32, y),
        "mlplab float32 X": lambda: ml.MLPClassifier(**params).fit(X32, y),
    }


def _check_same(fits: dict, X: np.ndarray) -> str:
    """The two float64 fits are the same model (else the timing compares different work)."""
    a, b = fits["scikit-learn float64"], fits["mlplab float64"]
    assert a.n_iter_ == b.n_iter_, (a.n_iter_, b.n_iter_)
    diff = float(np.abs(a.predict_proba(X) - b.predict_proba(X)).max())
    assert diff < 1e-6, diff
    assert (a.predict(X) == b.predict(X)).all()
    return f"n_iter_ {a.n_iter_} both, max |Δ predict_proba| {diff:.1e}, same labels"


def run(rounds: int, max_iter: int, pause: float) -> tuple[dict, str]:
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_digits(return_X_y=True)
    impls = _implementations(X, y, max_iter)
    names = list(impls)
    times: dict[str, list[float]] = {n: [] for n in names}
    warnings.simplefilter("ignore", ConvergenceWarning)
    fits = {n: impls[n]() for n in names}  # warm-up, and the check
    same = _check_same(fits, X)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            bench.wait_for_quiet(30.0)
            time.sleep(pause)
            t0 = time.perf_counter()
            impls[name]()
            times[name].append(time.perf_counter() - t0)
        print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in names))
    return times, same


def run_workloads(rounds: int, pause: float, quick: bool) -> list[str]:
    """The four workloads of ``make bench`` (benchmarks/workloads.py) through both
    estimators with the same settings: sgd, momentum 0.9 without Nesterov, their batch
    size, epochs and learning rate, ``tol=0``; X as the workload holds it (float32 except
    tabular), so both train in X's precision. Median of ``rounds`` interleaved fits."""
    import workloads
    from sklearn import neural_network as sk
    from sklearn.exceptions import ConvergenceWarning

    from mlplab import sklearn as ml

    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = [
        "| workload | X | scikit-learn (s) | mlplab (s) | scikit-learn / mlplab |",
        "|---|---|---|---|---|",
    ]
    for wl in workloads.make_workloads(quick=quick):
        params = dict(hidden_layer_sizes=tuple(wl.layer_sizes[1:-1]), solver="sgd", alpha=0.0)
        params.update(batch_size=wl.batch_size, learning_rate_init=wl.lr, momentum=0.9)
        params.update(nesterovs_momentum=False, max_iter=wl.epochs, tol=0.0, random_state=0)
        params.update(n_iter_no_change=wl.epochs + 1)
        fits = {"scikit-learn": sk.MLPClassifier, "mlplab": ml.MLPClassifier}
        times: dict[str, list[float]] = {k: [] for k in fits}
        for r in range(rounds):
            for name in list(fits)[r % 2 :] + list(fits)[: r % 2]:
                bench.wait_for_quiet(30.0)
                time.sleep(pause)
                t0 = time.perf_counter()
                fits[name](**params).fit(wl.X, wl.y)
                times[name].append(time.perf_counter() - t0)
        a, b = (statistics.median(times[k]) for k in fits)
        what = f"{wl.name} ({wl.description})"
        rows.append(f"| {what} | {wl.X.dtype} | {a:.2f} | {b:.2f} | ×{a / b:.2f} |")
        print(rows[-1], flush=True)
    return rows


def report(times: dict, same: str, env: dict, command: str, rounds: int, max_iter: int) -> str:
    base = statistics.median(times["scikit-learn float64"])
    lines = [
        "# mlplab's drop-in MLPClassifier against scikit-learn's: fit time (issue 15)",
        "",
        f"Digits (1797 × 64), `hidden_layer_sizes=(100,)`, adam, `max_iter={max_iter}`, "
        f"`tol=0`, `random_state=0`; {rounds} interleaved rounds (see the script's docstring).",
        f"Check before timing: {same}.",
        "",
        "| implementation | median fit (s) | min-max (s) | scikit-learn float64 / this | target |",
        "|---|---|---|---|---|",
    ]
    for name, ts in times.items():
        med = statistics.median(ts)
        target = TARGETS.get(name)
        lines.append(
            f"| {name} | {med:.3f} | {min(ts):.3f}-{max(ts):.3f} | ×{base / med:.2f} | "
            f"{f'≥ ×{target:g}' if target else ''} |"
        )
    lines += ["", "Environment:", ""]
    lines += [f"- {k}: {v}" for k, v in env.items() if k != "torch"]
    lines += ["", f"Command: `{command}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--pause", type=float, default=2.0, help="idle seconds before each fit")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--workloads", choices=["none", "quick", "full"], default="none",
                    help="also the four workloads of make bench (quick: smaller data)")  # fmt: skip
    args = ap.parse_args(argv)
    env = bench.environment()
    times, same = run(args.rounds, args.max_iter, args.pause)
    command = "python benchmarks/sklearn_dropin.py " + " ".join(argv or sys.argv[1:])
    text = report(times, same, env, command.strip(), args.rounds, args.max_iter)
    if args.workloads != "none":
        rows = run_workloads(args.rounds, args.pause, args.workloads == "quick")
        text += "\n## The four workloads of `make bench`, same settings in both\n\n"
        text += "\n".join(rows) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
