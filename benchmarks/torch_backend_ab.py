"""Interleaved per-epoch times of the PyTorch backend against its peers (issue 19).

The bench's own runners (``workloads.run_torch``, ``peers.run_mlplab_torch``,
``workloads.run_mlplab``, JAX's ``lax.scan`` epoch in its child process) on the full-size
workloads, without the other columns of ``make bench``: one warm-up run each, then ROUNDS
rounds, every implementation once per round in a rotating order. Prints ms per epoch per
round, the medians, the minima, the per-round ratios pytorch / mlplab-torch and, the
issue's target, the best peer (the NumPy reference loop, PyTorch, JAX's epoch: the fastest
of those run) / mlplab-torch per round and as the ratio of medians.

Usage (under the bench lock on a shared machine)::

    PYTHONPATH=src python benchmarks/torch_backend_ab.py 3 mnist-shape,wide
"""

from __future__ import annotations

import os
import statistics
import sys

import peers
import workloads

IMPLS = ["pytorch", "mlplab-torch", "mlplab", "jax-scan", "numpy-reference"]
PEERS = ["numpy-reference", "pytorch", "jax-scan"]


def main() -> None:
    import torch

    torch.set_num_threads(2)
    peers.register()
    rounds, names = int(sys.argv[1]), sys.argv[2].split(",")
    impls = sys.argv[3].split(",") if len(sys.argv) > 3 else IMPLS
    for wl in [w for w in workloads.make_workloads(quick=False) if w.name in names]:
        res: dict[str, list[float]] = {k: [] for k in impls}
        for k in impls:
            workloads.IMPLEMENTATIONS[k](wl)  # warm-up (JAX: compilation)
        for r in range(rounds):
            for k in impls[r % len(impls) :] + impls[: r % len(impls)]:
                t, _ = workloads.IMPLEMENTATIONS[k](wl)
                res[k].append(1000 * t / wl.epochs)
            times = " ".join(f"{k}={res[k][-1]:.0f}" for k in impls)
            print(wl.name, r, times, "load", os.getloadavg()[0], flush=True)
        print(wl.name, "MEDIAN", " ".join(f"{k}={statistics.median(res[k]):.0f}" for k in impls))
        print(wl.name, "MIN", " ".join(f"{k}={min(res[k]):.0f}" for k in impls))
        ratios = [p / m for p, m in zip(res["pytorch"], res["mlplab-torch"], strict=True)]
        print(wl.name, "pytorch/mlplab-torch per round", " ".join(f"{x:.2f}" for x in ratios))
        _best_peer(wl.name, res)


def _best_peer(name: str, res: dict[str, list[float]]) -> None:
    """Best peer ÷ mlplab-torch per round and as the ratio of medians (> 1: mlplab faster)."""
    peers_run = [k for k in PEERS if k in res]
    if not peers_run or "mlplab-torch" not in res:
        return
    ours = res["mlplab-torch"]
    best = [min(res[k][r] for k in peers_run) for r in range(len(ours))]
    per_round = " ".join(f"{b / m:.2f}" for b, m in zip(best, ours, strict=True))
    medians = {k: statistics.median(res[k]) for k in peers_run}
    peer = min(medians, key=medians.__getitem__)
    ratio = medians[peer] / statistics.median(ours)
    print(name, "best peer/mlplab-torch per round", per_round)
    print(name, f"best peer by median: {peer}, ratio of medians {ratio:.2f}")


if __name__ == "__main__":
    main()
