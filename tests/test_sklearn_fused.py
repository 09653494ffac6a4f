"""The estimators' fused step (mlplab.train.fitstep on their ``blocks`` workspace, the
calls of mlplab.train.blockcalls): the same bits as the trainer's chain of calls, on every
route it takes, and the chain where it does not apply."""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pytest
from sklearn.datasets import load_digits

from mlplab import MLPClassifier, MLPRegressor
from mlplab.train import fitstep

X, y = load_digits(return_X_y=True)
X, y = X[:600], y[:600]  # 12 batches of 50: the estimators' step (≥ 100 steps) in 9 epochs


def _fit(make, A, b, counted_steps, fused, then_partial=False, **fit_kw):
    """(fitted estimator, steps the trainer's chain ran, steps the fused step was asked
    for, its own or through the chain); ``then_partial``: and a ``partial_fit`` on 100
    rows after the fit; ``fused=False``: every step through the chain."""
    with counted_steps(fused, fitstep.FitStep, "step") as counts, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = make().fit(A, b, **fit_kw)
        if then_partial:
            est.partial_fit(A[:100], b[:100])
    return est, counts["chain"], counts["fused"]


def _same_bits(a, b):
    for u, v in zip([*a.coefs_, *a.intercepts_], [*b.coefs_, *b.intercepts_], strict=True):
        assert u.dtype == v.dtype
        assert np.array_equal(u, v)
    assert a.loss_curve_ == b.loss_curve_
    assert a.history_ == b.history_
    assert a.n_iter_ == b.n_iter_ and a.t_ == b.t_
    assert getattr(a, "validation_scores_", None) == getattr(b, "validation_scores_", None)


CASES = {
    "adam float32": dict(batch_size=50, max_iter=9, dtype="float32"),
    "adam float64, L2 and early stopping": dict(
        batch_size=50, max_iter=12, alpha=0.01, early_stopping=True
    ),
    "sgd tanh, two layers, adaptive rate": dict(
        hidden_layer_sizes=(40, 30),
        solver="sgd",
        activation="tanh",
        batch_size=50,
        max_iter=12,
        learning_rate="adaptive",
        n_iter_no_change=2,
        tol=0.5,
    ),
    "sgd logistic, invscaling, no Nesterov": dict(
        solver="sgd",
        activation="logistic",
        nesterovs_momentum=False,
        learning_rate="invscaling",
        batch_size=50,
        max_iter=9,
    ),
    "identity, no L2": dict(activation="identity", alpha=0.0, batch_size=50, max_iter=9),
    "adam float32, L2, a short last batch": dict(
        batch_size=77, max_iter=14, alpha=0.05, dtype="float32"
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fused_step_gives_the_chains_bits(name, counted_steps):
    make = partial(MLPClassifier, **{"hidden_layer_sizes": (64,), **CASES[name]}, random_state=0)
    then = not make().early_stopping  # and a partial_fit continues the same way
    chained, n_chain, _ = _fit(make, X, y, counted_steps, False, then)
    fused, n_first, n_fused = _fit(make, X, y, counted_steps, True, then)
    _same_bits(chained, fused)
    assert n_fused == n_chain > 100  # every step went through the fused step's call ...
    # ... and the chain ran only the first step of each batch size of each fit call
    assert n_first <= (4 if "short" in name else 3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fused_step_binary_and_regression_heads(dtype, counted_steps):
    yb = (y > 4).astype(int)
    Yr = np.column_stack([X[:, :8].sum(axis=1), X[:, 8:16].mean(axis=1)]) / 50
    for cls, target in ((MLPClassifier, yb), (MLPRegressor, Yr), (MLPRegressor, Yr[:, 0])):
        p = dict(hidden_layer_sizes=(64,), batch_size=50, max_iter=9, dtype=dtype, random_state=1)
        make = partial(cls, **p)
        chained, _, _ = _fit(make, X, target, counted_steps, False)
        fused, n_first, n_fused = _fit(make, X, target, counted_steps, True)
        _same_bits(chained, fused)
        assert n_fused > 100 and n_first <= 2


def test_warm_start_and_a_regressor_with_early_stopping(counted_steps):
    """A warm-started second fit (on fewer rows: other batch sizes) and a two-output
    regressor with L2, early stopping and a short last batch: the chain's bits."""
    Yr = np.column_stack([X[:, :8].sum(axis=1), X[:, 8:16].mean(axis=1)]) / 50

    def warm():
        est = MLPClassifier((32,), batch_size=64, max_iter=12, warm_start=True, random_state=0)
        return est.fit(X, y).set_params(max_iter=5)

    def reg():
        return MLPRegressor(hidden_layer_sizes=(32,), batch_size=70, max_iter=20, alpha=0.1,
                            early_stopping=True, random_state=0)  # fmt: skip

    for make, target, rows in ((warm, y, 300), (reg, Yr, 600)):
        chained, n_chain, _ = _fit(make, X[:rows], target[:rows], counted_steps, False)
        fused, n_first, n_fused = _fit(make, X[:rows], target[:rows], counted_steps, True)
        _same_bits(chained, fused)
        assert n_fused == n_chain > 100 and n_first <= 4  # the first of each size and fit


def test_sample_weights_run_the_chain(counted_steps):
    """With sample weights the fused step does not apply: every step is the trainer's
    (the fit's step is not even made)."""
    w = np.linspace(0.5, 2.0, X.shape[0])
    make = lambda: MLPClassifier((64,), batch_size=50, max_iter=9, random_state=0)  # noqa: E731
    chained, _, _ = _fit(make, X, y, counted_steps, False, sample_weight=w)
    fused, n_first, n_fused = _fit(make, X, y, counted_steps, True, sample_weight=w)
    _same_bits(chained, fused)
    assert n_first > 100 and n_fused == 0


@pytest.mark.parametrize("early_stopping", [False, True])
def test_divergence_in_a_fused_step_ends_the_fit_as_the_chain(early_stopping, counted_steps):
    """A step that overflows mid-fit: the same error (or, with early stopping, the same
    NaN epochs and kept parameters) as through the chain."""
    Xbig = X * 1e4  # J overflows at step 20, mid-epoch: a fused step's

    def make():
        return MLPClassifier(
            (64,), solver="sgd", learning_rate_init=10.0, momentum=0.99, batch_size=50,
            max_iter=12, early_stopping=early_stopping, random_state=0, dtype="float32",
        )  # fmt: skip

    outcomes = []
    for fused in (False, True):
        try:
            est, _, n_fused = _fit(make, Xbig, y, counted_steps, fused)
        except ValueError as exc:
            outcomes.append(str(exc))
        else:
            outcomes.append((est.n_iter_, list(map(str, est.loss_curve_)), est.validation_scores_))
    assert outcomes[0] == outcomes[1]
    assert "non-finite parameter weights" in outcomes[0]
    if not early_stopping:
        assert "diverged at epoch 1, step 20 (mini-batch 8 of 12" in outcomes[0]


def test_fused_step_on_a_large_X_gathered_without_its_copy(monkeypatch, counted_steps):
    """X over ONES_COPY_MAX: the rows go into the batch buffer's first columns (no [X, 1]
    copy), in the fused step as in the chain."""
    from mlplab.fast import workspace as _ws

    monkeypatch.setattr(_ws, "ONES_COPY_MAX", 0)
    make = partial(MLPClassifier, hidden_layer_sizes=(64,), batch_size=50, max_iter=9,
                   random_state=0)  # fmt: skip
    chained, _, _ = _fit(make, X, y, counted_steps, False)
    fused, n_first, n_fused = _fit(make, X, y, counted_steps, True)
    _same_bits(chained, fused)
    assert n_fused > 100 and n_first <= 2


def test_no_hidden_layer_multiclass_trains_as_scikit_learn(counted_steps):
    """hidden_layer_sizes=() with 10 classes on the estimators' step (≥ 100 steps): a[0]
    with its column of ones meets the column head directly (before m15 a NumPy shape
    error); scikit-learn's model, and the fused step's bits equal to the chain's."""
    from sklearn.neural_network import MLPClassifier as SkMLP

    p = dict(hidden_layer_sizes=(), batch_size=50, max_iter=9, random_state=0)
    chained, _, _ = _fit(partial(MLPClassifier, **p), X, y, counted_steps, False)
    fused, n_first, n_fused = _fit(partial(MLPClassifier, **p), X, y, counted_steps, True)
    _same_bits(chained, fused)
    assert n_fused == 108 and n_first <= 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SkMLP(**p).fit(X, y)
    assert sk.n_iter_ == fused.n_iter_
    assert np.abs(sk.predict_proba(X) - fused.predict_proba(X)).max() < 1e-6
    assert (sk.predict(X) == fused.predict(X)).all()
