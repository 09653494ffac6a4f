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

Speed. ``update`` is pure and allocates a few parameter-sized arrays per step. The
trainer runs the same equations, in the same order, into buffers allocated once
(:class:`mlplab.fast.step.CheckedStep`, checked before each step is adopted); the pure
functions here stay the reference, and tests compare the two step by step.

Other array libraries. ``init`` and ``update`` work on the arrays of any array API
library (PyTorch, CuPy, ...: :mod:`mlplab._array_api`); the state lives where the
parameters live.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

from mlplab import _array_api as _xp
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
    return tree_map(lambda a: _xp.namespace(a).zeros_like(a), tree)


def _sqrt(a: Any) -> Any:
    return _xp.namespace(a).sqrt(a)


def apply_updates(params: Any, updates: Any) -> Any:
    """params + updates, leaf by leaf; returns new arrays (the inputs are not modified)."""
    return tree_map(lambda p, u: p + u, params, updates)


# ------------------------------------------------------------------ optimizers
# Each optimizer is its equations, written once as ``<name>_update(grads, state, params,
# *, hyperparameters)``; the factory checks the hyperparameters and binds them with
# functools.partial. The bound function stays visible (``opt.update.func`` and
# ``.keywords``): that is how mlplab.fast.kernels recognises a built-in optimizer, by its
# function and not its name, so a user's Optimizer(init, update) always runs its own code.
def _bind(name: str, init: Callable, update: Callable, **hyperparams: float) -> Optimizer:
    """``Optimizer(init, update with the hyperparameters bound, name, hyperparameters)``."""
    return Optimizer(init, partial(update, **hyperparams), name, dict(hyperparams))


def sgd(lr: float = 0.01) -> Optimizer:
    r"""Gradient descent: :math:`W \leftarrow W - \alpha\,\partial J/\partial W`.

    Batch GD when the loop uses all samples per step, mini-batch GD otherwise.

    Parameters
    ----------
    lr : float
        The learning rate α > 0.
    """
    return _bind("sgd", sgd_init, sgd_update, lr=check_positive(lr, "lr"))


def sgd_init(params: Any) -> EmptyState:
    """Gradient descent keeps no state: the step count 0."""
    return EmptyState(0)


def sgd_update(grads: Any, state: EmptyState, params: Any = None, *, lr: float):
    """``(updates, new state)`` of one gradient descent step: the update is −α dW."""
    return tree_map(lambda g: -lr * g, grads), EmptyState(state.count + 1)  # W = W − α dW


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
    return _bind("momentum", momentum_init, momentum_update, lr=lr, beta=beta)


def momentum_init(params: Any) -> MomentumState:
    """v = 0, shaped like the parameters (momentum and Nesterov)."""
    return MomentumState(0, _zeros_like(params))


def momentum_update(grads: Any, state: MomentumState, params: Any = None, *, lr, beta):
    """``(updates, new state)`` of one momentum step (:func:`momentum`)."""
    v = tree_map(lambda v, g: beta * v + (1 - beta) * g, state.v, grads)  # v = βv + (1−β)dW
    updates = tree_map(lambda v: -lr * v, v)  # W = W − αv
    return updates, MomentumState(state.count + 1, v)


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
    return _bind("nesterov", momentum_init, nesterov_update, lr=lr, beta=beta)


def nesterov_update(grads: Any, state: MomentumState, params: Any = None, *, lr, beta):
    """``(updates, new state)`` of one Nesterov step (:func:`nesterov`)."""
    v = tree_map(lambda v, g: beta * v + (1 - beta) * g, state.v, grads)  # v = βv + (1−β)dW
    # W = W − α(βv + (1−β)dW)
    updates = tree_map(lambda v, g: -lr * (beta * v + (1 - beta) * g), v, grads)
    return updates, MomentumState(state.count + 1, v)


def rmsprop(lr: float = 0.001, rho: float = 0.9, eps: float = 1e-8) -> Optimizer:
    r"""RMSProp: scale each step by a running RMS of the gradient.

    .. math::
        s \leftarrow \rho s + (1-\rho)\,dW^2, \qquad
        W \leftarrow W - \alpha\,dW/(\sqrt{s}+\varepsilon)
    """
    lr = check_positive(lr, "lr")
    rho = check_unit_interval(rho, "rho")
    eps = check_positive(eps, "eps")
    return _bind("rmsprop", rmsprop_init, rmsprop_update, lr=lr, rho=rho, eps=eps)


def rmsprop_init(params: Any) -> RMSPropState:
    """s = 0, shaped like the parameters."""
    return RMSPropState(0, _zeros_like(params))


def rmsprop_update(grads: Any, state: RMSPropState, params: Any = None, *, lr, rho, eps):
    """``(updates, new state)`` of one RMSProp step (:func:`rmsprop`)."""
    s = tree_map(lambda s, g: rho * s + (1 - rho) * g * g, state.s, grads)  # s = ρs + (1−ρ)dW²
    updates = tree_map(lambda g, s: -lr * g / (_sqrt(s) + eps), grads, s)  # −α dW/(√s + ε)
    return updates, RMSPropState(state.count + 1, s)


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
    return _bind("adam", adam_init, adam_update, lr=lr, b1=b1, b2=b2, eps=eps)


def adam_init(params: Any) -> AdamState:
    """v = 0 and s = 0, shaped like the parameters."""
    return AdamState(0, _zeros_like(params), _zeros_like(params))


def adam_update(grads: Any, state: AdamState, params: Any = None, *, lr, b1, b2, eps):
    """``(updates, new state)`` of one Adam step (:func:`adam`); t is the new step count."""
    t = state.count + 1
    v = tree_map(lambda v, g: b1 * v + (1 - b1) * g, state.v, grads)  # v = β1 v + (1−β1)dW
    s = tree_map(lambda s, g: b2 * s + (1 - b2) * g * g, state.s, grads)  # s = β2 s + (1−β2)dW²
    c1, c2 = 1 - b1**t, 1 - b2**t  # bias corrections: v̂ = v/c1, ŝ = s/c2
    updates = tree_map(lambda v, s: -lr * (v / c1) / (_sqrt(s / c2) + eps), v, s)
    return updates, AdamState(t, v, s)


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
