r"""Metrics of a trained network on rows spread over processes, as sums.

When every MPI rank holds only its own rows of the training and test sets (a CSV file
read in parts, :mod:`mlplab.persist.csvshard`), each metric is a ratio of sums over all
rows, added up over the ranks:

* accuracy = Σ [ŷ_i = y_i] / n, log-loss = −Σ log p_i(y_i) / n (p clipped to [1e-15, 1]),
  the confusion matrix = Σ of the ranks' matrices;
* R² = mean over outputs of 1 − Σ(ŷ − y)² / Σ(y − ȳ)² (ȳ from a first sum: two passes, as
  one process computes it), MSE = Σ(ŷ − y)² / (n·k), MAE = Σ|ŷ − y| / (n·k).

``total`` is the strategy's sum over the processes (:meth:`mlplab.train.mpi.MPI.sum_floats`);
for one process it is the identity and these are the usual means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Total = Callable[[np.ndarray], np.ndarray]


def classification(net: Any, X: Any, y: Any, total: Total, part: str) -> dict[str, Any]:
    """``{part}_accuracy`` and ``{part}_log_loss`` over every process's rows (None when
    there are none)."""
    y = np.asarray(y, dtype=np.int64)
    correct, nll = 0.0, 0.0
    if len(y):
        P = np.asarray(net.predict_proba(X), dtype=np.float64)
        if P.shape[1] == 1:
            P = np.hstack([1 - P, P])
        correct = float(np.count_nonzero(P.argmax(axis=1) == y))
        nll = float(-np.log(np.clip(P[np.arange(len(y)), y], 1e-15, 1.0)).sum())
    n, correct, nll = total(np.array([len(y), correct, nll], dtype=np.float64))
    if n == 0:
        return {f"{part}_accuracy": None, f"{part}_log_loss": None}
    return {f"{part}_accuracy": float(correct / n), f"{part}_log_loss": float(nll / n)}


def confusion(net: Any, X: Any, y: Any, n_classes: int, total: Total) -> list[list[int]]:
    """The confusion matrix (rows: true class, columns: predicted) of every process's rows."""
    y = np.asarray(y, dtype=np.int64)
    counts = np.zeros((n_classes, n_classes), dtype=np.float64)
    if len(y):
        pred = np.asarray(net.predict(X), dtype=np.int64)
        np.add.at(counts, (y, pred), 1.0)
    return total(counts.ravel()).reshape(n_classes, n_classes).astype(np.int64).tolist()


def regression(net: Any, X: Any, y: Any, total: Total, part: str) -> dict[str, float | None]:
    """``{part}_r2``, ``{part}_mse`` and ``{part}_mae`` over every process's rows."""
    k = net.layer_sizes[-1]
    Y = np.asarray(y, dtype=np.float64).reshape(len(y), k)
    err = np.zeros((0, k))
    if len(Y):
        err = np.asarray(net.predict(X), dtype=np.float64).reshape(len(Y), k) - Y
    first = total(np.concatenate([[len(Y)], Y.sum(axis=0)]))
    n = first[0]
    if n == 0:
        return {f"{part}_r2": None, f"{part}_mse": None, f"{part}_mae": None}
    mean = first[1:] / n
    sums = total(
        np.concatenate([((Y - mean) ** 2).sum(axis=0), (err**2).sum(axis=0), [np.abs(err).sum()]])
    )
    ss_tot, ss_res, abs_err = sums[:k], sums[k : 2 * k], sums[-1]
    r2 = 1 - ss_res / np.where(ss_tot == 0, 1.0, ss_tot)
    return {
        f"{part}_r2": float(np.mean(r2)),
        f"{part}_mse": float(ss_res.sum() / (n * k)),
        f"{part}_mae": float(abs_err / (n * k)),
    }
