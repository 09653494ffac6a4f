"""A fit whose steps diverge, with ``early_stopping``: scikit-learn goes on with NaN
parameters (NaN losses, the validation scores of a NaN model) until its stopping rule or
``max_iter`` ends the fit, and keeps the best epoch; mlplab's estimators end the same way
(mlplab.sklearn._fitting._nan_epochs), side by side."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

sk = pytest.importorskip("sklearn.neural_network")

from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from mlplab import sklearn as ml  # noqa: E402


def _fit(cls, X, y, **params):
    """(the fitted estimator or the error message, the ConvergenceWarnings raised)."""
    with warnings.catch_warnings(record=True) as seen, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            out = cls(**params).fit(X, y)
        except ValueError as exc:
            out = str(exc)
    return out, sum(issubclass(w.category, ConvergenceWarning) for w in seen)


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-6)
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("n_iter_no_change", [3, 30])  # stops early; runs to max_iter
def test_diverging_classifier_with_early_stopping_ends_as_scikit_learns(n_iter_no_change):
    X, y = load_digits(return_X_y=True)
    params = dict(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=1e8, momentum=0.9)
    params.update(early_stopping=True, max_iter=40, n_iter_no_change=n_iter_no_change)
    (theirs, w_theirs), (ours, w_ours) = (
        _fit(cls.MLPClassifier, X, y, random_state=0, **params) for cls in (sk, ml)
    )
    assert not isinstance(theirs, str) and not isinstance(ours, str)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_ and w_ours == w_theirs
    assert math.isnan(theirs.loss_curve_[-1]) and math.isnan(ours.loss_curve_[-1])  # diverged
    assert _same(ours.validation_scores_, theirs.validation_scores_)
    assert ours.best_validation_score_ == theirs.best_validation_score_
    assert (ours.predict(X) == theirs.predict(X)).all()  # the best (finite) epoch's model


def test_diverging_regressor_with_early_stopping_runs_to_max_iter_as_scikit_learns():
    X, y = make_regression(n_samples=300, n_features=5, noise=1.0, random_state=0)
    params = dict(hidden_layer_sizes=(10,), solver="sgd", learning_rate_init=10.0, momentum=0.9)
    params.update(early_stopping=True, max_iter=15, n_iter_no_change=3, random_state=0)
    fits = [_fit(cls.MLPRegressor, X, y, **params) for cls in (sk, ml)]
    (theirs, w_theirs), (ours, w_ours) = fits
    assert not isinstance(theirs, str) and not isinstance(ours, str)  # the best epoch is finite
    assert ours.n_iter_ == theirs.n_iter_ == 15 and w_ours == w_theirs == 1
    assert math.isnan(theirs.validation_scores_[-1]) and math.isnan(ours.validation_scores_[-1])
    assert _same(ours.validation_scores_, theirs.validation_scores_)
    # The diverging epoch's own loss is not compared: scikit-learn adds that epoch's
    # batch losses up to the bad step and after it (inf here); mlplab stopped at the step
    # and records NaN. Before and after it the curves agree.
    k = next(i for i, v in enumerate(theirs.loss_curve_) if not math.isfinite(v))
    assert math.isnan(ours.loss_curve_[k]) and _same(ours.loss_curve_[:k], theirs.loss_curve_[:k])
    assert _same(ours.loss_curve_[k + 1 :], theirs.loss_curve_[k + 1 :])
