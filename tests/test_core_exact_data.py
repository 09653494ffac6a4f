"""Exact tests of ``core/data.py`` that mutation testing asked for (issue 21).

The synthetic datasets are specified here draw for draw (the experiments' figures and
the tutorials' numbers depend on them): the same generator stream, the documented noise
defaults, the same formulas.
"""

import numpy as np
import pytest

from mlplab.core.data import Standardizer, load_dataset, minibatches, one_hot, train_test_split

EPS = np.finfo(np.float64).eps


def test_standardizer_moments_exact_and_in_float64():
    X = np.array([[1.0, 10.0], [3.0, 10.0], [8.0, 16.0]], dtype=np.float32)
    std = Standardizer().fit(X)
    assert std.mean_.dtype == np.float64 and std.scale_.dtype == np.float64
    np.testing.assert_array_equal(std.mean_, [4.0, 12.0])
    np.testing.assert_allclose(std.scale_, [np.sqrt(26 / 3), np.sqrt(8)], rtol=1e-15)
    assert std.n_features_in_ == 2 and isinstance(std.n_features_in_, int)
    assert repr(std) == "Standardizer(n_features=2)" and repr(Standardizer()) == (
        "Standardizer(unfitted)"
    )


def test_constant_feature_threshold_is_relative_and_inclusive():
    """σ ≤ eps·max(|μ|, 1) counts as constant (σ := 1), for both signs of μ."""
    big = 1e10
    ulp = np.spacing(big)
    X = np.array([[big, -big, -EPS, 3.0], [big + ulp, -big - ulp, EPS, 5.0]])
    std = Standardizer().fit(X)
    # columns 0, 1: σ = ulp/2 < eps·1e10; column 2: σ = eps = eps·max(0, 1) exactly
    np.testing.assert_array_equal(std.scale_, [1.0, 1.0, 1.0, 1.0])
    X[1, 2] = 2 * EPS  # σ = 1.5 eps, above the threshold: kept
    np.testing.assert_array_equal(Standardizer().fit(X).scale_[2:], [1.5 * EPS, 1.0])


def test_transform_dtypes_values_and_inverse_exact():
    std = Standardizer.from_moments([1.0, -2.0], [2.0, 4.0])
    Xi = np.array([[3, 2], [1, -2]])  # integers: float64
    Z = std.transform(Xi)
    assert Z.dtype == np.float64
    np.testing.assert_array_equal(Z, [[1.0, 1.0], [0.0, 0.0]])
    Z32 = std.transform(Xi.astype(np.float32))
    assert Z32.dtype == np.float32
    np.testing.assert_array_equal(Z32, [[1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(std.inverse_transform(Z), Xi)
    assert std.inverse_transform(Z32).dtype == np.float64
    np.testing.assert_array_equal(std.fit_transform(Xi), [[1.0, 1.0], [-1.0, -1.0]])
    for call in (Standardizer().inverse_transform, Standardizer().transform):
        with pytest.raises(RuntimeError, match="^this Standardizer is not fitted yet"):
            call(Xi)
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().n_features_in_  # noqa: B018
    with pytest.raises(ValueError, match="3 features"):
        std.inverse_transform(np.ones((1, 3)))


@pytest.mark.parametrize(
    ("mean", "scale", "message"),
    [
        ([[0.0]], [[1.0]], "1-D, of the same length"),
        ([0.0, 1.0], [1.0], "1-D, of the same length"),
        ([0.0], [0.0], "not finite and positive"),
        ([np.nan], [1.0], "not finite and positive"),
        ([0.0], [np.inf], "not finite and positive"),
    ],
)
def test_from_moments_refuses_bad_arrays(mean, scale, message):
    with pytest.raises(ValueError, match=message):
        Standardizer.from_moments(mean, scale)


def test_from_moments_copies_into_float64():
    mean = np.array([1, 2], dtype=np.int32)
    std = Standardizer.from_moments(mean, np.array([0.5, 1.0], dtype=np.float32))
    assert std.mean_.dtype == std.scale_.dtype == np.float64
    mean[0] = 7
    np.testing.assert_array_equal(std.mean_, [1.0, 2.0])


def test_minibatches_exact_order():
    assert [b.tolist() for b in minibatches(7, 3, None)] == [[0, 1, 2], [3, 4, 5], [6]]
    perm = np.random.default_rng(5).permutation(7)
    got = [b.tolist() for b in minibatches(7, 3, np.random.default_rng(5))]
    assert got == [perm[:3].tolist(), perm[3:6].tolist(), perm[6:].tolist()]
    assert [b.tolist() for b in minibatches(3, None, None)] == [[0, 1, 2]]


def _xor(rng, n, noise):
    X = rng.uniform(-1, 1, size=(n, 2))
    X += rng.normal(0, noise, size=X.shape)
    return X, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)


def _spiral(rng, n, sd):
    y = np.arange(n) % 2
    t = rng.uniform(0.25, 1.0, size=n) * 3 * np.pi
    r = t / (3 * np.pi)
    angle = t + np.pi * y
    X = np.c_[r * np.cos(angle), r * np.sin(angle)] + rng.normal(0, sd, (n, 2)) * r[:, None]
    return X, y


def _gaussian(rng, n, sd):
    y = np.arange(n) % 2
    return np.where(y[:, None] == 1, 1.0, -1.0) + rng.normal(0, sd, size=(n, 2)), y


@pytest.mark.parametrize(
    ("name", "make", "noise"),
    [("xor", _xor, 0.1), ("spiral", _spiral, 0.1), ("gaussian", _gaussian, 0.5)],
)
def test_synthetic_datasets_draw_for_draw(name, make, noise):
    for n, given in [(None, None), (7, 0.3)]:
        rng = np.random.default_rng(11)
        rng.integers(2**31 - 1)  # the seed scikit-learn's generators get, drawn first
        X_want, y_want = make(rng, 500 if n is None else n, noise if given is None else given)
        X, y = load_dataset(name, n_samples=n, noise=given, seed=11)
        assert X.dtype == np.float64 and y.dtype == np.int64
        np.testing.assert_array_equal(X, X_want)
        np.testing.assert_array_equal(y, y_want)
    X32, _ = load_dataset(name, n_samples=4, seed=2, dtype="float32")
    assert X32.dtype == np.float32
    X64, _ = load_dataset(name, n_samples=4, seed=2)
    np.testing.assert_array_equal(X32, X64.astype(np.float32))


@pytest.mark.parametrize(("name", "noise"), [("moons", 0.2), ("circles", 0.05)])
def test_scikit_learn_datasets_get_the_documented_noise_and_seed(name, noise):
    from sklearn import datasets as skd

    seed = int(np.random.default_rng(3).integers(2**31 - 1))
    for n, given in [(None, None), (9, 0.4)]:
        X, y = load_dataset(name, n_samples=n, noise=given, seed=3)
        count, sd = (500 if n is None else n), (noise if given is None else given)
        if name == "moons":
            X_want, y_want = skd.make_moons(count, noise=sd, random_state=seed)
        else:
            X_want, y_want = skd.make_circles(count, noise=sd, factor=0.5, random_state=seed)
        np.testing.assert_array_equal(X, X_want)
        np.testing.assert_array_equal(y, y_want)
        assert y.dtype == np.int64


def test_dataset_sizes_and_errors():
    assert load_dataset("xor", n_samples=2)[0].shape == (2, 2)
    with pytest.raises(ValueError, match="^n_samples must be >= 2, got 1$"):
        load_dataset("xor", n_samples=1)
    with pytest.raises(ValueError, match=r"^unknown dataset 'mnist'; choose one of \['breast"):
        load_dataset("mnist")
    X, y = load_dataset("breast_cancer", dtype="float32")
    assert X.dtype == np.float32 and y.dtype == np.int64 and X.shape == (569, 30)
    X, y = load_dataset("digits")
    assert X.dtype == np.float64 and X.shape == (1797, 64) and y.max() == 9


def test_one_hot_exact():
    Y = one_hot(np.array([[2], [0]]))
    assert Y.dtype == np.float32
    np.testing.assert_array_equal(Y, [[0, 0, 1], [1, 0, 0]])
    Y = one_hot([1], 4, dtype=np.float64)
    assert Y.dtype == np.float64
    np.testing.assert_array_equal(Y, [[0, 1, 0, 0]])


def test_train_test_split_without_strata_is_one_permutation():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    perm = np.random.RandomState(4).permutation(10)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, seed=4, stratify=False)
    np.testing.assert_array_equal(X_te, X[perm[:3]])
    np.testing.assert_array_equal(y_tr, y[perm[3:]])
    # float labels cannot be strata: the same unstratified split
    _, X_te2, _, _ = train_test_split(X, y.astype(float), test_size=0.3, seed=4)
    np.testing.assert_array_equal(X_te2, X_te)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.4, seed=4)  # stratified
    assert sorted(y_te.tolist()) == [0, 0, 1, 1]
    assert len(X_tr) == 6 and sorted(X_tr[:, 0].tolist() + X_te[:, 0].tolist()) == list(X[:, 0])


def test_standardizer_state_messages_and_list_input():
    fresh = Standardizer()
    assert fresh.mean_ is None and fresh.scale_ is None
    half = Standardizer()
    half.mean_ = np.zeros(2)  # μ without σ is not fitted either
    with pytest.raises(RuntimeError, match="not fitted"):
        half.transform(np.ones((1, 2)))
    std = Standardizer.from_moments([1.0, -2.0], [2.0, 4.0])
    np.testing.assert_array_equal(std.transform([[3, 2]]), [[1.0, 1.0]])  # a list: float64
    assert std.transform([[3, 2]]).dtype == np.float64
    with pytest.raises(
        ValueError, match=r"^X has 3 features, but the Standardizer was fit on n\[0\]=2$"
    ):
        std.transform(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"^X has 1 features, but the Standardizer has n\[0\]=2$"):
        std.inverse_transform(np.ones((1, 1)))
    np.testing.assert_array_equal(std.inverse_transform([[1, 1]]), [[3.0, 2.0]])
    with pytest.raises(ValueError, match="^the standardizer's mean and scale must be 1-D, of the"):
        Standardizer.from_moments([[0.0]], [[1.0]])
    with pytest.raises(ValueError, match="^the standardizer arrays are not finite and positive$"):
        Standardizer.from_moments([0.0], [0.0])


def test_load_dataset_defaults():
    X, y = load_dataset()
    assert X.shape == (569, 30)  # breast cancer
    np.testing.assert_array_equal(load_dataset("xor", 6)[0], load_dataset("xor", 6, seed=0)[0])
    assert not np.array_equal(load_dataset("xor", 6)[0], load_dataset("xor", 6, seed=1)[0])


def test_train_test_split_defaults_strata_and_the_scikit_learn_path():
    from sklearn.model_selection import train_test_split as sk_split

    X, y = np.arange(40.0).reshape(20, 2), np.array([0] * 14 + [1] * 6)
    got = train_test_split(X, y)
    want = sk_split(X, y, test_size=0.25, random_state=0, stratify=y)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
    want = sk_split(X, y, test_size=0.3, random_state=5, stratify=y)
    for a, b in zip(train_test_split(X, y, 0.3, seed=5), want, strict=True):
        np.testing.assert_array_equal(a, b)
    Y2 = np.eye(2, dtype=int)[y]  # 2-D integer targets are no strata
    want = sk_split(X, Y2, test_size=0.3, random_state=5)
    for a, b in zip(train_test_split(X, Y2, 0.3, seed=5), want, strict=True):
        np.testing.assert_array_equal(a, b)
    X_list = X.tolist()  # not a NumPy array: scikit-learn itself
    want = sk_split(X_list, y, test_size=0.3, random_state=5, stratify=y)
    got = train_test_split(X_list, y, 0.3, seed=5)
    assert got[0] == want[0] and got[1] == want[1]
    np.testing.assert_array_equal(got[3], want[3])
