"""The estimators' callback: the validation score that ``early_stopping`` watches."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab.core.heads import per_sample_loss
from mlplab.train.callbacks import Callback


class ValidationScore(Callback):
    """Logs ``val_score`` (accuracy or R², weighted) and ``val_loss`` after each epoch.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        Scores the logits (``_score_logits``).
    X, Y : ndarray
        The held-out rows and their encoded targets (float64).
    y_raw : array-like
        Their targets as the user gave them (labels), for the score.
    w : ndarray or None
        Their sample weights: the loss is the weighted mean Σ w_i L(i) / Σ w_i.
    """

    def __init__(self, estimator: Any, X: np.ndarray, Y: np.ndarray, y_raw: Any, w: Any):
        self.estimator, self.X, self.Y, self.y_raw, self.w = estimator, X, Y, y_raw, w

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        net = self.trainer.net
        Z = net.logits(self.X)
        losses = per_sample_loss(net.head.name, Z.astype(np.float64), self.Y)
        logs["val_loss"] = float(np.average(losses, weights=self.w))
        logs["val_score"] = self.estimator._score_logits(Z, self.y_raw, self.w)
