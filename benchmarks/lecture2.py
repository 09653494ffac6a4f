"""The next lecture's workloads: mnist-shape with dropout and with batch norm, mlplab vs PyTorch.

Usage (from the repository root)::

    python benchmarks/lecture2.py [--quick] [--rounds N] [--out FILE.md]

Three variants of bench.py's mnist-shape workload ([784, 256, 128, 10] ReLU, mini-batches
of 128, SGD with momentum 0.9, float32, the same data and initial weights):

* ``plain``: the workload as bench.py runs it (the yardstick for the two others);
* ``dropout``: inverted dropout on both hidden layers, keep probability 0.8
  (PyTorch: ``nn.Dropout(0.2)`` after each ReLU);
* ``batch-norm``: batch normalization of both hidden layers' z, before the ReLU
  (PyTorch: ``nn.BatchNorm1d`` between ``Linear`` and ``ReLU``; momentum 0.1 = 1 − β).

Each (variant, implementation) runs ``--rounds`` times, interleaved, after one warm-up epoch;
the report gives the median seconds per epoch, mlplab / PyTorch (< 1: mlplab faster), and
each variant's cost over plain's in the same implementation. PyTorch gets 2 threads, as in
bench.py; the final losses show that both did comparable work (the dropout masks differ).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench
import workloads

import mlplab
from mlplab.core import optimizers as _opt

VARIANTS = {
    "plain": {},
    "dropout": {"keep_prob": 0.8},
    "batch-norm": {"batch_norm": True},
}
MOMENTUM = workloads.MOMENTUM


def _workload(quick: bool) -> workloads.Workload:
    return next(w for w in workloads.make_workloads(quick) if w.name == "mnist-shape")


def run_mlplab(
    wl: workloads.Workload, options: dict[str, Any], seed: int = 0
) -> tuple[float, float]:
    net = mlplab.Network(wl.layer_sizes, hidden="relu", output=wl.output, seed=0, **options)
    net.params = wl.init
    opt = _opt.momentum(lr=wl.lr / (1 - MOMENTUM), beta=MOMENTUM)
    t0 = time.perf_counter()
    hist = mlplab.fit(
        net, wl.X, wl.y, optimizer=opt, epochs=wl.epochs, batch_size=wl.batch_size, seed=seed
    )
    return (time.perf_counter() - t0) / wl.epochs, hist.history["loss"][-1]


def run_torch(
    wl: workloads.Workload, options: dict[str, Any], seed: int = 0
) -> tuple[float, float]:
    import torch
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(seed)
    layers: list[Any] = []
    for l, (W, b) in enumerate(wl.init):
        lin = nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if l < len(wl.init) - 1:
            if options.get("batch_norm"):
                layers.append(nn.BatchNorm1d(W.shape[0], momentum=0.1))
            layers.append(nn.ReLU())
            if "keep_prob" in options:
                layers.append(nn.Dropout(1 - options["keep_prob"]))
    model = nn.Sequential(*layers)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=wl.lr, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    Xt, Yt = torch.from_numpy(wl.X), torch.from_numpy(wl.y)
    gen = torch.Generator().manual_seed(seed)
    n, bs = wl.n_samples, wl.batch_size
    t0 = time.perf_counter()
    loss = 0.0
    for _ in range(wl.epochs):
        total = 0.0
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, bs):
            idx = perm[s : s + bs]
            opt.zero_grad()
            J = loss_fn(model(Xt[idx]), Yt[idx])
            J.backward()
            opt.step()
            total += J.item() * len(idx)
        loss = total / n
    return (time.perf_counter() - t0) / wl.epochs, loss


IMPLS = {"mlplab": run_mlplab, "pytorch": run_torch}


def measure(
    quick: bool, rounds: int, max_wait: float = 20.0, pause: float = 2.0
) -> dict[str, dict[str, list[tuple[float, float]]]]:
    wl = _workload(quick)
    warm = workloads.Workload(**{**wl.__dict__, "epochs": 1})
    warm.X, warm.y = wl.X[: 8 * wl.batch_size], wl.y[: 8 * wl.batch_size]
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for variant, options in VARIANTS.items():
        out[variant] = {}
        for impl, fn in IMPLS.items():
            fn(warm, options)
            out[variant][impl] = []
    for r in range(rounds):
        for variant, options in VARIANTS.items():
            bench.wait_for_quiet(max_wait)  # a shared machine: wait for the others to idle
            order = list(IMPLS) if r % 2 == 0 else list(IMPLS)[::-1]
            for impl in order:
                time.sleep(pause)  # every run starts from the same idle state (bench.py)
                out[variant][impl].append(IMPLS[impl](wl, options, seed=r))
    return out


def report(res: dict[str, dict[str, list[tuple[float, float]]]], quick: bool, rounds: int) -> str:
    import platform

    import torch

    med = {
        v: {i: statistics.median(t for t, _ in runs) for i, runs in d.items()}
        for v, d in res.items()
    }
    lines = [
        "# mnist-shape with dropout and batch norm: mlplab vs PyTorch",
        "",
        f"`python benchmarks/lecture2.py{' --quick' if quick else ''} --rounds {rounds}` — "
        f"{platform.processor() or platform.machine()}, NumPy {np.__version__}, "
        f"PyTorch {torch.__version__} (2 threads), mlplab {mlplab.__version__}.",
        "",
        "| variant | mlplab ms/epoch | PyTorch ms/epoch | mlplab / PyTorch | mlplab vs plain "
        "| PyTorch vs plain | final loss mlplab / PyTorch |",
        "|---|---|---|---|---|---|---|",
    ]
    for v, d in res.items():
        m, t = med[v]["mlplab"], med[v]["pytorch"]
        lm = statistics.median(loss for _, loss in d["mlplab"])
        lt = statistics.median(loss for _, loss in d["pytorch"])
        lines.append(
            f"| {v} | {1e3 * m:.1f} | {1e3 * t:.1f} | {m / t:.2f} | "
            f"{m / med['plain']['mlplab']:.2f} | {t / med['plain']['pytorch']:.2f} | "
            f"{lm:.4f} / {lt:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="6000 rows, 1 epoch")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--max-wait", type=float, default=20.0, help="wait for quiet (s)")
    ap.add_argument("--pause", type=float, default=2.0, help="idle seconds before a run")
    args = ap.parse_args(argv)
    res = measure(args.quick, args.rounds, args.max_wait, args.pause)
    text = report(res, args.quick, args.rounds)
    print(text)
    if args.out is not None:
        args.out.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
