"""Run under mpiexec: train on CSV files that every rank reads only in part.

Usage: csv_shards.py OUT.json CASES_JSON

CASES_JSON maps a name to ``[FILE.csv, TARGET, OPTIONS]``; for each case every rank runs
``mlplab.recipes.train_csv(FILE, TARGET, comm=MPI.COMM_WORLD, **OPTIONS)`` (each parses
its byte range of the file: mlplab.persist.csvshard), or with ``"kind": "npy"`` in
OPTIONS ``train_npy(X.npy, y.npy, comm=...)`` (each maps one contiguous part of the
file; rank 0 records each rank's maps, as (offset, rows); ``"deny_rank": r``: rank r
is made unable to read the file), or with
``"kind": "fit_npy"`` ``mlplab.fit`` on ``open_rows(X.npy,
comm=comm)``, the rank's rows alone mapped (rank 0 records each rank's maps), or with
``"kind": "npy_memory"`` ``train_npy`` under ``tracemalloc``: every rank's peak of traced
(anonymous, NumPy's included) memory and the lengths of the arrays it holds for training.
Rank 0 writes, per case, θ, the metrics, the losses and the plan, whether every rank
ended with the same θ, and what each rank's run held of the targets; or
{"error": message} when the case raised (every rank raises the same error).
"""

from __future__ import annotations

import json
import os
import sys
import tracemalloc
import types

import numpy as np
from mpi4py import MPI

import mlplab
import mlplab.persist.csvshard as csvshard
import mlplab.persist.npydata as npydata
import mlplab.persist.npyshard as npyshard
import mlplab.recipes
import mlplab.train.rows as rows_module
import mlplab.train.run as run_module
from mlplab.persist.npydata import open_rows
from mlplab.recipes import train_csv, train_npy


class Kept(mlplab.recipes.Trainer):
    """The recipe's trainer, remembered: ranks other than 0 return no result."""

    last = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        Kept.last = self

    def _begin(self, *args, **kwargs):
        self.run = super()._begin(*args, **kwargs)
        return self.run


def _targets_held(run) -> dict[str, object]:
    """What the rank's run holds of the targets: Y's and the validation Y's type, and
    the float arrays among Y, the validation Y and the labels with one row a row of X
    or of the validation rows (a Y made of all of them); and the length of the index
    its training rows are read through (None: none, the rows are one slice)."""
    Yv = None if run.val is None else run.val[1]
    rows = {run.X.shape[0], 0 if run.val is None else run.val[0].shape[0]} - {0}
    floats = [
        list(a.shape) for a in (run.Y, Yv, run.labels)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.shape[0] in rows
    ]  # fmt: skip
    index = getattr(getattr(run.X, "source", None), "index", None)  # rows read through it
    held = {"Y": type(run.Y).__name__, "Yv": type(Yv).__name__, "floats": floats}
    return {**held, "X_index": None if index is None else int(index.shape[0])}


mlplab.recipes.Trainer = Kept  # type: ignore[misc]
opened: list = []  # what train_npy memory-mapped on this rank


def _recording_open_rows(*args, **kwargs):
    rows = open_rows(*args, **kwargs)
    opened.append(rows)
    return rows


npydata.open_rows = _recording_open_rows
npyshard.open_rows = _recording_open_rows
shards: list = []  # what sharded_npy returned on this rank
_sharded_npy = npyshard.sharded_npy


setup_peaks: list = []  # under tracemalloc: the peak of sharded_npy (then reset)


def _recording_sharded_npy(*args, **kwargs):
    shards.append(_sharded_npy(*args, **kwargs))
    if tracemalloc.is_tracing():
        setup_peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.reset_peak()
    return shards[-1]


npyshard.sharded_npy = _recording_sharded_npy


def _held(d) -> dict:
    """Lengths of the arrays rank's part holds for training (None: not held)."""
    source = d.X_train.order_source
    mapper = None if source is None else source.relabel
    lengths = {"X_train": d.X_train.index, "X_test": d.X_test.index, "y_train": d.y_train}
    lengths.update(y_test=d.y_test, relabel=d.X_train.relabel, mapper_relabel=mapper)
    out = {k: None if v is None else int(v.shape[0]) for k, v in lengths.items()}
    return {**out, "rows": list(d.rows)}


def _memory_case(name: str, path: str, target: str, options: dict) -> None:
    """train_npy under tracemalloc; rank 0 records every rank's peak and arrays. The
    streaming passes read blocks of 64 KiB (not 1 MiB): their temporaries, the same for
    any file, then stay below the arrays that grow with the rows."""
    blocks = rows_module.BLOCK_BYTES, run_module.BLOCK_BYTES
    rows_module.BLOCK_BYTES = run_module.BLOCK_BYTES = 2**16
    tracemalloc.start()
    try:
        train_npy(path, target, comm=comm, **options)
        train = tracemalloc.get_traced_memory()[1]  # the peak since sharded_npy returned
    finally:
        tracemalloc.stop()
        rows_module.BLOCK_BYTES, run_module.BLOCK_BYTES = blocks
    setup = setup_peaks[-1]
    peaks = {"peak": max(setup, train), "setup_peak": setup, "train_peak": train}
    got = comm.gather({**peaks, **_held(shards[-1])}, root=0)
    if comm.rank == 0:
        out[name] = {"ranks": got}


comm = MPI.COMM_WORLD
out: dict[str, object] = {}
for name, (path, target, options) in json.loads(sys.argv[2]).items():
    kind = options.pop("kind", "csv")
    opened.clear()
    if kind == "npy_memory":
        _memory_case(name, path, target, options)
        continue
    if kind == "fit_npy":
        X_k = open_rows(path, comm=comm)
        X, y = np.load(path), np.load(target)
        net = mlplab.Network([X.shape[1], 6, 3], output="multiclass", seed=3, dtype="float64")
        net.standardizer = mlplab.Standardizer().fit(X)
        lo = sum(comm.allgather(X_k.shape[0])[: comm.rank])
        mlplab.fit(net, X_k, y[lo : lo + X_k.shape[0]], comm=comm, **options)
        maps = comm.gather([[int(p.offset), p.shape[0]] for p in X_k.parts], root=0)
        if comm.rank == 0:
            out[name] = {"theta": net.get_flat_params().tolist(), "maps": maps}
        continue
    columns = options.pop("columns", {})
    deny = options.pop("deny_rank", None)  # this rank cannot read the file (as if)
    if deny is not None and comm.rank == deny:
        csvshard.os = types.SimpleNamespace(**{**vars(os), "access": lambda *a: False})
    try:
        if kind == "npy":
            result = train_npy(path, target, comm=comm, **options)
        else:
            result = train_csv(path, target, columns=columns, comm=comm, **options)
    except ValueError as exc:  # CSVError and DistributedError are ValueErrors
        out[name] = {"error": str(exc), "type": type(exc).__name__}
        continue
    finally:
        csvshard.os = os
    theta = Kept.last.net.get_flat_params()
    thetas = comm.gather(theta, root=0)
    held = comm.gather(_targets_held(Kept.last.run), root=0)
    maps = comm.gather([[int(p.offset), p.shape[0]] for p in opened[-1].parts] if opened else [])
    if comm.rank == 0:
        assert result is not None
        hist = result.history.history
        out[name] = {
            "theta": theta.tolist(),
            "same_on_all_ranks": all(np.array_equal(t, theta) for t in thetas),
            "metrics": result.metrics,
            "loss": hist["loss"],
            "val_loss": hist.get("val_loss"),
            "preprocessing": result.data_info.get("preprocessing"),
            "classes": [str(c) for c in result.data_info.get("classes", [])],
            "maps": maps,
            "held": held,
        }
if comm.rank == 0:
    with open(sys.argv[1], "w") as f:
        json.dump(out, f)
