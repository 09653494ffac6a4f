"""Run under mpiexec: the split and the epochs' batches drawn on rank 0 alone
(mlplab.persist.csvsplit, mlplab.train.rootorder), against every rank drawing them.

Usage: root_order.py OUT.json N

Each rank holds its rows of N rows of labels (3 classes, ranks' parts of unequal
size); it runs ``split_on_root``, ``training_blocks`` and two epochs of
``RootOrder.draw``/``split`` (batches of 1024, with and without dropout's places) under
``tracemalloc`` (rank 0 draws, rank 1 maps), then checks what it got against the
one-process split and ``EpochPlan`` with ``relabel`` on every rank (computed
afterwards). Rank 0 writes every rank's traced peaks (bytes above what it held before)
and whether each check held.
"""

from __future__ import annotations

import json
import sys
import tracemalloc

import numpy as np
from mpi4py import MPI

from mlplab.core.split import split_rows
from mlplab.persist.csvsplit import split_on_root, training_blocks
from mlplab.persist.npydata import file_blocks
from mlplab.train.batches import EpochPlan
from mlplab.train.rootorder import RootOrder

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
n = int(sys.argv[2])
weights = np.array([4] + [3] * (size - 1))  # parts of unequal size
counts = (n * weights // weights.sum()).tolist()
counts[-1] += n - sum(counts)
lo = sum(counts[:rank])
labels = np.random.default_rng(5).integers(0, 3, n).astype(np.uint8)
y = labels[lo : lo + counts[rank]].copy()
B = 1024

tracemalloc.start()
relabel, test = split_on_root(y, counts, True, 0.25, 3, comm)
own = np.ones(counts[rank], dtype=bool)
own[test] = False
starts, cut, ab = training_blocks(own, lo, n, comm)
split_peak = tracemalloc.get_traced_memory()[1]
source = RootOrder(comm, starts, relabel)
tracemalloc.reset_peak()
held = tracemalloc.get_traced_memory()[0]  # rank 1: relabel
order = source.draw(np.random.default_rng(9), starts[-1], None)
for batch in source.split(order, B, True):  # one epoch's batches, read as training does
    del batch
epoch_peak = tracemalloc.get_traced_memory()[1] - held
del order
tracemalloc.stop()
rng = np.random.default_rng(9)
got = []
for places in (False, True, False):
    order = source.draw(rng, starts[-1], None)
    got.append(list(source.split(order, B, places)))

# the references: every rank draws everything
rows = np.broadcast_to(np.int8(0), (n,))
i_tr, i_te = split_rows(rows, labels, 0.25, 3, labels)
(a, b), block, full = file_blocks(i_tr.copy(), n, rank, size)
checks = {
    "relabel": rank != 0 or np.array_equal(relabel, full),
    "no_relabel": rank == 0 or relabel is None,
    "mapper": np.array_equal(source.relabel, full)
    if rank == min(1, size - 1)
    else source.relabel is None,
    "test": np.array_equal(test, i_te[(i_te >= lo) & (i_te < lo + counts[rank])] - lo),
    "blocks": list(ab) == [a, b] and starts[rank + 1] - starts[rank] == len(block),
    "cut": cut[rank + 1] - cut[rank] <= len(block),
}
ref_rng = np.random.default_rng(9)
plan = EpochPlan(starts[-1], B, (starts[rank], starts[rank + 1]))
plan.relabel = full
same = True
for places, mine in zip((False, True, False), got, strict=True):
    plan.places = places
    want = plan.split(plan.draw(ref_rng))
    same &= len(want) == len(mine)
    for w, m in zip(want, mine, strict=True):
        same &= w.size == m.size and np.array_equal(w.rows, m.rows)
        same &= w.rows.dtype == m.rows.dtype
        same &= (w.places is None) == (m.places is None)
        same &= w.places is None or np.array_equal(w.places, m.places)
checks["batches"] = bool(same)
checks["rng"] = rng.bit_generator.state == ref_rng.bit_generator.state
gd = RootOrder(comm, starts, relabel).split(None, None, True)[0]
plan.batch_size, plan.places = None, True
want = plan.split(None)[0]
checks["batch_gd"] = gd.rows is None and np.array_equal(gd.places, want.places)
lazy = source.split(source.draw(rng, starts[-1], None), B, False)
later = lazy[len(lazy) - 1]  # the last group: cut now, on every rank
try:
    lazy[0]  # a group already left
    checks["in_order"] = False
except RuntimeError as exc:
    checks["in_order"] = "read the batches in order" in str(exc)
out = comm.gather(
    {"split_peak": split_peak, "epoch_peak": epoch_peak, "n_train": starts[-1], **checks}
    | {"own": starts[rank + 1] - starts[rank]},
    root=0,
)
if rank == 0:
    with open(sys.argv[1], "w") as f:
        json.dump(
            [{k: (bool(v) if isinstance(v, np.bool_) else v) for k, v in o.items()} for o in out], f
        )
