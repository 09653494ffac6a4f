"""Run under mpiexec: train several small networks data-parallel, rank 0 saves the results.

Usage: mpiexec -n K python exactness.py OUT.npz

Each case is trained with ``mlplab.fit(..., comm=MPI.COMM_WORLD)`` on this rank's
contiguous shard of the data. Rank 0 writes every case's final θ, loss history and
the θ of every rank (to check that all ranks hold identical parameters), and the
standardizer ``fit_standardizer`` computes from the shards of the first case's X.
"""

from __future__ import annotations

import sys

import numpy as np
from mpi4py import MPI

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from mpi_cases import CASES, make_case

import mlplab
from mlplab.train.mpi import MPI as MPI_
from mlplab.train.mpi import fit_standardizer, shard

comm = MPI.COMM_WORLD
out: dict[str, np.ndarray] = {}
for name in CASES:
    net, X, y, kw = make_case(name)
    Xk, yk = shard(comm, X, y)
    hist = mlplab.fit(net, Xk, yk, comm=comm, **kw)
    thetas = comm.gather(net.get_flat_params(), root=0)
    if comm.rank == 0:
        out[f"{name}/theta"] = thetas[0]
        out[f"{name}/all_ranks"] = np.stack(thetas)
        out[f"{name}/loss"] = np.asarray(hist.history["loss"])
        if net._bn_stats.size:  # batch norm's running averages of the global batches
            out[f"{name}/bn_stats"] = net._bn_stats
        if "accuracy" in hist.history:
            out[f"{name}/accuracy"] = np.asarray(hist.history["accuracy"])
# restore_best="loss" (θ at the start of the epoch with the lowest J) over MPI
net, X, y, kw = make_case("binary_adam_l2")
Xk, yk = shard(comm, X, y)
mlplab.fit(net, Xk, yk, comm=comm, restore_best="loss", **{**kw, "epochs": 4})
if comm.rank == 0:
    out["restore_best/theta"] = net.get_flat_params()
# MPI ranks train on the fast path: the trainer's batch gradient fills its Workspaces
net, X, y, kw = make_case("binary_adam_l2")
Xk, yk = shard(comm, X, y)
trainer = mlplab.Trainer(net, kw["optimizer"], seed=kw["seed"], strategy=MPI_(comm))
trainer.fit(Xk, yk, epochs=1, batch_size=kw["batch_size"])
sizes = comm.gather(sorted(trainer.gradient.workspaces), root=0)
if comm.rank == 0:
    out["fast_path/workspace_sizes"] = np.array([len(s) for s in sizes])
# the global μ and σ from the shards alone
net, X, y, kw = make_case(CASES[0])
std = fit_standardizer(shard(comm, X)[0], comm)
if comm.rank == 0:
    out["standardizer/mean"], out["standardizer/scale"] = std.mean_, std.scale_
    np.savez(sys.argv[1], **out)
