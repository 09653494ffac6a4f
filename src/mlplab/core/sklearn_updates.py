r"""scikit-learn's update rules as pure ``init``/``update`` pairs (as in ``optimizers``).

``sklearn.neural_network`` writes momentum and Adam differently from the lecture
(:func:`mlplab.core.optimizers.momentum`, :func:`~mlplab.core.optimizers.adam`): the
velocity holds α, and Adam folds its bias corrections into α, so ε sits on the
uncorrected √s. The estimators (:mod:`mlplab.sklearn`) train with these so that a fit
reproduces scikit-learn's to rounding; :mod:`mlplab.fast.kernels` runs them in place.

Examples
--------
>>> import numpy as np
>>> opt = sklearn_sgd(lr=0.1, momentum=0.9, nesterov=False)
>>> state = opt.init(np.zeros(2))
>>> u, state = opt.update(np.array([1.0, -1.0]), state)
>>> u, state = opt.update(np.array([1.0, -1.0]), state)
>>> u.round(3).tolist()  # 0.9·(−0.1) − 0.1
[-0.19, 0.19]
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from mlplab._tree import tree_map
from mlplab._validation import check_positive, check_unit_interval
from mlplab.core.optimizers import AdamState, Optimizer, _bind, _sqrt, _zeros_like, adam_init
from mlplab.core.schedules import Schedule, learning_rate, value


class VelocityState(NamedTuple):
    """u: scikit-learn's velocity, the last step without the Nesterov look-ahead."""

    count: int  # type: ignore[assignment]  # the step count t, shadowing tuple.count
    u: Any


def sklearn_sgd(
    lr: float | Schedule = 0.1, momentum: float = 0.9, nesterov: bool = True
) -> Optimizer:
    r"""Gradient descent with momentum as ``sklearn.neural_network`` writes it.

    .. math::
        u \leftarrow \mu u - \alpha\,dW, \qquad
        W \leftarrow W + u \quad\text{(or, Nesterov: } W \leftarrow W + \mu u - \alpha\,dW)

    The velocity holds α: the same trajectory as the lecture's :func:`momentum` with
    α_lecture = α/(1−μ) while α is constant. μ = 0 is plain gradient descent.
    """
    lr = learning_rate(lr)
    momentum = float(momentum)
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must lie in [0, 1], got {momentum!r}")
    return _bind(
        "sklearn_sgd", sgd_init_velocity, sklearn_sgd_update,
        lr=lr, momentum=momentum, nesterov=bool(nesterov),
    )  # fmt: skip


def sgd_init_velocity(params: Any) -> VelocityState:
    """u = 0, shaped like the parameters."""
    return VelocityState(0, _zeros_like(params))


def sklearn_sgd_update(grads: Any, state: VelocityState, params: Any = None, *,
                       lr: float | Schedule, momentum: float,
                       nesterov: bool) -> tuple[Any, VelocityState]:  # fmt: skip
    """``(updates, new state)`` of one step of :func:`sklearn_sgd`."""
    lr = value(lr, state.count)
    u = tree_map(lambda u, g: momentum * u - lr * g, state.u, grads)  # u = μu − α dW
    if not nesterov:
        return u, VelocityState(state.count + 1, u)
    updates = tree_map(lambda u, g: momentum * u - lr * g, u, grads)  # μu − α dW
    return updates, VelocityState(state.count + 1, u)


def sklearn_adam(
    lr: float | Schedule = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> Optimizer:
    r"""Adam as ``sklearn.neural_network`` writes it: the bias corrections in α.

    .. math::
        v \leftarrow \beta_1 v + (1-\beta_1)\,dW, \qquad
        s \leftarrow \beta_2 s + (1-\beta_2)\,dW^2, \qquad
        \alpha_t = \alpha\,\sqrt{1-\beta_2^t}/(1-\beta_1^t), \qquad
        W \leftarrow W - \alpha_t\,v / (\sqrt{s} + \varepsilon)

    It is :func:`adam` with ε on the uncorrected √s, i.e. ε·√(1−β2^t) on √ŝ.
    """
    lr = learning_rate(lr)
    b1 = check_unit_interval(b1, "b1")
    b2 = check_unit_interval(b2, "b2")
    eps = check_positive(eps, "eps")
    return _bind("sklearn_adam", adam_init, sklearn_adam_update, lr=lr, b1=b1, b2=b2, eps=eps)


def sklearn_adam_update(
    grads: Any,
    state: AdamState,
    params: Any = None,
    *,
    lr: float | Schedule,
    b1: float,
    b2: float,
    eps: float,
) -> tuple[Any, AdamState]:
    """``(updates, new state)`` of one step of :func:`sklearn_adam`."""
    lr = value(lr, state.count)
    t = state.count + 1
    v = tree_map(lambda v, g: b1 * v + (1 - b1) * g, state.v, grads)
    s = tree_map(lambda s, g: b2 * s + (1 - b2) * (g * g), state.s, grads)
    lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    updates = tree_map(lambda v, s: -lr_t * v / (_sqrt(s) + eps), v, s)
    return updates, AdamState(t, v, s)


SKLEARN_OPTIMIZERS = {"sklearn_sgd": sklearn_sgd, "sklearn_adam": sklearn_adam}
"""By name, for :func:`mlplab.core.optimizers.get` (``get("sklearn_adam", lr=0.01)``)."""
