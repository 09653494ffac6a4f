import numpy as np
import pytest

from mlplab.core.data import (
    DATASETS,
    Standardizer,
    load_dataset,
    minibatches,
    one_hot,
    train_test_split,
)


def test_standardizer_uses_training_statistics_only(rng):
    X_tr = rng.normal(3, 10, size=(100, 4))
    X_te = rng.normal(-50, 1, size=(10, 4))
    std = Standardizer().fit(X_tr)
    Z = std.transform(X_tr)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(std.transform(X_te), (X_te - X_tr.mean(0)) / X_tr.std(0))
    np.testing.assert_allclose(std.inverse_transform(std.transform(X_te)), X_te)


def test_constant_feature_does_not_divide_by_zero():
    X = np.c_[np.arange(5.0), np.full(5, 7.0)]
    with np.errstate(all="raise"):
        Z = Standardizer().fit_transform(X)
    np.testing.assert_array_equal(Z[:, 1], 0)
    assert np.isfinite(Z).all()


def test_standardizer_keeps_float32_and_checks_features():
    X = np.array([[1, 2], [3, 5], [0, 1]], dtype=np.float32)
    std = Standardizer().fit(X)
    assert std.transform(X).dtype == np.float32
    with pytest.raises(ValueError, match="3 features, but .* n\\[0\\]=2"):
        std.transform(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(X)


def test_minibatches_partition_the_indices(rng):
    batches = list(minibatches(10, 3, rng))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(np.concatenate(batches)) == list(range(10))
    assert [len(b) for b in minibatches(10, None, rng)] == [10]


@pytest.mark.parametrize("name", DATASETS)
def test_builtin_datasets(name):
    X, y = load_dataset(name, n_samples=60)
    assert X.ndim == 2 and len(X) == len(y) and np.isfinite(X).all()
    if name == "breast_cancer":
        assert X.shape == (569, 30) and set(y) == {0, 1}
    elif name == "digits":
        assert X.shape == (1797, 64) and set(y) == set(range(10))
    else:
        assert X.shape == (60, 2) and set(y) == {0, 1}


def test_stratified_split_keeps_class_balance():
    X, y = load_dataset("breast_cancer")
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=0)
    assert len(X_te) == 143 and len(X_tr) == 426
    assert abs(y_tr.mean() - y_te.mean()) < 0.01


def test_one_hot():
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")
