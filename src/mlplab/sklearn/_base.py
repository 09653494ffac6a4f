"""The estimators' shared machinery: parameters, the fitted network's attributes, prediction.

:class:`_BaseMLP` holds what :class:`~mlplab.sklearn.classifier.MLPClassifier` and
:class:`~mlplab.sklearn.regressor.MLPRegressor` share: scikit-learn's parameter
constraints (checked by its ``_validate_params``), the attributes scikit-learn's MLPs
have, read from and written into the fitted :class:`~mlplab.core.network.Network`
(``coefs_``, ``intercepts_``, ``n_layers_``, ``out_activation_``), pickling as data, and
the forward pass of prediction. Training is :mod:`mlplab.sklearn._fitting`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from mlplab._typing import DenseParams
from mlplab.core import layer_options as _opts
from mlplab.core.backprop import forward as _forward
from mlplab.core.network import Network
from mlplab.sklearn import _backend, _fitting, _lecture2, _params
from mlplab.sklearn._data import reject_ragged, require_comm

T = TypeVar("T")
M = TypeVar("M", bound=Callable[..., Any])
E = TypeVar("E", bound="_BaseMLP")

SPARSE = ["csr", "csc"]
"""The sparse formats X may come in (as scikit-learn's MLPs): densified for training."""


def dense(X: Any) -> np.ndarray:
    """X as a dense array (a scipy.sparse matrix or array is expanded)."""
    dense_X: np.ndarray = X.toarray() if hasattr(X, "toarray") else X
    return dense_X


def stochastic_only(method: M) -> M:
    """scikit-learn's ``available_if``: ``partial_fit`` exists for the stochastic solvers
    only (typed here: scikit-learn's decorator has no type hints)."""
    described: M = available_if(lambda est: est._check_solver())(method)
    return described


class _BaseMLP(BaseEstimator):
    """Shared parameters, validation and prediction of the two estimators."""

    _parameter_constraints: ClassVar[dict[str, Any]] = _params.CONSTRAINTS
    # The fitted network, and what was assigned before a fit (see coefs_); class-level
    # annotations only (no values): scikit-learn's fitted check looks at vars(self).
    network_: Network
    _coefs_set: list[Any]
    _intercepts_set: list[Any]
    _out_activation_set: str

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """scikit-learn's, without the next lecture's options left at None (off)."""
        return _lecture2.visible(super().get_params(deep))

    def set_params(self, **params: Any) -> Any:
        """scikit-learn's, accepting the next lecture's options too."""
        return super().set_params(**_lecture2.take(self, params))

    def _check_params(self, incremental: bool = False) -> None:
        """Every constructor parameter: scikit-learn's constraints (not for ``partial_fit``
        on a fitted estimator, as scikit-learn's ``_fit_context`` skips them), then the
        rest."""
        if not (incremental and "network_" in vars(self)):
            self._validate_params()
        _params.check_params(self)
        _lecture2.check(self)
        _backend.check(self)

    def _check_solver(self) -> bool:
        """``partial_fit`` exists for the stochastic solvers only (as in scikit-learn)."""
        if self.solver not in _params.STOCHASTIC:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is "
                "not stochastic."
            )
        return True

    # -- fitted network ----------------------------------------------------------------
    @property
    def weights_(self) -> list[np.ndarray]:
        """W[l] for l = 1..L, shape (n[l], n[l-1]) as in the lecture (views, assignable)."""
        check_is_fitted(self)
        return self.network_.weights

    @property
    def biases_(self) -> list[np.ndarray]:
        """b[l] for l = 1..L, shape (n[l],) (views of the network's parameters)."""
        check_is_fitted(self)
        return self.network_.biases

    @property
    def coefs_(self) -> list[np.ndarray]:
        """scikit-learn's layout: ``coefs_[l-1] = W[l].T`` of shape (n[l-1], n[l]).

        Transposed *views* of :attr:`weights_`, so ``X @ coefs_[0] + intercepts_[0]`` is
        z[1] as in ``sklearn.neural_network``; writing into them, or assigning a new list
        of arrays of the same shapes, changes the model. Before the first fit, an assigned
        list is the starting point of a ``partial_fit`` or a ``warm_start`` fit, as there.
        """
        if "network_" not in vars(self) and "_coefs_set" in vars(self):
            return self._coefs_set
        check_is_fitted(self)
        return [W.T for W in self.network_.weights]

    @coefs_.setter
    def coefs_(self, coefs: list[Any]) -> None:
        if "network_" not in vars(self):
            self._coefs_set = coefs  # the user's starting parameters (see fit)
            return
        self.network_.weights = [np.asarray(c).T for c in coefs]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """scikit-learn's name for :attr:`biases_` (assignable, as ``coefs_``)."""
        if "network_" not in vars(self) and "_intercepts_set" in vars(self):
            return self._intercepts_set
        return self.biases_

    @intercepts_.setter
    def intercepts_(self, intercepts: list[Any]) -> None:
        if "network_" not in vars(self):
            self._intercepts_set = intercepts
            return
        self.network_.biases = [np.asarray(b) for b in intercepts]

    @property
    def n_layers_(self) -> int:
        """Number of layers counting the input layer (L + 1), as in scikit-learn."""
        if "network_" not in vars(self) and "_coefs_set" in vars(self):
            return len(self._coefs_set) + 1
        check_is_fitted(self)
        return self.network_.L + 1

    @n_layers_.setter
    def n_layers_(self, value: int) -> None:
        """Accepted before a fit from assigned ``coefs_`` (which then decide it)."""
        if "network_" in vars(self) and value != self.network_.L + 1:
            raise AttributeError("n_layers_ follows the fitted network; assign coefs_ instead")

    @property
    def out_activation_(self) -> str:
        """'logistic', 'softmax', 'identity' or 'exp' (the head's link)."""
        if "network_" not in vars(self) and "_out_activation_set" in vars(self):
            return self._out_activation_set
        check_is_fitted(self)
        return _params.OUT_ACTIVATION[self.network_.head.name]

    @out_activation_.setter
    def out_activation_(self, value: str) -> None:
        """Accepted before a fit (the targets decide it, as in scikit-learn's ``fit``)."""
        if "network_" in vars(self) and value != self.out_activation_:
            raise AttributeError("out_activation_ follows the targets and loss")
        if "network_" not in vars(self):
            self._out_activation_set = value

    # -- fitting -----------------------------------------------------------------------
    def _begin_fit(self, incremental: bool) -> bool:
        """The parameters checked; True when this fit starts a new network."""
        self._check_params(incremental)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        started = "network_" in vars(self) or "_coefs_set" in vars(self)
        return not started or (not self.warm_start and not incremental)

    def _validate(
        self, X: Any, y: Any, comm: Any, sample_weight: Any, first: bool, **kw: Any
    ) -> tuple[Any, Any]:
        """X, y through scikit-learn's ``validate_data`` (``kw``: its options for this
        estimator's targets); what ``comm`` rules out."""
        if comm is not None:
            self._check_comm(comm, sample_weight)
        reject_ragged(X)
        dtype = (np.float64, np.float32)
        X_y: tuple[Any, Any] = validate_data(
            self, X, y, reset=first, accept_sparse=SPARSE, dtype=dtype, multi_output=True, **kw
        )
        return X_y

    def _run(self: E, X: Any, Y: np.ndarray, y_raw: Any, sw: Any, **how: Any) -> E:
        """Train (:func:`mlplab.sklearn._fitting.fit`); returns self."""
        _fitting.fit(self, dense(X), Y, y_raw, sw, **how)
        return self

    @staticmethod
    def _on_every_rank(comm: Any, check: Callable[[], T]) -> T:
        """``check()``; with ``comm`` on this rank's shard, and an error on any rank is
        raised on every rank (:func:`mlplab.train.mpi.agree`)."""
        if comm is None:
            return check()
        from mlplab.train.mpi import agree

        require_comm(comm)
        checked: T = agree(comm, check)
        return checked

    def _check_comm(self, comm: Any, sample_weight: Any) -> None:
        """What data-parallel fitting (``fit(..., comm=...)``) does not support."""
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with comm= (distributed fit)")
        if self.early_stopping:
            raise ValueError(
                "early_stopping=True is not supported with comm= (distributed fit): each "
                "rank would hold out a different validation set"
            )
        if self.solver == "lbfgs":
            raise ValueError("solver='lbfgs' is not supported with comm= (distributed fit)")

    def _score_logits(self, Z: np.ndarray, y: Any, w: Any) -> float:
        raise NotImplementedError

    def _validation_score(self, X: np.ndarray, y: Any, w: Any) -> float:
        """scikit-learn's ``_score`` on held-out rows: NaN when a predicted value is not
        finite (a regressor's); a classifier's labels from non-finite logits are those
        scikit-learn's ``predict`` gives (the first class where the probabilities are NaN),
        and score as they are."""
        with np.errstate(over="ignore", invalid="ignore"):
            Z = self.network_.logits(X)
            return self._score_logits(Z, y, w)

    def _loss_grad_lbfgs(self, packed: np.ndarray, X: Any, Y: Any, sample_weight: Any = None,
                         *buffers: Any) -> tuple[float, np.ndarray]:  # fmt: skip
        """scikit-learn's private L-BFGS objective, kept for its own tests: J and ∇J at
        θ packed its way (every ``coefs_`` flattened, then every ``intercepts_``); Y as
        the head takes it. ``buffers`` (its preallocated lists) are not needed here."""
        from mlplab.train.lbfgs import LossAndGradient

        net, packed = self.network_, np.asarray(packed, dtype=np.float64)
        shapes = [W.T.shape for W in net.weights]
        cut = np.cumsum([a * b for a, b in shapes] + [b for _, b in shapes])[:-1]
        parts = np.split(packed, cut)
        net.weights = [p.reshape(shape).T for p, shape in zip(parts, shapes, strict=False)]
        net.biases = parts[len(shapes) :]
        Xs = net._prepare_X(dense(X))
        J, flat = LossAndGradient(net, Xs, net._prepare_y(Y, Xs.shape[0]), sample_weight)(
            net._theta
        )
        grads = net._views(flat)
        return J, np.hstack([g.W.T.ravel() for g in grads] + [g.b for g in grads])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- pickling: the network travels as data (config + θ), never as functions ----------
    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        net = state.get("network_")
        if isinstance(net, Network):
            state = dict(state)
            state["network_"] = net.state_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = {"backend": "numpy", **state}  # pickled before the parameter existed
        net = state.get("network_")
        if isinstance(net, dict):
            state = dict(state)
            state["network_"] = Network.from_state_dict(net)
        super().__setstate__(state)

    # -- prediction ------------------------------------------------------------------
    def _logits(self, X: Any) -> np.ndarray:
        """z[L] for X, in X's precision as scikit-learn computes it.

        The parameters are used in ``result_type(X, parameters)``: float32 X on float32
        parameters gives float32, anything else float64 (float32 parameters upcast), so
        a float64 prediction never depends on the batch it is made in.
        """
        check_is_fitted(self)
        reject_ragged(X)
        X = dense(validate_data(self, X, reset=False, accept_sparse=SPARSE))
        net = self.network_
        dt = np.result_type(X.dtype, net.dtype, np.float32)
        if net.standardizer is not None:
            X = net.standardizer.transform(X)
        X = np.asarray(X, dtype=dt)
        params = [
            DenseParams(np.asarray(W, dtype=dt), np.asarray(b, dtype=dt)) for W, b in net.params
        ]
        norms = _lecture2.norms64(net) if dt == np.float64 else _opts.inference_norms(net)
        Z, _ = _forward(params, X, net.hidden, norms)
        return Z
