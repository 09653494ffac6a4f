r"""Optimizers as pure ``init``/``update`` pairs (optax style), in the lecture's notation.

An optimizer never touches the parameters: ``update(grads, state, params)`` returns the
*updates* to add and the new state, and :func:`apply_updates` adds them::

    opt = mlplab.optimizers.momentum(lr=0.1, beta=0.9)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)  # W[l] ← W[l] − α v[l]

``params``/``grads`` may be any tree of arrays (a list of ``(W, b)`` pairs, or one flat
vector θ, which is what the trainer passes for speed). State is a NamedTuple of arrays.

Which optimizer, by the lecture's names: batch gradient descent and mini-batch gradient
descent are both :func:`sgd`; they differ only in the batch size the training loop uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from mlplab._tree import tree_map
from mlplab._validation import check_positive, check_unit_interval


class Optimizer(NamedTuple):
    """A pair of pure functions plus the hyperparameters, for display and saving."""

    init: Callable[[Any], Any]
    update: Callable[[Any, Any, Any], tuple[Any, Any]]
    name: str = "optimizer"
    hyperparams: dict[str, float] | None = None


class EmptyState(NamedTuple):
    """State of a stateless optimizer (plain gradient descent): only a step counter."""

    count: int


class MomentumState(NamedTuple):
    """v: the exponentially weighted average of past gradients."""

    count: int
    v: Any


class RMSPropState(NamedTuple):
    """s: the exponentially weighted average of past squared gradients."""

    count: int
    s: Any


class AdamState(NamedTuple):
    """First moment v and second moment s (the lecture's v, plus RMSProp's s)."""

    count: int
    v: Any
    s: Any


def _zeros_like(tree: Any) -> Any:
    return tree_map(np.zeros_like, tree)


def apply_updates(params: Any, updates: Any) -> Any:
    """params + updates, leaf by leaf; returns new arrays (the inputs are not modified)."""
    return tree_map(lambda p, u: p + u, params, updates)


def sgd(lr: float = 0.01) -> Optimizer:
    r"""Gradient descent: :math:`W \leftarrow W - \alpha\,\partial J/\partial W`.

    Batch GD when the loop uses all samples per step, mini-batch GD otherwise.

    Parameters
    ----------
    lr : float
        The learning rate α > 0.
    """
    lr = check_positive(lr, "lr")

    def init(params: Any) -> EmptyState:
        return EmptyState(0)

    def update(grads: Any, state: EmptyState, params: Any = None):
        return tree_map(lambda g: -lr * g, grads), EmptyState(state.count + 1)

    return Optimizer(init, update, "sgd", {"lr": lr})


def momentum(lr: float = 0.01, beta: float = 0.9) -> Optimizer:
    r"""Gradient descent with momentum, in the lecture's form.

    .. math::
        v \leftarrow \beta v + (1-\beta)\,dW, \qquad W \leftarrow W - \alpha v

    v starts at 0: v is an exponentially weighted average of past gradients.

    Parameters
    ----------
    lr : float
        α > 0.
    beta : float, default=0.9
        β in [0, 1); β = 0 is plain gradient descent.

    Notes
    -----
    scikit-learn and Keras write momentum as u ← μu − α'g, W ← W + u, and PyTorch as
    u ← μu + g, W ← W − α'u. With μ = β both follow exactly the same trajectory as the
    lecture's form run with α = α'/(1 − β): the lecture's v is (1 − β) times PyTorch's u.
    So for the same α and β the lecture's steps are (1 − β) times theirs — 10× smaller
    at β = 0.9. To reproduce ``torch.optim.SGD(lr=a, momentum=b)`` use
    ``momentum(lr=a / (1 - b), beta=b)`` (a test pins this down).
    """
    lr = check_positive(lr, "lr")
    beta = check_unit_interval(beta, "beta")

    def init(params: Any) -> MomentumState:
        return MomentumState(0, _zeros_like(params))

    def update(grads: Any, state: MomentumState, params: Any = None):
        v = tree_map(lambda v, g: beta * v + (1 - beta) * g, state.v, grads)  # v = βv + (1−β)dW
        updates = tree_map(lambda v: -lr * v, v)  # W = W − αv
        return updates, MomentumState(state.count + 1, v)

    return Optimizer(init, update, "momentum", {"lr": lr, "beta": beta})


def nesterov(lr: float = 0.01, beta: float = 0.9) -> Optimizer:
    r"""Nesterov momentum in the lecture's EMA form (look-ahead on the average).

    .. math::
        v \leftarrow \beta v + (1-\beta)\,dW, \qquad
        W \leftarrow W - \alpha\,(\beta v + (1-\beta)\,dW)

    This is PyTorch's ``SGD(nesterov=True)`` with α = α_torch/(1 − β), as for
    :func:`momentum`.
    """
    lr = check_positive(lr, "lr")
    beta = check_unit_interval(beta, "beta")

    def init(params: Any) -> MomentumState:
        return MomentumState(0, _zeros_like(params))

    def update(grads: Any, state: MomentumState, params: Any = None):
        v = tree_map(lambda v, g: beta * v + (1 - beta) * g, state.v, grads)
        updates = tree_map(lambda v, g: -lr * (beta * v + (1 - beta) * g), v, grads)
        return updates, MomentumState(state.count + 1, v)

    return Optimizer(init, update, "nesterov", {"lr": lr, "beta": beta})


def rmsprop(lr: float = 0.001, rho: float = 0.9, eps: float = 1e-8) -> Optimizer:
    r"""RMSProp: scale each step by a running RMS of the gradient.

    .. math::
        s \leftarrow \rho s + (1-\rho)\,dW^2, \qquad
        W \leftarrow W - \alpha\,dW/(\sqrt{s}+\varepsilon)
    """
    lr = check_positive(lr, "lr")
    rho = check_unit_interval(rho, "rho")
    eps = check_positive(eps, "eps")

    def init(params: Any) -> RMSPropState:
        return RMSPropState(0, _zeros_like(params))

    def update(grads: Any, state: RMSPropState, params: Any = None):
        s = tree_map(lambda s, g: rho * s + (1 - rho) * g * g, state.s, grads)
        updates = tree_map(lambda g, s: -lr * g / (np.sqrt(s) + eps), grads, s)
        return updates, RMSPropState(state.count + 1, s)

    return Optimizer(init, update, "rmsprop", {"lr": lr, "rho": rho, "eps": eps})


def adam(lr: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    r"""Adam: momentum (first moment) and RMSProp (second moment) with bias correction.

    .. math::
        v &\leftarrow \beta_1 v + (1-\beta_1)\,dW, \qquad
        s \leftarrow \beta_2 s + (1-\beta_2)\,dW^2 \\
        \hat v &= v / (1-\beta_1^t), \qquad \hat s = s / (1-\beta_2^t) \\
        W &\leftarrow W - \alpha\,\hat v / (\sqrt{\hat s} + \varepsilon)

    ε is added to √ŝ *after* the bias correction (as in the Adam paper and optax;
    scikit-learn folds the correction into α, which puts ε on the uncorrected √s).
    """
    lr = check_positive(lr, "lr")
    b1 = check_unit_interval(b1, "b1")
    b2 = check_unit_interval(b2, "b2")
    eps = check_positive(eps, "eps")

    def init(params: Any) -> AdamState:
        return AdamState(0, _zeros_like(params), _zeros_like(params))

    def update(grads: Any, state: AdamState, params: Any = None):
        t = state.count + 1
        v = tree_map(lambda v, g: b1 * v + (1 - b1) * g, state.v, grads)
        s = tree_map(lambda s, g: b2 * s + (1 - b2) * g * g, state.s, grads)
        c1, c2 = 1 - b1**t, 1 - b2**t  # bias corrections
        updates = tree_map(lambda v, s: -lr * (v / c1) / (np.sqrt(s / c2) + eps), v, s)
        return updates, AdamState(t, v, s)

    return Optimizer(init, update, "adam", {"lr": lr, "b1": b1, "b2": b2, "eps": eps})


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": sgd,
    "gd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "rmsprop": rmsprop,
    "adam": adam,
}
"""Optimizer factories by name (``gd`` is an alias of ``sgd``)."""


def get(name: str | Optimizer, **hyperparams: float) -> Optimizer:
    """Build an optimizer from its name and hyperparameters (``get("adam", lr=0.01)``)."""
    if isinstance(name, Optimizer):
        return name
    if not isinstance(name, str):
        raise TypeError(f"optimizer must be a name or an Optimizer, got {name!r}")
    key = name.strip().lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    factory = OPTIMIZERS[key]
    try:
        return factory(**hyperparams)
    except TypeError as exc:
        raise TypeError(f"optimizer {key!r}: {exc}") from None
