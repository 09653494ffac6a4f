"""Run under mpiexec: what happens when one rank fails. Usage: faults.py MODE

raise     rank 1 raises RuntimeError in a callback at epoch 1: the job must abort.
kill      rank 1 kills itself with SIGKILL at epoch 1: the job must end.
mismatch  rank 1's shard has the wrong number of features: every rank gets the same
          DistributedError (printed as "rank R: caught ..."), and all exit normally.
epochs    rank 1 asks for other epochs than the rest: the same, naming the setting.
stop      only rank 1 asks to stop after epoch 1: every rank stops there
          (prints "rank R: epochs E").
cli       ``mlplab train --distributed`` where rank 1's third step raises: must abort.
"""

from __future__ import annotations

import os
import signal
import sys

import numpy as np
from mpi4py import MPI

import mlplab
from mlplab.train.mpi import DistributedError, shard
from mlplab.train.step import BatchGradient

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
mode = sys.argv[1]


class Fault(mlplab.Callback):
    def on_epoch_end(self, epoch, logs):
        if rank == 1 and epoch == 1:
            if mode == "raise":
                raise RuntimeError("injected fault on rank 1")
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "stop":
                self.trainer.stop_training = True


if mode == "cli":
    calls = {"n": 0}
    original = BatchGradient.__call__

    def failing_step(self, *args):
        calls["n"] += 1
        if rank == 1 and calls["n"] == 3:
            raise RuntimeError("injected fault on rank 1")
        return original(self, *args)

    BatchGradient.__call__ = failing_step
    from mlplab.cli import main

    sys.exit(
        main(
            [
                "train",
                "--distributed",
                "--dataset",
                "xor",
                "--layers",
                "4",
                "--epochs",
                "50",
                "--quiet",
                "--json",
            ]
        )
    )

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
y = (X[:, 0] > 0).astype(int)
Xk, yk = shard(comm, X, y)
if mode == "mismatch" and rank == 1:
    Xk = Xk[:, :2]
net = mlplab.Network([3, 4, 1], seed=0, dtype="float64")
epochs = 7 if mode == "epochs" and rank == 1 else 1000
try:
    hist = mlplab.fit(net, Xk, yk, epochs=epochs, batch_size=4, callbacks=[Fault()], comm=comm)
except DistributedError as exc:
    print(f"rank {rank}: caught {exc}", flush=True)
    sys.exit(0)
print(f"rank {rank}: epochs {len(hist.epoch)}", flush=True)
