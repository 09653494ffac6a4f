r"""The training step of a network with dropout or batch normalization.

The loop is the same (:mod:`mlplab.train.loop`); only the batch's gradient differs, and
:func:`gradient_for` picks it once, when the trainer is built: the lecture's network
gets :class:`~mlplab.train.step.BatchGradient` and pays nothing for these options.
:class:`RegularizedGradient`, for the others, per step

1. draws the dropout masks d[l]/p from the trainer's random stream (the one that
   shuffles the epochs): a run is reproducible bit for bit, and a checkpoint (which
   saves that stream) resumes it exactly. The masks are drawn for the whole global batch
   and handed out by the rows' places in the drawn order (:attr:`Batch.places
   <mlplab.train.batches.Batch.places>`), so K MPI ranks, and rows held in a file's
   order, drop exactly the units one process drops on rows held in memory;
2. runs forward and backward through :class:`~mlplab.fast.regularized.RegularizedWorkspace`:
   batch normalization with the batch's μ_B, σ²_B — over the *global* batch under MPI,
   whose strategy adds the per-layer sums Σ(z − c), Σ(z − c)² (and, backward, Σdz̃,
   Σdz̃ ⊙ ẑ) over the ranks — and the running averages updated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab.core import layer_options as _opts
from mlplab.fast.regularized import RegularizedWorkspace, norm_views_of
from mlplab.fast.workspace import workspace_for
from mlplab.train.batches import Batch, ranks
from mlplab.train.step import BatchGradient


def gradient_for(trainer: Any) -> BatchGradient:
    """The batch gradient of the trainer's network: plain, or with dropout / batch norm."""
    if trainer.net.options.plain:
        return BatchGradient(trainer.net, trainer.grads)
    return RegularizedGradient(trainer)


class RegularizedGradient(BatchGradient):
    """J, dJ/dθ and the correct predictions on some rows, with dropout and batch norm.

    Called like :class:`~mlplab.train.step.BatchGradient`; reads the trainer's random
    stream, strategy and flat gradient (dγ[l], dβ[l] go to its entries after the dense
    layers).
    """

    def __init__(self, trainer: Any) -> None:
        super().__init__(trainer.net, trainer.grads)
        self.trainer = trainer
        self._theta_views: dict[int, Any] = {}
        self._grad_views: dict[int, Any] = {}

    def __call__(
        self, X: Any, Y: Any, labels: Any, rows: Any, w: Any = None, batch: Batch | None = None
    ) -> tuple[Any, int, Any]:
        net, trainer = self.net, self.trainer
        if w is not None:
            raise ValueError(
                "sample weights cannot be combined with dropout or batch normalization yet; "
                "fit without sample_weight, or without dropout and batch_norm"
            )
        if net._xp is not np:
            raise TypeError(
                "dropout and batch normalization train on NumPy arrays only (the network "
                "computes with another array library); train on NumPy arrays"
            )
        strategy = trainer.strategy
        if rows is None and not isinstance(X, np.ndarray):  # out of core, batch GD
            X = X[0 : X.shape[0]]
        m = X.shape[0] if rows is None else rows.shape[0]
        ws = workspace_for(
            self.workspaces, net, m, make=lambda n: RegularizedWorkspace(net, n, strategy.sum_rows)
        )
        if rows is not None:
            X, Y = ws.gather(X, Y, rows)
            labels = None if labels is None else labels[rows]
        if net.options.dropout:
            ws.draw_masks(trainer.state.rng, *_mask_rows(strategy, m, rows, batch))
        norms = norm_views_of(net, net._theta, self._theta_views)
        norm_grads = norm_views_of(net, trainer._grad_flat, self._grad_views)
        J = ws.loss_and_grads_with(net._params, norms, X, Y, self.grads, norm_grads)
        Z = self.last_Z = ws.Z[-1]
        return J, m, _correct(net, Z, Y, labels)


def _mask_rows(strategy: Any, m: int, rows: Any, batch: Batch | None) -> tuple[int, Any]:
    """(|B|, the rows of the batch's masks that this process's m rows take)."""
    if batch is not None and batch.places is not None:
        return batch.size, batch.places
    first, total = strategy.row_offset(m)  # rows held in the drawn order: sorted = drawn
    return total, slice(first, first + m) if rows is None else first + ranks(rows)


def _correct(net: Any, Z: np.ndarray, Y: np.ndarray, labels: Any) -> float:
    """Correct predictions among the batch's rows (as BatchGradient counts them)."""
    if labels is not None:  # multiclass
        return float(np.count_nonzero(Z.argmax(axis=1) == labels))
    if net.head.name == "binary":  # σ(z) > 0.5 ⇔ z > 0; y is 0 or 1
        return float(np.count_nonzero((Z > 0) == Y) / Z.shape[1])
    return 0.0


def norm_grad_views(trainer: Any) -> list[Any]:
    """dγ[l], dβ[l] of the last batch: views of the trainer's flat gradient."""
    net = trainer.net
    return _opts.norm_views(trainer._grad_flat, net.layer_sizes, net.options)
