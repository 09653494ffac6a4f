"""Data helpers: input normalization, mini-batches, built-in datasets, splits.

Input normalization (the lecture's "normalizing input"): x ← (x − μ) / σ per feature,
with μ and σ measured on the training set only and reused for every later input.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mlplab._typing import Array
from mlplab._validation import as_generator, check_dtype, check_X
from mlplab.core.split import split_rows as _split_rows


class Standardizer:
    r"""Per-feature standardization x' = (x − μ) / σ, fit on training data only.

    Constant features (σ = 0) get σ = 1, so they map to 0 instead of dividing by zero.

    Attributes
    ----------
    mean_ : ndarray of shape (n[0],)
        μ, the training mean of each feature.
    scale_ : ndarray of shape (n[0],)
        σ, the training standard deviation (1 where a feature is constant).
    """

    def __init__(self) -> None:
        self.mean_: Array | None = None
        self.scale_: Array | None = None

    def fit(self, X: Any) -> Standardizer:
        """Measure μ and σ on X (rows are samples), in float64 for accuracy."""
        X = check_X(X, np.dtype(np.float64))
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        # A feature constant in the training data carries no information: keep σ = 1.
        tiny = np.finfo(np.float64).eps * np.maximum(np.abs(self.mean_), 1.0)
        self.scale_ = np.where(std <= tiny, 1.0, std)
        return self

    @property
    def n_features_in_(self) -> int:
        """Number of features seen in ``fit``."""
        return int(self._moments()[0].shape[0])

    def _check_fitted(self) -> None:
        self._moments()

    def _moments(self) -> tuple[Array, Array]:
        """(μ, σ), refused before ``fit``."""
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("this Standardizer is not fitted yet; call fit(X_train) first")
        return self.mean_, self.scale_

    def transform(self, X: Any) -> Array:
        """(X − μ) / σ, in X's floating dtype (float64 for integer input)."""
        mean, scale = self._moments()
        dt = getattr(X, "dtype", None)  # not np.asarray(X): check_X reports bad input
        dtype = dt if isinstance(dt, np.dtype) and dt.kind == "f" else np.dtype(np.float64)
        Xc = check_X(X, dtype, self.n_features_in_, expected_by="the Standardizer was fit on")
        return ((Xc - mean) / scale).astype(dtype, copy=False)

    def fit_transform(self, X: Any) -> Array:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> Array:
        """x = x' σ + μ."""
        mean, scale = self._moments()
        Xa = check_X(X, np.dtype(np.float64), self.n_features_in_, "X", "the Standardizer has")
        return Xa * scale + mean

    @classmethod
    def from_moments(cls, mean: Any, scale: Any) -> Standardizer:
        """A fitted Standardizer with these μ and σ (as stored in files and pickles).

        Checked: two 1-D arrays of the same length, finite, σ > 0 (ValueError).
        """
        mean = np.array(mean, dtype=np.float64)
        scale = np.array(scale, dtype=np.float64)
        if mean.ndim != 1 or scale.shape != mean.shape:
            raise ValueError("the standardizer's mean and scale must be 1-D, of the same length")
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("the standardizer arrays are not finite and positive")
        std = cls()
        std.mean_, std.scale_ = mean, scale
        return std

    def __repr__(self) -> str:
        fitted = "unfitted" if self.mean_ is None else f"n_features={self.n_features_in_}"
        return f"Standardizer({fitted})"


def minibatches(
    n_samples: int, batch_size: int | None, rng: np.random.Generator | None
) -> Iterator[np.ndarray]:
    """Index arrays of one epoch's mini-batches.

    Shuffles the indices (not the data) with ``rng.permutation``; ``rng=None`` keeps the
    order. ``batch_size=None`` gives one batch of all samples (batch gradient descent);
    the last, smaller batch is kept.
    """
    order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
    size = n_samples if batch_size is None else batch_size
    for start in range(0, n_samples, size):
        yield order[start : start + size]


DATASETS = ("breast_cancer", "digits", "moons", "circles", "xor", "spiral", "gaussian")
"""Names accepted by :func:`load_dataset`."""


def load_dataset(
    name: str = "breast_cancer",
    n_samples: int | None = None,
    noise: float | None = None,
    seed: int | np.random.Generator | None = 0,
    dtype: Any = "float64",
) -> tuple[Array, np.ndarray]:
    """A built-in dataset as (X, y); rows are samples, y integer labels.

    ``breast_cancer`` (569 × 30, binary) and ``digits`` (1797 × 64, 10 classes) are the
    real datasets that ship with scikit-learn; ``moons``, ``circles``, ``xor``, ``spiral``
    and ``gaussian`` are 2-D synthetic sets (``n_samples`` points, default 500, with
    ``noise``).
    """
    dt = check_dtype(dtype)
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {list(DATASETS)}")
    rng = as_generator(seed)
    if name in ("breast_cancer", "digits"):
        from sklearn import datasets as skd

        bunch = skd.load_breast_cancer() if name == "breast_cancer" else skd.load_digits()
        return bunch.data.astype(dt), bunch.target.astype(np.int64)
    n = 500 if n_samples is None else int(n_samples)
    if n < 2:
        raise ValueError(f"n_samples must be >= 2, got {n}")
    int_seed = int(rng.integers(2**31 - 1))
    if name == "moons":
        from sklearn.datasets import make_moons

        X, y = make_moons(n, noise=0.2 if noise is None else noise, random_state=int_seed)
    elif name == "circles":
        from sklearn.datasets import make_circles

        X, y = make_circles(
            n, noise=0.05 if noise is None else noise, factor=0.5, random_state=int_seed
        )
    elif name == "xor":
        X = rng.uniform(-1, 1, size=(n, 2))
        X += rng.normal(0, 0.1 if noise is None else noise, size=X.shape)
        y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    elif name == "spiral":
        sd = 0.1 if noise is None else noise
        y = np.arange(n) % 2
        t = rng.uniform(0.25, 1.0, size=n) * 3 * np.pi
        r = t / (3 * np.pi)
        angle = t + np.pi * y
        X = np.c_[r * np.cos(angle), r * np.sin(angle)] + rng.normal(0, sd, (n, 2)) * r[:, None]
    else:  # gaussian
        sd = 0.5 if noise is None else noise
        y = np.arange(n) % 2
        centers = np.where(y[:, None] == 1, 1.0, -1.0) * np.array([1.0, 1.0])
        X = centers + rng.normal(0, sd, size=(n, 2))
    return np.asarray(X, dtype=dt), np.asarray(y, dtype=np.int64)


def train_test_split(
    X: Any, y: Any, test_size: float = 0.25, seed: int | None = 0, stratify: bool = True
) -> tuple[Array, Array, np.ndarray, np.ndarray]:
    """A (stratified, for labels) shuffled split: ``X_train, X_test, y_train, y_test``.

    The rows are those of scikit-learn's ``train_test_split(X, y, test_size=...,
    random_state=seed, stratify=...)``, to the index. For NumPy arrays, an integer seed and
    a split scikit-learn accepts they are drawn here with NumPy alone (the same
    ``RandomState`` draws, in the same order): importing scikit-learn takes longer than
    many whole training runs (benchmarks/RESULTS.md, time to a trained model). Anything
    else — other arrays, ``seed=None``, a split scikit-learn refuses — goes to
    scikit-learn itself, with its error messages.
    """
    y = np.asarray(y)
    strat = y if stratify and y.ndim == 1 and np.issubdtype(y.dtype, np.integer) else None
    rows = _split_rows(X, y, test_size, seed, strat)
    if rows is None:
        from sklearn.model_selection import train_test_split as _split

        parts: tuple[Array, Array, np.ndarray, np.ndarray] = _split(  # (scikit-learn: untyped)
            X, y, test_size=test_size, random_state=seed, stratify=strat
        )
        return parts
    train, test = rows
    return X[train], X[test], y[train], y[test]


def one_hot(labels: Any, n_classes: int | None = None, dtype: Any = np.float32) -> Array:
    """Integer labels 0..K−1 as one-hot rows of shape (n_samples, K)."""
    labels = np.asarray(labels).astype(np.intp).ravel()
    k = int(labels.max()) + 1 if n_classes is None else n_classes
    Y = np.zeros((labels.shape[0], k), dtype=dtype)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y
