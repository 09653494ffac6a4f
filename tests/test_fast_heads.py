"""The per-step shortcuts of the NumPy fast path equal the pure code they replace.

* mlplab.fast.heads: the in-place heads, bit for bit the pure ``loss_and_grad``;
* the estimators' epoch order: scikit-learn's ``shuffle`` draw without its checks.
"""

import numpy as np
import pytest

from mlplab.core import heads
from mlplab.core.network import Network
from mlplab.fast import _blas
from mlplab.fast.heads import head_kernel
from mlplab.fast.workspace import Workspace


def _targets(rng, name, n, k, dtype):
    if name == "binary":
        return rng.integers(0, 2, (n, k)).astype(dtype)
    if name == "multiclass":
        return np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    return rng.standard_normal((n, k)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("scale", [1.0, 1e3])  # 1e3: saturated logits, far in both tails
def test_inplace_heads_are_bit_identical_to_the_pure_heads(rng, name, dtype, scale):
    head = heads.HEADS[name]
    n, k = 37, 1 if name == "binary" else 4
    Z = (scale * rng.standard_normal((n, k))).astype(dtype)
    Y = _targets(rng, name, n, k, dtype)
    Z_before, Y_before = Z.copy(), Y.copy()
    dZ, T1, T2 = (np.full_like(Z, np.nan) for _ in range(3))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        J = head_kernel(head)(Z, Y, dZ, T1, T2)
        J_pure, dZ_pure = head.loss_and_grad(Z, Y)
    assert type(J) is float and J == J_pure
    assert dZ.dtype == dZ_pure.dtype == dtype
    np.testing.assert_array_equal(dZ, dZ_pure)
    np.testing.assert_array_equal(Z, Z_before)  # the logits and targets are only read
    np.testing.assert_array_equal(Y, Y_before)


def test_only_the_built_in_heads_have_kernels():
    assert head_kernel(heads.poisson) is None
    mine = heads.Head("binary", heads.binary.link, lambda Z, Y: (0.0, Z - Y), heads.binary.loss)
    assert head_kernel(mine) is None  # a user's head called "binary" runs its own code
    net = Network([3, 2], hidden="relu", output=mine, dtype="float64")
    ws = Workspace(net, 4)
    assert ws.head_into is None
    Y = np.ones((4, 2))
    J = ws.loss_and_grads(net._params, np.ones((4, 3)), Y, net._views(np.zeros_like(net._theta)))
    assert J == 0.0  # the user's loss_and_grad ran


def test_estimator_epoch_order_is_scikit_learns_shuffle():
    from sklearn.utils import shuffle

    from mlplab.sklearn._callbacks import ShuffledOrder

    order = ShuffledOrder(np.random.RandomState(3), shuffle=True)
    rs, idx = np.random.RandomState(3), np.arange(11)
    for _ in range(4):  # each epoch shuffles the previous epoch's order
        idx = shuffle(idx, random_state=rs)
        np.testing.assert_array_equal(order(11), idx)
    np.testing.assert_array_equal(ShuffledOrder(rs, shuffle=False)(5), np.arange(5))


def test_blas_level1_lookup_by_dtype_is_the_named_one_and_obeys_set_enabled():
    dt = np.dtype(np.float64)
    _blas._cache.clear()  # other tests rebuild the routines: start from empty caches
    _blas._by_dtype.clear()
    first = _blas.level1(dt)  # fills both caches
    assert _blas.level1(dt) is first is _blas.level1("float64")
    old = _blas.set_enabled(False)
    try:
        assert _blas.level1(dt) is None  # the cache does not bypass the switch
    finally:
        _blas.set_enabled(old)
    assert _blas.level1(dt) is first
    assert _blas.level1(np.dtype(np.int64)) is None  # no BLAS routines for integers
