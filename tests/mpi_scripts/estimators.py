"""Run under mpiexec: the scikit-learn estimators fitted data-parallel, fit(..., comm=...).

Usage: mpiexec -n K python estimators.py OUT.npz

Every rank fits on its contiguous shard of the data of ``estimator_case`` (labels sorted,
so with K = 3 rank 0 sees one class only). Rank 0 writes the fitted attributes to OUT
(θ of every rank, classes_, the Standardizer, loss_curve_, n_iter_, t_). Then every rank
tries an unsupported option (sample_weight) and prints "rank R: caught ...".
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpi_cases import estimator_case

from mlplab.train.mpi import DistributedError, shard

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
out: dict[str, np.ndarray] = {}
for name in ("classifier", "regressor"):
    est, X, y = estimator_case(name)
    Xk, yk = shard(comm, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a few epochs only
        est.fit(Xk, yk, comm=comm)
    thetas = comm.gather(est.network_.get_flat_params(), root=0)
    if rank == 0:
        out[f"{name}/all_ranks"] = np.stack(thetas)
        out[f"{name}/mean"] = est.network_.standardizer.mean_
        out[f"{name}/scale"] = est.network_.standardizer.scale_
        out[f"{name}/loss_curve"] = np.asarray(est.loss_curve_)
        out[f"{name}/counts"] = np.array([est.n_iter_, est.t_])
        if name == "classifier":
            out["classifier/classes"] = est.classes_
            out["classifier/predict"] = est.predict(X)
# a warm-started second fit (rank 0's shard holds one class only) and multi-label targets
est, X, y = estimator_case("classifier")
Y = np.c_[y == "ant", y != "cat"].astype(int)
Xk, yk = shard(comm, X, y)
_, Yk = shard(comm, X, Y)
labels, _, _ = estimator_case("classifier")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    est.set_params(warm_start=True)
    est.fit(Xk, yk, comm=comm)
    est.fit(Xk, yk, comm=comm)
    labels.fit(Xk, Yk, comm=comm)
if rank == 0:
    out["classifier/warm"] = est.network_.get_flat_params()
    out["multilabel"] = labels.network_.get_flat_params()
    np.savez(sys.argv[1], **out)

est, X, y = estimator_case("classifier")
Xk, yk = shard(comm, X, y)
try:
    est.fit(Xk, yk, sample_weight=np.ones(len(yk)), comm=comm)
except DistributedError as exc:
    print(f"rank {rank}: caught {exc}", flush=True)
