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

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

Total = Callable[[np.ndarray], np.ndarray]


def _chunked(fn: Callable[[Any], Any], X: Any) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, fn(rows)) of X in one block, or for rows on disk
    (:class:`~mlplab.train.rows.MappedRows`) of each of its blocks: a metric is summed
    over bounded blocks, never over a prediction of all rows at once."""
    if not hasattr(X, "blocks"):
        yield 0, np.asarray(fn(X))
        return
    for s, b in X.blocks():
        yield s, np.asarray(fn(b))


def classification(net: Any, X: Any, y: Any, total: Total, part: str) -> dict[str, Any]:
    """``{part}_accuracy`` and ``{part}_log_loss`` over every process's rows (None when
    there are none)."""
    y = np.asarray(y)
    hits = [0.0]

    def losses() -> Iterator[np.ndarray]:
        """−log p_i(y_i) of each block (and its correct predictions counted)."""
        for s, P in _chunked(net.predict_proba, X):
            P = P.astype(np.float64)
            if P.shape[1] == 1:
                P = np.hstack([1 - P, P])
            yb = y[s : s + P.shape[0]].astype(np.int64)
            hits[0] += float(np.count_nonzero(P.argmax(axis=1) == yb))
            yield -np.log(np.clip(P[np.arange(len(yb)), yb], 1e-15, 1.0))

    nll = pairwise_sum(len(y), losses()) if len(y) else 0.0  # the bits of one sum
    correct = hits[0]
    n, correct, nll = total(np.array([len(y), correct, nll], dtype=np.float64))
    if n == 0:
        return {f"{part}_accuracy": None, f"{part}_log_loss": None}
    return {f"{part}_accuracy": float(correct / n), f"{part}_log_loss": float(nll / n)}


def pairwise_sum(n: int, parts: Iterable[np.ndarray]) -> float:
    """``np.sum`` of n float64 values that ``parts`` yield in order, with its bits,
    holding a part (and under 128 values) at a time, never all n.

    NumPy sums a contiguous float64 array pairwise: a range of more than 128 values is
    cut in two halves (the first a multiple of 8 long) whose sums are added; up to 128
    values are summed in 8 lanes (lane j: values j, j + 8, ... in order), the lanes as
    ((0+1)+(2+3))+((4+5)+(6+7)), then the rest one by one; fewer than 8 one by one from
    0.0; the whole sum is 0.0 plus that. Followed here range by range as the values
    arrive (``tests/test_targets_per_batch.py`` holds it equal to ``np.sum``).
    """
    return float(pairwise_sums(n, (np.asarray(p)[:, None] for p in parts), 1)[0])


def pairwise_sums(n: int, parts: Iterable[np.ndarray], columns: int) -> np.ndarray:
    """:func:`pairwise_sum` of each column of n rows that ``parts`` yield in order
    (blocks of shape (rows, columns)): one sum a column, with the bits of ``np.sum``."""
    return 0.0 + _pairwise(_Values(parts), 0, n) if n else np.zeros(columns)


class _Values:
    """Rows fed in parts, read by ranges in increasing order (under 128 rows and one
    part held)."""

    def __init__(self, parts: Iterable[np.ndarray]) -> None:
        self.parts, self.buf, self.start = iter(parts), np.empty((0, 0)), 0

    def take(self, lo: int, m: int) -> np.ndarray:
        while self.start + self.buf.shape[0] < lo + m:
            part = np.asarray(next(self.parts), dtype=np.float64)
            rest = self.buf[lo - self.start :] if self.buf.shape[0] else part[:0]
            self.buf, self.start = np.concatenate([rest, part]), lo
        return self.buf[lo - self.start : lo - self.start + m]


def _pairwise(values: _Values, lo: int, m: int) -> np.ndarray:
    """NumPy's pairwise sum of rows lo:lo + m, column by column (see :func:`pairwise_sum`)."""
    if m > 128:
        half = m // 2 - (m // 2) % 8
        both: np.ndarray = _pairwise(values, lo, half) + _pairwise(values, lo + half, m - half)
        return both
    a = values.take(lo, m)
    k = m - m % 8
    res = np.zeros(a.shape[1])
    if k:
        r = np.cumsum(a[:k].reshape(-1, 8, a.shape[1]), axis=0)[-1]  # the 8 lanes, in order
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for v in a[k:]:
        res = res + v
    return res


def confusion(net: Any, X: Any, y: Any, n_classes: int, total: Total) -> list[list[int]]:
    """The confusion matrix (rows: true class, columns: predicted) of every process's rows."""
    y = np.asarray(y)
    counts = np.zeros((n_classes, n_classes), dtype=np.float64)
    for s, pred in _chunked(net.predict, X) if len(y) else ():
        yb = y[s : s + pred.shape[0]].astype(np.int64)
        np.add.at(counts, (yb, pred.astype(np.int64)), 1.0)
    return total(counts.ravel()).reshape(n_classes, n_classes).astype(np.int64).tolist()


def regression(net: Any, X: Any, y: Any, total: Total, part: str) -> dict[str, float | None]:
    """``{part}_r2``, ``{part}_mse`` and ``{part}_mae`` over every process's rows (one
    output: the sums taken as the blocks come, :func:`pairwise_sums`, no array of all rows)."""
    k = net.layer_sizes[-1]
    Y = np.asarray(y, dtype=np.float64).reshape(len(y), k)
    err = np.empty((len(Y) if k > 1 else 0, k))  # one output: no array of all rows
    for s, pred in _chunked(net.predict, X) if len(Y) and k > 1 else ():
        rows = pred.shape[0]
        err[s : s + rows] = pred.astype(np.float64).reshape(rows, k) - Y[s : s + rows]
    first = total(np.concatenate([[len(Y)], Y.sum(axis=0)]))
    n = first[0]
    if n == 0:
        return {f"{part}_r2": None, f"{part}_mse": None, f"{part}_mae": None}
    mean = first[1:] / n
    if k > 1:
        local = [((Y - mean) ** 2).sum(axis=0), (err**2).sum(axis=0), [np.abs(err).sum()]]
        sums = total(np.concatenate(local))
    else:  # (y − ȳ)², err², |err| of each block: three sums with the bits of np.sum
        sums = total(pairwise_sums(len(Y), _one_output_terms(net, X, Y, mean), 3))
    ss_tot, ss_res, abs_err = sums[:k], sums[k : 2 * k], sums[-1]
    r2 = 1 - ss_res / np.where(ss_tot == 0, 1.0, ss_tot)
    return {
        f"{part}_r2": float(np.mean(r2)),
        f"{part}_mse": float(ss_res.sum() / (n * k)),
        f"{part}_mae": float(abs_err / (n * k)),
    }


def _one_output_terms(net: Any, X: Any, Y: np.ndarray, mean: np.ndarray) -> Iterator[np.ndarray]:
    """Blocks of rows [(y − ȳ)², (ŷ − y)², |ŷ − y|] of a one-output regression."""
    for s, pred in _chunked(net.predict, X) if len(Y) else ():
        rows = pred.shape[0]
        err = pred.astype(np.float64).reshape(rows, 1) - Y[s : s + rows]
        yield np.hstack([(Y[s : s + rows] - mean) ** 2, err**2, np.abs(err)])


def whole(
    task: str, net: Any, history: Any, X_tr: Any, X_te: Any, y_tr: Any, y_te: Any
) -> dict[str, Any]:
    """Cost, accuracy (with the test confusion matrix) or R², on train and test, when this
    process holds every row (``mlplab train``'s metrics)."""
    metrics: dict[str, Any] = {
        "epochs": len(history.epoch),
        "final_cost": history.history["loss"][-1] if history.epoch else float(net.loss(X_tr, y_tr)),
        "n_train": len(X_tr),
        "n_test": len(X_te),
    }
    for part, X, y in (("train", X_tr, y_tr), ("test", X_te, y_te)):
        if task == "classification":
            metrics[f"{part}_accuracy"] = net.score(X, y) if len(X) else None
            metrics[f"{part}_log_loss"] = _log_loss(net, X, y) if len(X) else None
        else:
            metrics.update(_regression_metrics(net, X, y, part))
    if task == "classification" and len(X_te):
        k = max(net.layer_sizes[-1], 2)
        metrics["test_confusion_matrix"] = _confusion(y_te, net.predict(X_te), k).tolist()
    return metrics


def _confusion(y: Any, pred: Any, k: int) -> np.ndarray:
    """C[i, j] = # rows of class i predicted as j, for the classes 0..k−1 (as scikit-learn's
    ``confusion_matrix(y, pred, labels=range(k))``, without importing it: a bincount)."""
    y, pred = np.asarray(y), np.asarray(pred)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) and pred.dtype.kind in "iu"):
        from sklearn.metrics import confusion_matrix

        C: np.ndarray = confusion_matrix(y, pred, labels=np.arange(k))  # (scikit-learn: untyped)
        return C
    y, pred = y.astype(np.int64), pred.astype(np.int64).ravel()
    keep = (y >= 0) & (y < k) & (pred >= 0) & (pred < k)
    return np.bincount(y[keep] * k + pred[keep], minlength=k * k).reshape(k, k)


def over_ranks(
    task: str, net: Any, history: Any, parts: Any, total: Total, shard: Any
) -> dict[str, Any]:
    """:func:`whole` when every rank holds only its own rows (``parts``: X_tr, X_te, y_tr,
    y_te; ``shard[1]``, ``shard[3]``: the rows of all ranks): sums over the ranks."""
    X_tr, X_te, y_tr, y_te = parts
    out: dict[str, Any] = {"epochs": len(history.epoch), "final_cost": history.history["loss"][-1]}
    out.update(n_train=shard[1], n_test=shard[3])
    for part, X, y in (("train", X_tr, y_tr), ("test", X_te, y_te)):
        if task == "classification":
            out.update(classification(net, X, y, total, part))
        else:
            out.update(regression(net, X, y, total, part))
    if task == "classification" and shard[3]:
        k = max(net.layer_sizes[-1], 2)
        out["test_confusion_matrix"] = confusion(net, X_te, y_te, k, total)
    return out


def _log_loss(net: Any, X: Any, y: Any) -> float | None:
    """−(1/n) Σ log P(true class), P clipped away from 0 (as ``mlplab evaluate``)."""
    y = np.asarray(y)
    if y.ndim != 1:
        return None  # multi-label targets: the cost J is their log-loss
    P = np.asarray(net.predict_proba(X), dtype=np.float64)
    if P.shape[1] == 1:
        P = np.hstack([1 - P, P])
    return float(-np.log(np.clip(P[np.arange(len(y)), y.astype(np.int64)], 1e-15, 1.0)).mean())


def _regression_metrics(net: Any, X: Any, y: Any, part: str) -> dict[str, float | None]:
    """R², MSE and MAE of ``part`` (averaged over outputs); None for an empty part."""
    if not len(X):
        return {f"{part}_r2": None, f"{part}_mse": None, f"{part}_mae": None}
    Y = np.asarray(y, dtype=np.float64).reshape(len(X), -1)
    err = np.asarray(net.predict(X), dtype=np.float64).reshape(len(X), -1) - Y
    return {
        f"{part}_r2": float(net.score(X, y)),
        f"{part}_mse": float(np.mean(err**2)),
        f"{part}_mae": float(np.mean(np.abs(err))),
    }
