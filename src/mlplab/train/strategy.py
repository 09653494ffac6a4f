r"""How the gradient of a mini-batch is put together from the processes that share it.

The loop always computes, on its own rows of the global batch B (m of them), the mean
cost and gradient over those rows. A strategy combines them into the batch's:

.. math::
    \frac{\partial J_B}{\partial \theta} = \sum_k \frac{m_k}{|B|}\,
    \overline{\frac{\partial \mathcal L}{\partial \theta}}\Big|_{\text{rank } k}

:class:`Local` is one process (m = |B|): every operation is the identity, and the
loop is exactly the lecture's. :class:`mlplab.train.mpi.MPI` sums over MPI ranks with
one ``Allreduce`` per step. The loop is the same for both (as PyTorch Lightning's
``Strategy`` or Horovod's wrapper do it): a strategy is passed in, never a subclass of
the trainer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from mlplab import _array_api as _xp

T = TypeVar("T")


class Local:
    """Training in one process: all rows are this process's, nothing to combine."""

    rank = 0
    size = 1
    is_root = True

    def gradient_buffer(self, net: Any) -> Any:
        """The flat vector dJ/dθ is written into (the trainer's ``grads`` view it)."""
        return _xp.namespace(net._theta).zeros_like(net._theta)

    def agree(self, fn: Callable[[], T]) -> T:
        """Run a check; under MPI an error on any rank is raised on every rank."""
        return fn()

    def share(self, n_local: int) -> tuple[int, tuple[int, int]]:
        """(n over all processes, this process's rows lo:hi of them)."""
        return n_local, (0, n_local)

    def check_same_run(self, trainer: Any, settings: dict[str, Any]) -> None:
        """Under MPI: every rank builds the same network and passes the same settings."""

    def broadcast_state(self, trainer: Any) -> None:
        """Under MPI: θ, optimizer state, counters and RNG from rank 0."""

    def reduce(self, grad: Any, J: Any, correct: Any, m: int, size: int) -> tuple[Any, Any]:
        """The batch's (J, # correct) from this process's means over its m rows of the
        batch of ``size`` rows; ``grad`` (the mean dJ/dθ) becomes the batch's in place."""
        return J, correct

    sum_rows: Callable[[Any], None] | None = None
    """Under MPI, ``sum_rows(buf)`` adds a buffer of per-row sums over the processes in
    place (batch normalization's Σz, Σz²); None here: one process has every row."""

    def row_offset(self, m: int) -> tuple[int, int]:
        """(rows of the batch on the processes before this one, rows of the batch): the
        place of this process's m rows in the batch (dropout masks); one process: (0, m)."""
        return 0, m

    def any(self, flag: bool) -> bool:
        """True when ``flag`` is true on any process (a callback asked to stop)."""
        return flag

    def sum(self, value: int) -> int:
        """Σ of an integer over the processes."""
        return value

    def sum_floats(self, values: Any) -> Any:
        """Σ of a float64 vector over the processes (metrics as sums)."""
        return values

    sharded_validation = False
    """Under MPI, True when each rank passes only its own validation rows: the
    validation cost and accuracy are then sums over the ranks."""

    def read(self, fn: Callable[[], T]) -> T:
        """Read a file (a checkpoint); under MPI rank 0 reads and broadcasts."""
        return fn()

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Around the training loop: under MPI, a failure on one rank ends every rank."""
        yield
