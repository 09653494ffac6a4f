"""Benchmark data-parallel training over MPI: step time, scaling efficiency, bytes per step.

Strong scaling: the global mini-batch |B| is fixed, so K ranks each backpropagate about
|B|/K rows per step and then all-reduce one buffer of (#params + 2) numbers. The
speed-up is t(1)/t(K) and the efficiency t(1)/(K·t(K)); 1.0 is perfect.

Usage (from the repository root, with the ``mpi`` extra installed)::

    python benchmarks/distributed.py                  # K = 1, 2; the GEMM-bound net and a tiny one
    python benchmarks/distributed.py --ranks 1 2 4 8 --nets gemm --json

Each K is one ``mpiexec -n K`` launch of this file with ``--worker``; every rank uses
one BLAS thread (OPENBLAS/OMP/MKL_NUM_THREADS=1), so K ranks use K cores and K = 1 is
one core. Numbers on a machine with fewer free cores than K are meaningless.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

NETS = {
    # ~1.3 M parameters, |B| = 512: each step is ~4 GFLOP of GEMMs (6 · params · |B|)
    "gemm": {"layers": [256, 1024, 1024, 10], "batch": 512, "steps": 24},
    # the CLI's default network: a step is microseconds of compute, so latency dominates
    "tiny": {"layers": [30, 16, 8, 1], "batch": 32, "steps": 400},
}


def worker(name: str, repeats: int) -> None:
    """Runs on every rank: time ``steps`` optimizer steps, rank 0 prints one JSON line."""
    import numpy as np
    from mpi4py import MPI

    # The old documented path (an alias in the layered package): benchmarks/compare.py
    # --distributed runs this file against the trees before and after the package move.
    import mlplab
    from mlplab.distributed import DistributedTrainer, shard

    comm = MPI.COMM_WORLD
    cfg = NETS[name]
    layers, batch, steps = cfg["layers"], cfg["batch"], cfg["steps"]
    n = batch * steps  # one epoch = `steps` steps
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, layers[0])).astype(np.float32)
    head = "multiclass" if layers[-1] > 1 else "binary"
    y = rng.integers(0, max(layers[-1], 2), size=n)
    Xk, yk = shard(comm, X, y)
    net = mlplab.Network(layers, output=head, seed=0)
    trainer = DistributedTrainer(net, mlplab.optimizers.sgd(0.01), seed=0, comm=comm)
    # The all-reduce counters: the trainer's own before the move, its MPI strategy's after.
    counters = getattr(trainer, "strategy", trainer)
    trainer.fit(Xk, yk, epochs=1, batch_size=batch)  # warm-up: caches, first allocations
    best = None
    for _ in range(repeats):
        counters.comm_seconds = 0.0
        comm.Barrier()
        t0 = time.perf_counter()
        trainer.fit(Xk, yk, epochs=1, batch_size=batch)
        wall = time.perf_counter() - t0
        # the slowest rank sets the pace; its all-reduce time includes waiting for others
        wall = comm.allreduce(wall, op=MPI.MAX)
        comm_s = comm.allreduce(counters.comm_seconds, op=MPI.MAX)
        if best is None or wall < best[0]:
            best = (wall, comm_s)
    if comm.rank == 0:
        wall, comm_s = best
        print(
            json.dumps(
                {
                    "net": name,
                    "layers": layers,
                    "params": net.n_params,
                    "batch": batch,
                    "ranks": comm.size,
                    "step_ms": 1e3 * wall / steps,
                    "allreduce_ms": 1e3 * comm_s / steps,
                    "buffer_bytes": counters.bytes_per_step,
                    "mlplab": mlplab.__file__,  # which tree ran
                }
            ),
            flush=True,
        )


def _mpiexec() -> str:
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else "mpiexec"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    p.add_argument("--repeats", type=int, default=3, help="timed epochs; the best is kept")
    p.add_argument(
        "--threaded-baseline",
        action="store_true",
        help="add a row: 1 rank with max(--ranks) BLAS threads (threads instead of ranks)",
    )
    p.add_argument("--json", action="store_true", help="also print the raw JSON records")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.repeats)
        return
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    print(f"# {os.cpu_count()} CPUs; one BLAS thread per rank; best of {args.repeats} epochs")
    print("# K = ranks; '1×2t' = one rank with 2 BLAS threads; efficiency = speed-up / cores")
    print(
        f"{'net':<5} {'K':>5} {'params':>9} {'|B|':>4} {'step ms':>8} {'allreduce ms':>12} "
        f"{'speed-up':>8} {'efficiency':>10} {'buffer bytes':>12} {'sent/rank/step':>14}"
    )
    runs = [(k, 1) for k in args.ranks]
    if args.threaded_baseline:
        runs.append((1, max(args.ranks)))
    for name in args.nets:
        base = None
        for k, threads in runs:
            cmd = [_mpiexec(), "--oversubscribe", "-n", str(k), sys.executable, __file__]
            cmd += ["--worker", name, "--repeats", str(args.repeats)]
            t = str(threads)
            run_env = dict(env, OPENBLAS_NUM_THREADS=t, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t)
            if threads > 1:  # let the one rank's BLAS threads use more than one core
                cmd[2:2] = ["--bind-to", "none"]
            out = subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=600)
            if out.returncode != 0:
                sys.exit(f"mpiexec -n {k} failed:\n{out.stderr}")
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            if k == 1 and threads == 1:
                base = rec["step_ms"]
            speedup = base / rec["step_ms"] if base is not None else float("nan")
            # a ring all-reduce sends 2(K−1)/K of the buffer from each rank
            sent = int(2 * (k - 1) / k * rec["buffer_bytes"])
            label = f"{k}" if threads == 1 else f"1×{threads}t"
            print(
                f"{name:<5} {label:>5} {rec['params']:>9} {rec['batch']:>4} {rec['step_ms']:>8.2f} "
                f"{rec['allreduce_ms']:>12.3f} {speedup:>8.2f} {speedup / max(k, threads):>10.2f} "
                f"{rec['buffer_bytes']:>12} {sent:>14}"
            )
            if args.json:
                print(json.dumps(rec))


if __name__ == "__main__":
    main()
