"""The estimators' shared machinery: parameters, the fitted network, training.

:class:`_BaseMLP` holds what :class:`~mlplab.sklearn.classifier.MLPClassifier` and
:class:`~mlplab.sklearn.regressor.MLPRegressor` share: the constructor parameters, the
network built on the first ``fit`` (with a Standardizer fit on the weighted rows), one
:class:`~mlplab.train.loop.Trainer` run per ``fit`` or ``partial_fit`` (sample weights
go to ``Trainer.fit(sample_weight=...)``), the scikit-learn attributes read from the
network, pickling as data, and float64 logits for prediction.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from mlplab._typing import DenseParams
from mlplab.core.network import Network
from mlplab.core.network import forward as _forward
from mlplab.sklearn import _lecture2, _params
from mlplab.sklearn._callbacks import ValidationScore
from mlplab.sklearn._data import reject_ragged, require_comm, weighted_standardizer
from mlplab.train.callbacks import Callback, EarlyStopping, GradientNormLogger
from mlplab.train.loop import Trainer

T = TypeVar("T")


class _BaseMLP(BaseEstimator):
    """Shared parameters, validation and training of the two estimators."""

    _head_single: str = "regression"

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        momentum: float = 0.9,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: bool = False,
        warm_start: bool = False,
        init: str | None = None,
        dtype: str = "float32",
        normalize: bool = True,
        dropout: float | None = None,
        batch_norm: bool | None = None,
        lr_schedule: str | None = None,
        max_grad_norm: float | None = None,
        weight_decay: float | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.init = init
        self.dtype = dtype
        self.normalize = normalize
        self.dropout = dropout  # the next lecture (sklearn/_lecture2.py)
        self.batch_norm = batch_norm
        self.lr_schedule = lr_schedule
        self.max_grad_norm = max_grad_norm
        self.weight_decay = weight_decay

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """scikit-learn's, without the next lecture's options left at None (off)."""
        return _lecture2.visible(super().get_params(deep))

    def set_params(self, **params: Any) -> Any:
        """scikit-learn's, accepting the next lecture's options too."""
        return super().set_params(**_lecture2.take(self, params))

    def _check_params(self) -> None:
        """Every constructor parameter (:func:`mlplab.sklearn._params.check_params`)."""
        _params.check_params(self)
        _lecture2.check(self)

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
        z[1] as in ``sklearn.neural_network``; writing into them changes the model.
        """
        check_is_fitted(self)
        return [W.T for W in self.network_.weights]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """scikit-learn's name for :attr:`biases_`."""
        return self.biases_

    @property
    def n_layers_(self) -> int:
        """Number of layers counting the input layer (L + 1), as in scikit-learn."""
        check_is_fitted(self)
        return self.network_.L + 1

    @property
    def out_activation_(self) -> str:
        """'logistic', 'softmax' or 'identity' (the head's link)."""
        check_is_fitted(self)
        return _params.OUT_ACTIVATION[self.network_.head.name]

    # -- training ------------------------------------------------------------------------
    def _new_network(
        self, n_features: int, n_out: int, head: str, X: Any, sw: Any, comm: Any = None
    ) -> None:
        rng = _params.random_generator(self.random_state)
        std = None
        if self.normalize and comm is not None:  # μ, σ of all ranks' rows together
            from mlplab.train.mpi import fit_standardizer

            std = fit_standardizer(X, comm)
        elif self.normalize:
            std = weighted_standardizer(X, sw)
        self.network_ = Network(
            [n_features, *_params.hidden_sizes(self), n_out],
            hidden=_params.ACTIVATION_NAMES[self.activation],
            output=head,
            init=self.init,
            seed=rng,
            dtype=self.dtype,
            l2=float(self.alpha),
            standardizer=std,
            **_lecture2.network_options(self),
        )
        self._random = rng
        self._opt_state = None
        self._opt_solver = None
        self._step = 0
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_: list[float] = []
        self.history_: dict[str, list[float]] = {}
        self.best_loss_: float | None = np.inf
        self.validation_scores_: list[float] | None = None
        self.best_validation_score_: float | None = None

    def _train(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        y_raw: Any,
        sw: np.ndarray | None,
        epochs: int,
        incremental: bool,
        comm: Any = None,
    ) -> None:
        """Run the Trainer on already-encoded targets Y (what ``check_y`` accepts).

        ``sw`` (sample weights, or None) goes to ``Trainer.fit(sample_weight=...)``: each
        mini-batch's cost is J = Σ w_i L(i) / Σ w_i and the L2 term that of the data with
        row i repeated w_i times. With ``comm``, X and Y are this MPI rank's shard and the
        MPI strategy sums the gradients of the global mini-batches over all ranks.
        """
        net = self.network_
        net.l2 = float(self.alpha)
        if sw is not None:
            _lecture2.refuse_weights(net)
        val_cb = None
        if self.early_stopping and not incremental:
            X, Y, y_raw, sw, val_cb = self._split_validation(X, Y, y_raw, sw)
        trainer, n = self._trainer(X.shape[0], self._callbacks(val_cb, incremental), comm)
        try:
            history = trainer.fit(
                X, Y, epochs=epochs, batch_size=_params.batch_size(self, n), sample_weight=sw
            )
        finally:
            self._opt_state, self._opt_solver = trainer.opt_state, self.solver
            self._step = trainer.step
        done = len(history.epoch)
        self._record(history, done * n, val_cb is not None)
        if not incremental and done == epochs and not trainer.stop_training:
            warnings.warn(
                f"{type(self).__name__}: stochastic optimizer reached max_iter={self.max_iter} "
                "epochs and the optimization has not converged yet",
                ConvergenceWarning,
                stacklevel=4,  # the user's fit() call
            )

    def _callbacks(self, val_cb: ValidationScore | None, incremental: bool) -> list[Callback]:
        """Gradient norms, and the stopping rule: on the validation score with
        ``early_stopping``, else on the training cost (not for ``partial_fit``)."""
        callbacks: list[Callback] = [GradientNormLogger()]
        if val_cb is not None:
            stop = EarlyStopping(
                "val_score",
                patience=self.n_iter_no_change,
                min_delta=float(self.tol),
                mode="max",
                restore_best=True,
            )
            callbacks += [val_cb, stop]
        elif not incremental:
            callbacks.append(
                EarlyStopping("loss", patience=self.n_iter_no_change, min_delta=float(self.tol))
            )
        return callbacks

    def _trainer(self, n: int, callbacks: list[Callback], comm: Any) -> tuple[Trainer, int]:
        """A Trainer that continues the estimator's run (optimizer state, step, epoch),
        and the number of training rows over all MPI ranks."""
        strategy = None
        if comm is not None:  # sample weights and early stopping were refused in _check_comm
            from mlplab.train.mpi import MPI, global_rows

            n = global_rows(comm, n)  # |B| ("auto"), t_: over all ranks' rows
            strategy = MPI(comm)
        optimizer = _params.make_optimizer(self)
        optimizer = _lecture2.optimizer(
            self, optimizer, n, _params.batch_size(self, n), self.max_iter
        )
        trainer = Trainer(
            self.network_,
            optimizer,
            callbacks,
            self._random,
            strategy=strategy,
            verbose=bool(self.verbose),
        )
        if self._opt_state is not None and self._opt_solver == self.solver:
            trainer.opt_state = self._opt_state  # continue (warm start, partial_fit)
        trainer.step = self._step
        trainer.epoch = self.n_iter_
        return trainer, n

    def _record(self, history: Any, samples: int, validated: bool) -> None:
        """The scikit-learn attributes after a fit: n_iter_, t_, loss_curve_, ..."""
        self.n_iter_ += len(history.epoch)
        self.t_ += samples
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(values)
        self.loss_curve_ = list(self.history_.get("loss", []))
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        if validated:
            self.validation_scores_ = list(self.history_.get("val_score", []))
            self.best_validation_score_ = max(self.validation_scores_, default=None)
            self.best_loss_ = None
        elif self.loss_curve_:
            self.best_loss_ = float(min(self.loss_curve_))

    def _split_validation(self, X, Y, y_raw, sw):  # type: ignore[no-untyped-def]
        from sklearn.model_selection import train_test_split

        stratify = y_raw if self._stratify() else None
        parts = [X, Y, np.asarray(y_raw)] + ([sw] if sw is not None else [])
        try:
            split = train_test_split(
                *parts,
                test_size=self.validation_fraction,
                random_state=int(self._random.integers(2**31 - 1)),
                stratify=stratify,
            )
        except ValueError as exc:
            raise ValueError(
                f"early_stopping could not hold out validation_fraction="
                f"{self.validation_fraction} of {X.shape[0]} samples: {exc}"
            ) from None
        X_tr, X_val, Y_tr, Y_val, y_tr, y_val = split[:6]
        sw_tr, sw_val = (split[6], split[7]) if sw is not None else (None, None)
        Y_val = self.network_._prepare_y(Y_val, X_val.shape[0]).astype(np.float64)
        cb = ValidationScore(self, X_val, Y_val, y_val, sw_val)
        return X_tr, Y_tr, y_tr, sw_tr, cb

    def _stratify(self) -> bool:
        return False

    def _validate(
        self, X: Any, y: Any, sample_weight: Any, comm: Any, first: bool, **kwargs: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """The parameters, what ``comm`` rules out, and X, y through scikit-learn's
        ``validate_data`` (``kwargs``: its options for this estimator's targets)."""
        self._check_params()
        if comm is not None:
            self._check_comm(comm, sample_weight)
        reject_ragged(X)
        dtype = (np.float64, np.float32)
        return validate_data(self, X, y, reset=first, dtype=dtype, multi_output=True, **kwargs)

    @staticmethod
    def _on_every_rank(comm: Any, check: Callable[[], T]) -> T:
        """``check()``; with ``comm`` on this rank's shard, and an error on any rank is
        raised on every rank (:func:`mlplab.train.mpi.agree`)."""
        if comm is None:
            return check()
        from mlplab.train.mpi import agree

        require_comm(comm)
        return agree(comm, check)

    def _check_comm(self, comm: Any, sample_weight: Any) -> None:
        """What data-parallel fitting (``fit(..., comm=...)``) does not support."""
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with comm= (distributed fit)")
        if self.early_stopping:
            raise ValueError(
                "early_stopping=True is not supported with comm= (distributed fit): each "
                "rank would hold out a different validation set"
            )

    def _score_logits(self, Z: np.ndarray, y: Any, w: Any) -> float:
        raise NotImplementedError

    # -- pickling: the network travels as data (config + θ), never as functions ----------
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        net = state.get("network_")
        if isinstance(net, Network):
            state = dict(state)
            state["network_"] = net.state_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        net = state.get("network_")
        if isinstance(net, dict):
            state = dict(state)
            state["network_"] = Network.from_state_dict(net)
        super().__setstate__(state)

    def _logits(self, X: Any) -> np.ndarray:
        """z[L] for X, evaluated in float64 from the fitted parameters.

        Training runs in ``dtype``; inference upcasts the parameters so that a row's
        prediction does not depend on the batch it is predicted in (float32 BLAS rounds
        differently for different batch sizes) and comes out as float64, as
        scikit-learn's tools expect. With ``dtype="float64"`` this is exactly
        ``network_.logits(X)``.
        """
        check_is_fitted(self)
        reject_ragged(X)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        net = self.network_
        if net.standardizer is not None:
            X = net.standardizer.transform(X)
        params = [
            DenseParams(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
            for W, b in net.params
        ]
        Z, _ = _forward(params, X, net.hidden, _lecture2.norms64(net))
        return Z
