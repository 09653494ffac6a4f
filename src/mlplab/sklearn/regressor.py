"""The scikit-learn regressor: the regression head, any number of outputs.

:class:`MLPRegressor` trains the identity output with the squared error; training is
:class:`~mlplab.sklearn._base._BaseMLP`'s.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import column_or_1d

from mlplab.sklearn import _params
from mlplab.sklearn._base import _BaseMLP, stochastic_only
from mlplab.sklearn._data import check_sample_weight

__all__ = ["MLPRegressor"]


class MLPRegressor(RegressorMixin, _BaseMLP):
    r"""Multi-layer perceptron regressor trained by backpropagation (scikit-learn API).

    ``loss="squared_error"`` (default): the ``regression`` head, identity output and
    L = ½ Σ_k (z_k − y_k)², any number of outputs; ``loss="poisson"``: the ``poisson``
    head, a = e^z and half the Poisson deviance (counts y ≥ 0). ``loss`` is the first
    parameter, as in scikit-learn; the others and the attributes are those of
    :class:`MLPClassifier` (without ``classes_``); ``early_stopping`` monitors the
    validation R².

    scikit-learn averages its squared error over the outputs but sums its gradient over
    them (scikit-learn issue #8349). The estimator does the same, so ``loss_``,
    ``loss_curve_`` and the ``tol`` rule that compares them are scikit-learn's with any
    number of outputs; the network's own head (``Network``, ``mlplab train``) sums both.

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

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        init: str | None = None,
        dtype: Any = None,
        normalize: bool = False,
        dropout: float | None = None,
        batch_norm: bool | None = None,
        lr_schedule: str | None = None,
        max_grad_norm: float | None = None,
        weight_decay: float | None = None,
        backend: str = "numpy",
    ) -> None:
        # scikit-learn's rule: store every parameter as given and check nothing (fit does)
        _params.store(self, locals())

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def _stratify(self) -> bool:
        return False

    def _fit(
        self, X: Any, y: Any, sample_weight: Any, incremental: bool, comm: Any = None
    ) -> MLPRegressor:
        first = self._begin_fit(incremental)

        def validate() -> tuple[Any, np.ndarray, np.ndarray | None]:
            X_, y_ = self._validate(X, y, comm, sample_weight, first, y_numeric=True)
            if y_.ndim == 2 and y_.shape[1] == 1:
                y_ = column_or_1d(y_, warn=True)
            sw = check_sample_weight(sample_weight, X_.shape[0])
            Y = y_.reshape(-1, 1) if y_.ndim == 1 else y_
            if not first and Y.shape[1] != self.network_.layer_sizes[-1]:
                raise ValueError(
                    f"y has {Y.shape[1]} output(s), the network was fitted with "
                    f"{self.network_.layer_sizes[-1]}"
                )
            return X_, Y, sw

        X, Y, sw = self._on_every_rank(comm, validate)
        head = "poisson" if self.loss == "poisson" else "regression"
        return self._run(X, Y, Y, sw, incremental=incremental, first=first, head=head, comm=comm)

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

    @stochastic_only
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch of mini-batch updates on (X, y), keeping the optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _values_from_logits(self, Z: np.ndarray) -> np.ndarray:
        out = np.exp(Z) if self.network_.head.name == "poisson" else Z
        return out[:, 0] if out.shape[1] == 1 else out

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values: shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        return self._values_from_logits(self._logits(X))

    def _score_logits(self, Z: np.ndarray, y: Any, w: Any) -> float:
        from sklearn.metrics import r2_score

        y = np.asarray(y)
        pred = self._values_from_logits(Z)
        if not np.isfinite(pred).all():  # scikit-learn's _score_with_function
            return float("nan")
        return float(r2_score(y.reshape(pred.shape), pred, sample_weight=w))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
