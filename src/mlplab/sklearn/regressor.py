"""The scikit-learn regressor: the regression head, any number of outputs.

:class:`MLPRegressor` trains the identity output with the squared error; training is
:class:`~mlplab.sklearn._base._BaseMLP`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin

from mlplab.sklearn._base import _BaseMLP
from mlplab.sklearn._data import check_sample_weight

__all__ = ["MLPRegressor"]


class MLPRegressor(RegressorMixin, _BaseMLP):
    r"""Multi-layer perceptron regressor trained by backpropagation (scikit-learn API).

    The ``regression`` head: identity output and the squared error
    L = ½ Σ_k (z_k − y_k)², any number of outputs. Parameters and attributes are those of
    :class:`MLPClassifier` (without ``classes_``); ``early_stopping`` monitors the
    validation R².

    Examples
    --------
    >>> import numpy as np
    >>> from mlplab import MLPRegressor
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> Y = np.hstack([2 * X + 1, -X])                      # two outputs
    >>> reg = MLPRegressor(hidden_layer_sizes=(), solver="sgd", learning_rate_init=0.3,
    ...                    max_iter=500, tol=0, random_state=0).fit(X, Y)
    >>> reg.predict([[0.5]]).round(2).tolist()
    [[2.0, -0.5]]
    """

    def _fit(self, X, y, sample_weight, incremental, comm=None):  # type: ignore[no-untyped-def]
        first = not hasattr(self, "network_") or (not incremental and not self.warm_start)

        def validate():  # type: ignore[no-untyped-def]
            X_, y_ = self._validate(X, y, sample_weight, comm, first, y_numeric=True)
            sw = check_sample_weight(sample_weight, X_.shape[0])
            Y = y_.reshape(-1, 1) if y_.ndim == 1 else y_
            if not first and Y.shape[1] != self.network_.layer_sizes[-1]:
                raise ValueError(
                    f"y has {Y.shape[1]} output(s), the network was fitted with "
                    f"{self.network_.layer_sizes[-1]}"
                )
            return X_, Y, sw

        X, Y, sw = self._on_every_rank(comm, validate)
        if first:
            self._new_network(X.shape[1], Y.shape[1], "regression", X, sw, comm)
        self._train(X, Y, Y, sw, 1 if incremental else self.max_iter, incremental, comm)
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None, comm: Any = None) -> MLPRegressor:
        """Train on (X, y), from scratch unless ``warm_start``; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n[0])
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
        comm : mpi4py.MPI.Comm, optional
            Data-parallel training over MPI ranks: X, y are this rank's contiguous shard
            (see :meth:`MLPClassifier.fit`).
        """
        return self._fit(X, y, sample_weight, incremental=False, comm=comm)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch of mini-batch updates on (X, y), keeping the optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _values_from_logits(self, Z: np.ndarray) -> np.ndarray:
        out = Z.astype(np.float64)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values: shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        return self._values_from_logits(self._logits(X))

    def _score_logits(self, Z: np.ndarray, y: Any, w: Any) -> float:
        from sklearn.metrics import r2_score

        y = np.asarray(y)
        pred = self._values_from_logits(Z)
        return float(r2_score(y.reshape(pred.shape), pred, sample_weight=w))

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
