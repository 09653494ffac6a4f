"""Interleaved per-epoch times of the PyTorch backend against its peers (issue 19).

The bench's own runners (``workloads.run_torch``, ``peers.run_mlplab_torch``,
``workloads.run_mlplab``, JAX's ``lax.scan`` epoch in its child process) on the full-size
workloads, without the other columns of ``make bench``: one warm-up run each, then ROUNDS
rounds, every implementation once per round in a rotating order. Prints ms per epoch per
round, the medians, the minima and the per-round ratios pytorch / mlplab-torch.

Usage (under the bench lock on a shared machine)::

    PYTHONPATH=src python benchmarks/torch_backend_ab.py 3 mnist-shape,wide
"""

from __future__ import annotations

import os
import statistics
import sys

import peers
import workloads

IMPLS = ["pytorch", "mlplab-torch", "mlplab", "jax-scan"]


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


if __name__ == "__main__":
    main()
