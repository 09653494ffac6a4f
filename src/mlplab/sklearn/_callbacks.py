"""What the estimators add to the training loop to behave as scikit-learn's MLPs.

The loop is :class:`mlplab.train.loop.Trainer`; scikit-learn's semantics come in through
its two extension points:

* :class:`ShuffledOrder`, the epoch order provider: scikit-learn's shuffle of the row
  indices, from its RandomState, each epoch (or no shuffle);
* :class:`SklearnEpochEnd`, a callback run after each epoch: ``n_iter_``, ``t_``,
  ``loss_curve_``, the validation score of ``early_stopping``, the no-improvement count
  and its stopping rule, the learning-rate schedule (:class:`LearningRate`), verbose
  output and the ConvergenceWarning, in scikit-learn's order.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from mlplab.train import lr as _lr
from mlplab.train.callbacks import Callback


class ShuffledOrder:
    """Each epoch's order of the n rows: scikit-learn's ``shuffle`` of the previous
    epoch's order from the RandomState ``rs`` (or the rows in order, ``shuffle=False``).

    Under MPI (``comm``) rank 0 draws and broadcasts, so every rank has its batches.
    """

    def __init__(self, rs: np.random.RandomState, shuffle: bool, comm: Any = None) -> None:
        self.rs, self.shuffle, self.comm = rs, shuffle, comm
        self.idx: np.ndarray | None = None

    def __call__(self, n: int) -> np.ndarray:
        if self.idx is None or self.idx.shape[0] != n:
            self.idx = np.arange(n)
        if self.shuffle:
            # sklearn.utils.shuffle(idx, random_state=rs) without its argument checks
            # (a third of a millisecond per epoch): the same draw from the same RandomState
            perm = np.arange(n)
            self.rs.shuffle(perm)
            self.idx = self.idx[perm]
            if self.comm is not None:
                self.idx = self.comm.bcast(self.idx, root=0)
        return self.idx


class LearningRate:
    """scikit-learn's ``learning_rate`` schedules, for ``solver="sgd"`` (the estimator's
    ``_optimizer``; other solvers keep ``learning_rate_init``).

    ``"invscaling"``: α = α0 / (t + 1)^power_t after each epoch, t the samples seen;
    ``"adaptive"``: α / 5 each time the stopping rule fires, and stop below 1e-6.
    """

    def __init__(self, est: Any) -> None:
        self.learning_rate_init = float(est.learning_rate_init)
        self.learning_rate = self.learning_rate_init
        self.schedule = est.learning_rate if est.solver == "sgd" else "constant"
        self.power_t = float(est.power_t)

    def iteration_ends(self, time_step: int) -> None:
        if self.schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        """True: stop training; False: α was divided by 5, go on."""
        if self.schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class SklearnEpochEnd(Callback):
    """After each epoch, what scikit-learn's ``_fit_stochastic`` does after its batches.

    Parameters
    ----------
    est : MLPClassifier or MLPRegressor
        Its attributes are updated (``n_iter_``, ``t_``, ``loss_curve_``, ...).
    n_train : int
        Training rows per epoch (all processes together).
    validation : (X, y, sample_weight) or None
        The held-out rows of ``early_stopping`` (y as the user's labels or values).
    incremental : bool
        ``partial_fit``: one epoch, no ConvergenceWarning.
    make_optimizer : callable
        α ↦ the optimizer with that learning rate, when the schedule changes it.
    """

    def __init__(
        self,
        est: Any,
        n_train: int,
        validation: tuple[Any, Any, Any] | None,
        incremental: bool,
        make_optimizer: Callable[[float], Any],
    ) -> None:
        self.est, self.n_train, self.validation = est, n_train, validation
        self.incremental, self.make_optimizer = incremental, make_optimizer

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        est, rate = self.est, self.est._optimizer
        est.n_iter_ += 1
        est.loss_ = float(logs["loss"])
        est.t_ += self.n_train
        est.loss_curve_.append(est.loss_)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        self._update_no_improvement_count()
        if self.validation is not None:  # into the History (history_) too
            logs["val_score"] = est.validation_scores_[-1]
        before = rate.learning_rate
        rate.iteration_ends(est.t_)
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            msg = (
                f"{what} did not improve more than tol={est.tol:f} for "
                f"{est.n_iter_no_change} consecutive epochs."
            )
            if rate.trigger_stopping(msg, est.verbose):
                self.trainer.stop_training = True
                return
            est._no_improvement_count = 0
        if rate.learning_rate != before:
            self._use_rate(rate.learning_rate)
        if not self.incremental and est.n_iter_ == est.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=2,
            )

    def _use_rate(self, lr: float) -> None:
        """The next steps with learning rate ``lr`` (the optimizer state is kept)."""
        self.trainer.optimizer = self.make_optimizer(lr)
        _lr.set_scale(self.trainer, 1.0)

    def _update_no_improvement_count(self) -> None:
        est = self.est
        if self.validation is None:
            if est.loss_curve_[-1] > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if est.loss_curve_[-1] < est.best_loss_:
                est.best_loss_ = est.loss_curve_[-1]
            return
        X, y, w = self.validation
        score = est._validation_score(X, y, w)
        est.validation_scores_.append(score)
        if est.verbose:
            print(f"Validation score: {score:f}")
        if score < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            est._best_theta = np.array(self.trainer.net._theta, copy=True)
