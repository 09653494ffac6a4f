"""scikit-learn's MLPs and mlplab's, fitted side by side with the same parameters.

Same ``random_state``, same data, 200 iterations: the same ``n_iter_``, the same labels,
and ``predict_proba``/``predict`` within 1e-6 — in fact within ~1e-14 for the stochastic
solvers, which take the same steps in the same order and differ only in how a sum is
rounded. One case differs more, and :func:`test_lbfgs_rounding_growth` shows by how much
and why: L-BFGS on the diabetes regression, which has not converged after 200
iterations. Each scikit-learn/mlplab pair takes about 0.1-1 s on 2 cores.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from mlplab import sklearn as ml


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return X / 16.0, y
    if name == "iris":
        X, y = load_iris(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


SOLVERS = {
    "sgd-nesterov": {"solver": "sgd", "learning_rate_init": 0.01},
    "sgd-momentum": {"solver": "sgd", "nesterovs_momentum": False, "learning_rate_init": 0.01},
    "adam": {"solver": "adam"},
    "lbfgs": {"solver": "lbfgs"},
}
CASES = [
    (data, solver, early)
    for data in ("digits", "iris", "diabetes")
    for solver in SOLVERS
    for early in (False, True)
    if not (solver == "lbfgs" and early)  # early stopping is for the stochastic solvers
    and (data, solver) != ("diabetes", "lbfgs")  # test_lbfgs_rounding_growth
]


def _fit_both(data: str, **params):  # type: ignore[no-untyped-def]
    X, y = _data(data)
    kind = "MLPRegressor" if data == "diabetes" else "MLPClassifier"
    params = {"hidden_layer_sizes": (32,), "random_state": 0, "max_iter": 200, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = getattr(sk, kind)(**params).fit(X, y)
        ours = getattr(ml, kind)(**params).fit(X, y)
    return X, theirs, ours


@pytest.mark.parametrize(("data", "solver", "early_stopping"), CASES)
def test_same_model_as_scikit_learn(data, solver, early_stopping):
    X, theirs, ours = _fit_both(data, early_stopping=early_stopping, **SOLVERS[solver])
    assert ours.n_iter_ == theirs.n_iter_
    if hasattr(theirs, "predict_proba"):
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))  # the same labels
        np.testing.assert_allclose(
            ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-6
        )
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-6)
    for a, b in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    if solver != "lbfgs":  # the stochastic solvers' bookkeeping, epoch by epoch
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
        assert ours.t_ == theirs.t_
        if early_stopping:
            assert ours.best_loss_ is None and theirs.best_loss_ is None
            assert ours.validation_scores_ == pytest.approx(theirs.validation_scores_)
            assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
        else:
            assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    # (L-BFGS on iris drives the loss to ~3e-4, where rounding that grows through its
    # curvature pairs reaches 4e-9 relative on some BLAS kernels: AMD EPYC, Haswell kernel)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9, abs=1e-11)


def test_lbfgs_rounding_growth():
    """L-BFGS on diabetes (442 rows, 385 parameters, not converged at 200 iterations).

    mlplab computes the gradient as A[l-1]ᵀ((a − y)/n) + (α/n)W, scikit-learn as
    (A[l-1]ᵀ(a − y) + αW)/n: equal but for rounding, ~1e-16 relative. L-BFGS feeds every
    gradient into its curvature pairs and line searches, and on this overfitting,
    non-convex problem the difference grows about tenfold every 10 iterations:
    measured 2e-15 after 10 iterations, 2e-11 after 50, 3e-7 after 100, 5e-5 after 125,
    0.08 after 150 and 0.12 after 200 (largest |Δ predict|, targets of unit variance).
    Both runs still do 200 iterations and reach losses within 2% of each other.
    """
    previous = 0.0
    for max_iter, bound in ((10, 1e-12), (50, 1e-9), (100, 1e-5)):
        X, theirs, ours = _fit_both("diabetes", solver="lbfgs", max_iter=max_iter)
        assert ours.n_iter_ == theirs.n_iter_ == max_iter
        diff = np.abs(ours.predict(X) - theirs.predict(X)).max()
        assert diff < bound and diff >= previous  # it grows, from rounding
        previous = diff
    X, theirs, ours = _fit_both("diabetes", solver="lbfgs", max_iter=200)
    assert ours.n_iter_ == theirs.n_iter_ == 200
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=0.05)
    assert np.abs(ours.predict(X) - theirs.predict(X)).max() < 0.5


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_float32_data_trains_in_float32_like_scikit_learn(solver):
    X, y = _data("iris")
    X = X.astype(np.float32)
    theirs = sk.MLPClassifier(hidden_layer_sizes=(32,), random_state=0, max_iter=30, solver=solver)
    ours = ml.MLPClassifier(hidden_layer_sizes=(32,), random_state=0, max_iter=30, solver=solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, y)
        ours.fit(X, y)
    assert all(c.dtype == np.float32 for c in ours.coefs_ + ours.intercepts_)
    assert ours.predict_proba(X).dtype == theirs.predict_proba(X).dtype == np.float32
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("data", ["iris", "diabetes"])
def test_sample_weights_as_scikit_learn(data, solver):
    """Weighted mini-batches: J = Σ w L / Σ_B w and scikit-learn's L2 term α/(2 Σ_B w)."""
    X, y = _data(data)
    w = np.random.default_rng(0).integers(0, 4, size=X.shape[0]).astype(float)
    kind = "MLPRegressor" if data == "diabetes" else "MLPClassifier"
    params = dict(hidden_layer_sizes=(16,), random_state=0, max_iter=50, batch_size=32)
    params.update(solver=solver, alpha=0.01, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = getattr(sk, kind)(**params).fit(X, y, sample_weight=w)
        ours = getattr(ml, kind)(**params).fit(X, y, sample_weight=w)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-6)
    for a, b in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_multi_output_regression_reports_scikit_learns_loss_and_stops_with_it(solver):
    """scikit-learn's squared error with several outputs is averaged over them (its
    gradient sums them): loss_, loss_curve_ and the tol rule must be the same numbers, so
    the fit stops at the same epoch (tol=1e-2 makes that rule decide here)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    Y = np.c_[X[:, 0] + X[:, 1], 2 * X[:, 2], np.sin(X[:, 3])]
    params = dict(hidden_layer_sizes=(6,), solver=solver, alpha=1e-2, max_iter=60,
                  tol=1e-2, random_state=0, batch_size=16)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = sk.MLPRegressor(**params).fit(X, Y)
        ours = ml.MLPRegressor(**params).fit(X, Y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-9)
    if solver != "lbfgs":
        assert theirs.n_iter_ < params["max_iter"]  # the tol rule stopped it
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-8)
