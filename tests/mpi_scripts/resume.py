"""Run under mpiexec: train part of a run, save its state, resume it on another K.

Usage: resume.py STATE.npz EPOCHS [OUT.npz]

Trains case ``binary_adam_l2`` for EPOCHS epochs with a DistributedTrainer. If STATE
exists, rank 0 (only) first restores θ, the Adam state, the step/epoch counters and
the shuffling RNG from it; the trainer broadcasts them to every rank. Afterwards rank
0 writes the new state to STATE, and the final θ to OUT if given.

(This saves the trainer's state by hand, to test the broadcast at the start of fit;
checkpoints.py tests mlplab's checkpoint files under MPI.)
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpi_cases import make_case

from mlplab.core.optimizers import AdamState
from mlplab.train.mpi import DistributedTrainer, shard

comm = MPI.COMM_WORLD
state_path, epochs = sys.argv[1], int(sys.argv[2])
net, X, y, kw = make_case("binary_adam_l2")
trainer = DistributedTrainer(net, kw["optimizer"], seed=kw["seed"], comm=comm)
if comm.rank == 0 and os.path.exists(state_path):
    with np.load(state_path) as f:
        net.set_flat_params(f["theta"])
        trainer.opt_state = AdamState(int(f["count"]), f["v"].copy(), f["s"].copy())
        trainer.step, trainer.epoch = int(f["step"]), int(f["epoch"])
        trainer.rng.bit_generator.state = json.loads(str(f["rng"]))
elif comm.rank != 0:
    # Ranks other than 0 start from a *different* network: the broadcast must fix it.
    net.set_flat_params(net.get_flat_params() + 1.0)
Xk, yk = shard(comm, X, y)
trainer.fit(Xk, yk, epochs=epochs, batch_size=kw["batch_size"])
thetas = comm.gather(net.get_flat_params(), root=0)
if comm.rank == 0:
    assert all(np.array_equal(t, thetas[0]) for t in thetas), "ranks disagree on θ"
    s = trainer.opt_state
    np.savez(
        state_path,
        theta=net.get_flat_params(),
        count=s.count,
        v=s.v,
        s=s.s,
        step=trainer.step,
        epoch=trainer.epoch,
        rng=json.dumps(trainer.rng.bit_generator.state),
    )
    if len(sys.argv) > 3:
        np.savez(sys.argv[3], theta=net.get_flat_params(), epoch=trainer.epoch)
