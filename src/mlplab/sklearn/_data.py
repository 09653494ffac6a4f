"""The estimators' input helpers: ragged rows, sample weights, the weighted Standardizer.

scikit-learn's ``validate_data`` checks X and y; these are the checks it does not make
the way mlplab wants them (a ragged list gets our message; equal sample weights are no
weights), and the Standardizer fit with sample weights.
"""

from __future__ import annotations

import numbers
from typing import Any, SupportsFloat, cast

import numpy as np

from mlplab.core.data import Standardizer
from mlplab.train.checks import check_sample_weight as _check_weights


def reject_ragged(X: Any, name: str = "X") -> None:
    """A nested list whose rows differ in length gets our message, not NumPy's."""
    if isinstance(X, (list, tuple)):
        try:
            np.asarray(X)
        except ValueError:
            lengths = sorted({len(row) if hasattr(row, "__len__") else 1 for row in X})
            raise ValueError(
                f"{name} is ragged: its rows have different lengths {lengths}; every row "
                "must have the same number of features"
            ) from None


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """Sample weights as a float64 vector (None when absent or all 1).

    A number is that weight for every row. The checks (1-D, one per sample, finite,
    >= 0, Σw > 0) are the trainer's (:func:`mlplab.train.checks.check_sample_weight`).
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        # numbers.Number declares no __float__; a complex weight raises TypeError here
        sample_weight = np.full(n_samples, float(cast(SupportsFloat, sample_weight)))
    sw: np.ndarray
    sw, _ = _check_weights(sample_weight, n_samples)
    if np.all(sw == 1):
        return None  # unit weights are the unweighted cost exactly
    return sw  # equal weights c ≠ 1 too: scikit-learn's L2 term is then λ/(2c|B|)


def weighted_standardizer(X: np.ndarray, sw: np.ndarray | None) -> Standardizer:
    """A Standardizer fit on X with weights (repeated rows ≡ integer weights)."""
    if sw is None:
        return Standardizer().fit(X)
    X64 = np.asarray(X, dtype=np.float64)
    std = Standardizer()
    mean = np.average(X64, axis=0, weights=sw)
    var = np.average((X64 - mean) ** 2, axis=0, weights=sw)
    # Same rule as Standardizer.fit: a constant feature keeps σ = 1.
    tiny = np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
    sd = np.sqrt(var)
    std.mean_, std.scale_ = mean, np.where(sd <= tiny, 1.0, sd)
    return std


def require_comm(comm: Any) -> None:
    """``comm`` looks like an mpi4py communicator (TypeError otherwise)."""
    for method in ("allgather", "bcast", "Allreduce", "Get_rank", "Get_size"):
        if not hasattr(comm, method):
            raise TypeError(f"comm must be an mpi4py communicator, got {comm!r}")
