"""scikit-learn's update rules (mlplab.core.sklearn_updates) against scikit-learn's optimizers.

``sklearn.neural_network._stochastic_optimizers`` updates a list of parameter arrays in
place; mlplab's pure ``update`` (and the fast in-place kernels, tests/
test_performance_contracts.py) must take the very same steps, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from mlplab.core import optimizers as _opt
from mlplab.core import sklearn_updates as _sk
from mlplab.fast.step import CheckedStep


def _theirs(kind: str, params: list[np.ndarray], **kw):  # type: ignore[no-untyped-def]
    if kind == "adam":
        return AdamOptimizer(params, kw["lr"], 0.9, 0.999, 1e-8)
    return SGDOptimizer(params, kw["lr"], "constant", kw["momentum"], kw["nesterov"])


def _ours(kind: str, **kw) -> _opt.Optimizer:
    if kind == "adam":
        return _sk.sklearn_adam(kw["lr"])
    return _sk.sklearn_sgd(kw["lr"], kw["momentum"], kw["nesterov"])


@pytest.mark.parametrize(
    ("kind", "kw"),
    [
        ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": False}),
        ("sgd", {"lr": 0.05, "momentum": 0.0, "nesterov": True}),
        ("adam", {"lr": 0.01}),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_steps_as_scikit_learn(kind, kw, dtype):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3)).astype(dtype)
    theirs_params = [W.copy()]
    theirs = _theirs(kind, theirs_params, **kw)
    opt = _ours(kind, **kw)
    pure, fast = W.ravel().copy(), W.ravel().copy()
    s_pure, s_fast = opt.init(pure), opt.init(fast)
    step = CheckedStep(opt)
    for _ in range(6):
        g = rng.standard_normal((4, 3)).astype(dtype)
        theirs.update_params(theirs_params, [g])
        u, s_pure = opt.update(g.ravel(), s_pure, pure)
        pure = pure + u
        s_fast, u_fast, _ = step.propose(g.ravel(), s_fast, fast)
        fast = fast + u_fast
        if kind == "adam" and dtype == np.float32:
            # scikit-learn's α_t is an np.float64 (np.sqrt of a float), which promotes its
            # update to float64, rounded into float32 once by ``param += update``; mlplab
            # computes the update in float32: within an ulp or two
            np.testing.assert_allclose(pure, theirs_params[0].ravel(), rtol=3e-7, atol=1e-7)
            np.testing.assert_allclose(fast, theirs_params[0].ravel(), rtol=3e-7, atol=1e-7)
            continue
        np.testing.assert_array_equal(pure, theirs_params[0].ravel())
        np.testing.assert_array_equal(fast, theirs_params[0].ravel())


def test_sgd_momentum_is_the_lectures_with_a_rescaled_rate():
    """u = μu − α dW and the lecture's v = μv + (1−μ)dW, W −= α' v with α' = α/(1−μ)."""
    rng = np.random.default_rng(1)
    a, mu = 0.05, 0.9
    ours, lecture = _sk.sklearn_sgd(a, mu, False), _opt.momentum(a / (1 - mu), mu)
    p1 = p2 = np.zeros(5)
    s1, s2 = ours.init(p1), lecture.init(p2)
    for _ in range(20):
        g = rng.standard_normal(5)
        u1, s1 = ours.update(g, s1, p1)
        u2, s2 = lecture.update(g, s2, p2)
        p1, p2 = p1 + u1, p2 + u2
    np.testing.assert_allclose(p1, p2, rtol=1e-12)


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="momentum must lie in"):
        _sk.sklearn_sgd(0.1, momentum=1.5)
    with pytest.raises(ValueError, match="b1"):
        _sk.sklearn_adam(0.1, b1=1.0)
