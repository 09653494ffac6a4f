"""The estimators' fit runs small products on one BLAS thread (mlplab.sklearn._fitting)."""

import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from mlplab.sklearn import _fitting  # noqa: E402


def _blas_threads_now() -> set[int]:
    return {m["num_threads"] for m in threadpoolctl.threadpool_info() if m["user_api"] == "blas"}


def test_small_products_run_on_one_blas_thread_and_the_limit_is_lifted_after():
    before = _blas_threads_now()
    with _fitting._blas_threads([64, 100, 10], 200, 1800):  # digits: 200 × 64 × 100
        assert _blas_threads_now() == {1}
    assert _blas_threads_now() == before


@pytest.mark.parametrize(
    ("sizes", "B", "steps"),
    [
        ([64, 100, 10], 200, 99),  # too short a fit to pay for the switch
        ([784, 2048, 10], 200, 1800),  # 200 × 784 × 2048 multiply-adds: BLAS threads help
    ],
)
def test_short_fits_and_large_products_keep_the_blas_threads(sizes, B, steps):
    before = _blas_threads_now()
    with _fitting._blas_threads(sizes, B, steps):
        assert _blas_threads_now() == before


def _spy_blocks(monkeypatch) -> list[bool]:
    """The ``blocks`` of every workspace the training step asks for."""
    from mlplab.fast import workspace as _ws
    from mlplab.train import step as _step

    seen: list[bool] = []
    real = _ws.workspace_for

    def spy(cache, net, n_samples, blocks=False):  # type: ignore[no-untyped-def]
        seen.append(blocks)
        return real(cache, net, n_samples, blocks)

    monkeypatch.setattr(_step._ws, "workspace_for", spy)
    return seen


def test_estimator_runs_blocked_products_and_still_fits_scikit_learns_model(monkeypatch):
    """digits with (100,) units: the products of 200 × 64 × 100 run in two row blocks
    (mlplab.fast.workspace.row_blocks) on one BLAS thread; the model is scikit-learn's."""
    import warnings

    import numpy as np
    from sklearn import neural_network as sk
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    from mlplab import sklearn as ml

    X, y = load_digits(return_X_y=True)
    params = dict(hidden_layer_sizes=(100,), max_iter=12, random_state=0, tol=0.0)
    seen = _spy_blocks(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ml.MLPClassifier(**params).fit(X / 16, y)  # 12 × 9 = 108 steps
        theirs = sk.MLPClassifier(**params).fit(X / 16, y)
    assert seen and all(seen)
    assert ours.n_iter_ == theirs.n_iter_ == 12
    assert np.abs(ours.predict_proba(X / 16) - theirs.predict_proba(X / 16)).max() < 1e-10
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)


def test_mlplab_fit_keeps_one_call_per_product(monkeypatch):
    """mlplab.fit's results stay bit for bit those of earlier versions: no row blocks."""
    import numpy as np

    import mlplab

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(400, 64)), rng.integers(0, 10, 400)
    net = mlplab.Network([64, 100, 10], output="multiclass", seed=0)
    seen = _spy_blocks(monkeypatch)
    mlplab.fit(net, X, y, epochs=2, batch_size=200)
    # the first step of each size asks for the workspace (train/fitstep.py prepares the
    # others' calls on that same workspace: row blocks only for the estimators' trainers)
    assert seen and not any(seen)
