"""mlplab.fit's per-step overhead over a hand-inlined floor of its own NumPy calls.

Issue 19 asks ``mlplab.fit`` (every check kept) to reach 0.9× the plain NumPy reference
loop on ``tabular`` and ``moons``. This script shows where the time between the two goes,
in one process, each fit from the same initial weights and batch order (so all meet the
same subnormal momentum entries), the four loops alternating in order from round to round:

* ``chain``: ``mlplab.fit`` with the fused step off (``mlplab.train.fitstep.ENABLED =
  False``): every step through ``Trainer._step``'s general calls;
* ``fused``: ``mlplab.fit`` as it runs by default (:mod:`mlplab.train.fitstep`);
* ``floor``: mlplab's own NumPy calls of such a fit (the gather, the forward pass with
  its ReLU kernel, the binary head's kernel, the accuracy count into buffers, the
  backward pass, g·g and the momentum kernel in place), written out in one loop with
  nothing else: no Batch objects, no checks but g·g's, no callbacks, no state tuple;
* ``reference``: ``peers.run_numpy_reference`` (reference_ab.py's yardstick).

With ``--micro`` it also times, by ``timeit`` (minimum of 7 × 2000 calls), the per-step
pieces that the chain adds over the floor.

Usage: ``PYTHONPATH=src python benchmarks/fit_step_overhead.py [--workloads moons,tabular]
[--rounds 5] [--epochs N] [--micro] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
import reference_ab
import workloads

from mlplab.fast import heads as _fast_heads
from mlplab.train import fitstep
from mlplab.train.batches import permutation


def run_fit(wl: workloads.Workload, seed: int, fused: bool) -> tuple[float, float]:
    """``workloads.run_mlplab`` with the fused step on or off."""
    fitstep.ENABLED = fused
    try:
        return workloads.run_mlplab(wl, seed=seed)
    finally:
        fitstep.ENABLED = True


def run_floor(wl: workloads.Workload, seed: int = 0) -> tuple[float, float]:
    """mlplab's NumPy calls of a ReLU/binary/momentum fit, inlined (see the module),
    each with positional arguments (``out`` third), as the fused step binds them."""
    assert wl.output == "binary", "the floor is written for the binary head"
    net = workloads._mlplab_net(wl)
    opt_lr, beta = wl.lr / (1 - workloads.MOMENTUM), workloads.MOMENTUM
    t0 = time.perf_counter()
    X = net._prepare_X(wl.X)
    Y = net._prepare_y(wl.y, X.shape[0])
    theta, params = net._theta, net._params
    g = np.zeros_like(theta)
    grads = net._views(g)
    v, u = np.zeros_like(theta), np.empty_like(theta)
    head = _fast_heads.head_kernel(net.head)
    assert head is not None
    sizes, dt = net.layer_sizes, net.dtype
    L, n, B = len(params), X.shape[0], wl.batch_size

    def buffers(m: int) -> dict[str, Any]:
        return {
            "X": np.empty((m, sizes[0]), dt), "Y": np.empty((m, 1), dt),
            "Z": [np.empty((m, s), dt) for s in sizes[1:]],
            "M": [np.empty((m, s), dt) for s in sizes[1:-1]],
            "dZ": [np.empty((m, s), dt) for s in sizes[1:-1]],
            "ones": np.ones(m, dt), "dZL": np.empty((m, 1), dt),
            "T": [np.empty((m, 1), dt) for _ in range(2)],
            "hit": [np.empty((m, 1), bool) for _ in range(3)],
        }  # fmt: skip

    bufs = {m: buffers(m) for m in {B, n % B} - {0}}
    Y_true = Y == 1  # the count on booleans, as the fused step's
    rng = np.random.default_rng(seed)
    loss = 0.0
    for _ in range(wl.epochs):
        order = permutation(rng, n)
        total, correct = 0.0, 0.0
        for s in range(0, n, B):
            idx = order[s : s + B]
            m = idx.shape[0]
            bf = bufs[m]
            Xb, Yb, Zs, Ms = bf["X"], bf["Y"], bf["Z"], bf["M"]
            X.take(idx, 0, Xb, "clip")
            Y.take(idx, 0, Yb, "clip")
            A = Xb
            for l in range(L):
                W, b = params[l]
                Z = Zs[l]
                A.dot(W.T, Z)
                np.add(Z, b, Z)
                if l < L - 1:
                    np.greater(Z, 0, Ms[l])
                    np.multiply(Z, Ms[l], Z)
                A = Z
            J = head(A, Yb, bf["dZL"], *bf["T"])
            above, hit, y1 = bf["hit"]
            np.greater(A, 0, above)
            Y_true.take(idx, 0, y1, "clip")
            np.equal(above, y1, hit)
            correct += np.count_nonzero(hit)
            dZ = bf["dZL"]
            for l in range(L - 1, -1, -1):
                gW, gb = grads[l]
                (Zs[l - 1] if l else Xb).T.dot(dZ, gW.T)
                bf["ones"].dot(dZ, gb)
                if l:
                    dA, W = bf["dZ"][l - 1], params[l].W
                    if W.shape[0] == 1:
                        np.multiply(dZ, W, dA)
                    else:
                        dZ.dot(W, dA)
                    np.multiply(dA, Ms[l - 1], dA)
                    dZ = dA
            gg = float(g.dot(g))  # the divergence check mlplab keeps
            if not (math.isfinite(J) and math.isfinite(gg)):
                raise FloatingPointError("diverged")
            np.multiply(v, beta, v)  # the momentum kernel, in place
            np.multiply(g, 1 - beta, u)
            v += u
            np.multiply(v, -opt_lr, u)
            np.add(theta, u, theta)
            total += J * m
        loss = total / n
    return time.perf_counter() - t0, loss


def rounds(wl: workloads.Workload, n: int) -> dict[str, list[float]]:
    """``n`` rounds of the four loops, the order rotating; seconds per step."""
    run = {
        "chain": lambda w, s: run_fit(w, s, False),
        "fused": lambda w, s: run_fit(w, s, True),
        "floor": run_floor,
        "reference": peers.run_numpy_reference,
    }
    for f in run.values():  # warm-up
        f(wl, 0)
    steps = wl.steps_per_epoch * wl.epochs
    out: dict[str, list[float]] = {k: [] for k in run}
    names = list(run)
    for i in range(n):
        for name in names[i % 4 :] + names[: i % 4]:
            dt, _ = run[name](wl, i)
            out[name].append(dt / steps)
    return out


def micro(wl: workloads.Workload) -> list[tuple[str, float]]:
    """µs per call of the per-step pieces the chain adds over the floor."""
    import mlplab
    from mlplab.fast.workspace import workspace_for
    from mlplab.train.batches import Batch  # noqa: F401  (timed below, by name)

    net = workloads._mlplab_net(wl)
    X = net._prepare_X(wl.X)
    Y = net._prepare_y(wl.y, X.shape[0])
    B = wl.batch_size
    cache: dict[int, Any] = {}
    ws = workspace_for(cache, net, B)
    idx = permutation(np.random.default_rng(0), X.shape[0])[:B]
    ws.gather(X, Y, idx)
    Z, Yb = ws.Z[-1], ws.Yb
    above, hit, y1 = (np.empty(Z.shape, bool) for _ in range(3))
    Y_true = Y == 1
    opt = mlplab.optimizers.momentum(0.1)
    state = opt.init(net._theta)
    env = {**globals(), **locals()}
    pieces = {
        "Batch(order[s:s+B], B) (EpochPlan.split, per batch)": "Batch(idx[0:B], B)",
        "workspace_for (cached)": "workspace_for(cache, net, B)",
        "Workspace.gather": "ws.gather(X, Y, idx)",
        "two bare takes": "X.take(idx, axis=0, out=ws.Xb, mode='clip');"
        " Y.take(idx, axis=0, out=ws.Yb, mode='clip')",
        "accuracy count, temporaries (the chain)": "np.count_nonzero((Z > 0) == Yb) / 1",
        "accuracy count into buffers, on booleans (fused)": "np.greater(Z, 0, out=above);"
        " Y_true.take(idx, axis=0, out=y1, mode='clip');"
        " np.count_nonzero(np.equal(above, y1, out=hit)) / 1",
        "new state tuple": "type(state)(state.count + 1, *state[1:])",
        "two math.isfinite": "math.isfinite(0.5) and math.isfinite(0.25)",
    }
    out = []
    for name, stmt in pieces.items():
        t = min(timeit.repeat(stmt, globals=env, number=2000, repeat=7)) / 2000
        out.append((name, t * 1e6))
    return out


def _ratios(a: list[float], b: list[float]) -> str:
    """The median (min–max) of a ÷ b over the rounds (each round runs all four loops)."""
    r = [x / y for x, y in zip(a, b, strict=True)]
    return f"{statistics.median(r):.3f} ({min(r):.2f}–{max(r):.2f})"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="moons,tabular")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--micro", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    wls = reference_ab.make(args.workloads.split(","), args.epochs)
    env = reference_ab.environment()
    lines = [
        "# mlplab.fit's step against a floor of its own NumPy calls, one process",
        "",
        f"Command: `PYTHONPATH=src python benchmarks/fit_step_overhead.py {' '.join(argv)}`",
        "",
        *[f"* {k}: {v}" for k, v in env.items() if not k.startswith(("torch", "jax"))],
        "",
        f"{args.rounds} rounds, the order rotating; µs per step, median (min–max); the"
        " per-round ratios compare the loops of one round (seconds apart).",
        "",
        "| workload | chain | fused (default) | floor | reference | chain − floor |"
        " fused − floor | reference ÷ fused (medians) | per round: chain ÷ fused |"
        " per round: reference ÷ fused | per round: floor ÷ fused |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(xs: list[float]) -> str:
        return f"{statistics.median(xs) * 1e6:.1f} ({min(xs) * 1e6:.1f}–{max(xs) * 1e6:.1f})"

    for wl in wls:
        r = rounds(wl, args.rounds)
        med = {k: statistics.median(v) * 1e6 for k, v in r.items()}
        lines.append(
            f"| {wl.name} {wl.layer_sizes} b{wl.batch_size} | {cell(r['chain'])} |"
            f" {cell(r['fused'])} | {cell(r['floor'])} | {cell(r['reference'])} |"
            f" {med['chain'] - med['floor']:.1f} | {med['fused'] - med['floor']:.1f} |"
            f" {med['reference'] / med['fused']:.3f} | {_ratios(r['chain'], r['fused'])} |"
            f" {_ratios(r['reference'], r['fused'])} | {_ratios(r['floor'], r['fused'])} |"
        )
        print(f"  {wl.name} done", file=sys.stderr)
    if args.micro:
        lines += ["", f"Pieces, µs per call ({wls[0].name}'s buffers, timeit minimum):", ""]
        lines += [f"* {name}: {us:.2f}" for name, us in micro(wls[0])]
    text = "\n".join(lines)
    return reference_ab.emit(text, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
