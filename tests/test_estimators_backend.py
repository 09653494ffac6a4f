"""The estimators' ``backend=`` (issue 19): the same fit on PyTorch CPU tensors, the model
back on NumPy, a scikit-learn parameter like the others."""

from __future__ import annotations

import pickle
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from mlplab import MLPClassifier, MLPRegressor

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(90, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int), X @ rng.normal(size=(5, 2))


def _fit_both(est, X, y):
    ref, other = clone(est), clone(est).set_params(backend="torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        ref.fit(X, y)
        other.fit(X, y)
    return ref, other


@pytest.mark.parametrize("solver", ["sgd", "adam", "momentum"])
def test_classifier_on_torch_equals_numpy(solver):
    X, y, _ = _data()
    est = MLPClassifier((8, 4), solver=solver, max_iter=15, random_state=0)
    ref, other = _fit_both(est, X, y)
    assert type(other.network_._theta) is np.ndarray  # back on NumPy after the fit
    np.testing.assert_allclose(other.loss_curve_, ref.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(
        other.network_.get_flat_params(), ref.network_.get_flat_params(), atol=1e-12
    )
    np.testing.assert_array_equal(other.predict(X), ref.predict(X))
    other.partial_fit(X, y)  # continues from a NumPy optimizer state
    ref.partial_fit(X, y)
    np.testing.assert_allclose(other.coefs_[0], ref.coefs_[0], atol=1e-12)


def test_regressor_with_early_stopping_on_torch_equals_numpy():
    X, _, Y = _data(1)
    est = MLPRegressor(
        hidden_layer_sizes=(6,), solver="sgd", early_stopping=True, max_iter=12, random_state=0
    )
    ref, other = _fit_both(est, X, Y)
    np.testing.assert_allclose(other.validation_scores_, ref.validation_scores_, rtol=1e-9)
    np.testing.assert_allclose(other.predict(X), ref.predict(X), rtol=1e-9, atol=1e-12)


def test_backend_is_a_parameter_like_the_others():
    est = MLPClassifier(backend="torch")
    assert est.get_params()["backend"] == "torch"
    assert clone(est).backend == "torch"
    assert MLPRegressor().get_params()["backend"] == "numpy"
    X, y, _ = _data()
    with pytest.raises(InvalidParameterError, match="'backend' parameter .* 'jax'"):
        MLPClassifier(backend="jax").fit(X, y)
    with pytest.raises(ValueError, match="backend='torch' trains the stochastic solvers"):
        MLPClassifier(solver="lbfgs", backend="torch").fit(X, y)
    fitted = MLPClassifier((4,), max_iter=3, backend="torch", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    assert again.backend == "torch" and np.array_equal(again.predict(X), fitted.predict(X))
    old = fitted.__getstate__()
    del old["backend"]  # pickled before the parameter existed
    est = MLPClassifier.__new__(MLPClassifier)
    est.__setstate__(old)
    assert est.get_params()["backend"] == "numpy"


def test_a_clear_error_without_pytorch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    X, y, _ = _data()
    with pytest.raises(ImportError, match=r"backend='torch' needs PyTorch: pip install"):
        MLPClassifier((4,), max_iter=2, backend="torch").fit(X, y)
