"""Run under mpiexec: checkpoints of a data-parallel run, a crash, and a resume on other K.

Usage: checkpoints.py MODE CKPT_DIR [OUT.npz]

Case ``binary_adam_l2`` (45 rows, |B| = 8: 6 steps per epoch, 3 epochs) trained with
``mlplab.fit(..., comm=MPI.COMM_WORLD, checkpoint=..., checkpoint_every=5)`` and a
GradientNormLogger (a callback whose state the checkpoint holds).

crash   rank 1 raises at step 13: the job aborts. The newest checkpoint is the one of
        step 10 (epoch 1, mid-epoch). Only rank 0 is given CKPT_DIR; the other ranks are
        given CKPT_DIR.rank<r>, which must never be created (only rank 0 writes).
resume  resume from CKPT_DIR to the end (every rank restores the checkpoint rank 0
        reads); rank 0 writes the final θ of every rank, the History and the step at
        which the run resumed to OUT. Then resume once more with one value of the
        last rank's shard changed: every rank must raise the same DistributedError
        (printed as "rank R: caught ...").
"""

from __future__ import annotations

import os
import sys

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpi_cases import make_case

import mlplab
from mlplab.train.mpi import DistributedError, shard

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
mode, ckpt = sys.argv[1], sys.argv[2]
path = ckpt if rank == 0 else f"{ckpt}.rank{rank}"


class Crash(mlplab.Callback):
    def on_batch_end(self, batch, logs):
        if rank == 1 and self.trainer.step == 13:
            raise RuntimeError("injected crash on rank 1")


class ResumedAt(mlplab.Callback):
    def on_train_begin(self, logs):
        self.step = None

    def on_batch_end(self, batch, logs):
        if self.step is None:
            self.step = self.trainer.step - 1  # the step count when the loop started


net, X, y, kw = make_case("binary_adam_l2")
Xk, yk = shard(comm, X, y)
common = {"checkpoint": path, "checkpoint_every": 5, "comm": comm, **kw}
if mode == "crash":
    mlplab.fit(net, Xk, yk, callbacks=[mlplab.GradientNormLogger(), Crash()], **common)
    sys.exit("not reached: the crash must abort the job")

at = ResumedAt()
hist = mlplab.fit(net, Xk, yk, callbacks=[mlplab.GradientNormLogger(), at], resume=True, **common)
thetas = comm.gather(net.get_flat_params(), root=0)
if rank == 0:
    out = {f"history/{k}": np.asarray(v) for k, v in hist.history.items()}
    np.savez(sys.argv[3], all_ranks=np.stack(thetas), resumed_at=at.step, **out)
comm.Barrier()

if rank == size - 1:
    Xk = Xk.copy()
    Xk[-1, 0] += 1e-9  # one value of the data changed
try:
    net, _, _, _ = make_case("binary_adam_l2")
    mlplab.fit(net, Xk, yk, callbacks=[mlplab.GradientNormLogger()], resume=True, **common)
except DistributedError as exc:
    print(f"rank {rank}: caught {exc}", flush=True)
