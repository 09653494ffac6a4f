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

import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

from mlplab import _array_api as _xp
from mlplab._tree import tree_leaves, tree_map
from mlplab._validation import check_positive, check_unit_interval
from mlplab.core.schedules import Schedule, learning_rate, to_config, value


class Optimizer(NamedTuple):
    """A pair of pure functions plus the hyperparameters, for display and saving."""

    init: Callable[[Any], Any]
    update: Callable[[Any, Any, Any], tuple[Any, Any]]
    name: str = "optimizer"
    hyperparams: dict[str, Any] | None = None


class EmptyState(NamedTuple):
    """State of a stateless optimizer (plain gradient descent): only a step counter."""

    count: int  # type: ignore[assignment]  # the step count t, shadowing tuple.count


class MomentumState(NamedTuple):
    """v: the exponentially weighted average of past gradients."""

    count: int  # type: ignore[assignment]  # the step count t, shadowing tuple.count
    v: Any


class RMSPropState(NamedTuple):
    """s: the exponentially weighted average of past squared gradients."""

    count: int  # type: ignore[assignment]  # the step count t, shadowing tuple.count
    s: Any


class AdamState(NamedTuple):
    """First moment v and second moment s (the lecture's v, plus RMSProp's s)."""

    count: int  # type: ignore[assignment]  # the step count t, shadowing tuple.count
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
#
# The learning rate α may be a number or a Schedule (:mod:`mlplab.core.schedules`): each
# update then uses α_t = lr(t), t = ``state.count`` the steps taken before this one.
def _bind(
    name: str,
    init: Callable[[Any], Any],
    update: Callable[..., tuple[Any, Any]],
    **hyperparams: Any,
) -> Optimizer:
    """``Optimizer(init, update with the hyperparameters bound, name, hyperparameters)``.

    ``hyperparams`` (for display and files) holds a schedule as its JSON description.
    """
    shown = {k: to_config(v) if isinstance(v, Schedule) else v for k, v in hyperparams.items()}
    return Optimizer(init, partial(update, **hyperparams), name, shown)


def sgd(lr: float | Schedule = 0.01) -> Optimizer:
    r"""Gradient descent: :math:`W \leftarrow W - \alpha\,\partial J/\partial W`.

    Batch GD when the loop uses all samples per step, mini-batch GD otherwise.

    Parameters
    ----------
    lr : float or Schedule
        The learning rate α > 0, or a schedule α_t (:mod:`mlplab.core.schedules`).
    """
    return _bind("sgd", sgd_init, sgd_update, lr=learning_rate(lr))


def sgd_init(params: Any) -> EmptyState:
    """Gradient descent keeps no state: the step count 0."""
    return EmptyState(0)


def sgd_update(
    grads: Any, state: EmptyState, params: Any = None, *, lr: float | Schedule
) -> tuple[Any, EmptyState]:
    """``(updates, new state)`` of one gradient descent step: the update is −α dW."""
    lr = value(lr, state.count)  # α, or α_t of a schedule
    return tree_map(lambda g: -lr * g, grads), EmptyState(state.count + 1)  # W = W − α dW


def momentum(lr: float | Schedule = 0.01, beta: float = 0.9) -> Optimizer:
    r"""Gradient descent with momentum, in the lecture's form.

    .. math::
        v \leftarrow \beta v + (1-\beta)\,dW, \qquad W \leftarrow W - \alpha v

    v starts at 0: v is an exponentially weighted average of past gradients.

    Parameters
    ----------
    lr : float or Schedule
        α > 0, or a schedule α_t (:mod:`mlplab.core.schedules`).
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
    lr = learning_rate(lr)
    beta = check_unit_interval(beta, "beta")
    return _bind("momentum", momentum_init, momentum_update, lr=lr, beta=beta)


def momentum_init(params: Any) -> MomentumState:
    """v = 0, shaped like the parameters (momentum and Nesterov)."""
    return MomentumState(0, _zeros_like(params))


def momentum_update(
    grads: Any, state: MomentumState, params: Any = None, *, lr: float | Schedule, beta: float
) -> tuple[Any, MomentumState]:
    """``(updates, new state)`` of one momentum step (:func:`momentum`)."""
    lr = value(lr, state.count)
    v = tree_map(lambda v, g: beta * v + (1 - beta) * g, state.v, grads)  # v = βv + (1−β)dW
    updates = tree_map(lambda v: -lr * v, v)  # W = W − αv
    return updates, MomentumState(state.count + 1, v)


def nesterov(lr: float | Schedule = 0.01, beta: float = 0.9) -> Optimizer:
    r"""Nesterov momentum in the lecture's EMA form (look-ahead on the average).

    .. math::
        v \leftarrow \beta v + (1-\beta)\,dW, \qquad
        W \leftarrow W - \alpha\,(\beta v + (1-\beta)\,dW)

    This is PyTorch's ``SGD(nesterov=True)`` with α = α_torch/(1 − β), as for
    :func:`momentum`.
    """
    lr = learning_rate(lr)
    beta = check_unit_interval(beta, "beta")
    return _bind("nesterov", momentum_init, nesterov_update, lr=lr, beta=beta)


def nesterov_update(
    grads: Any, state: MomentumState, params: Any = None, *, lr: float | Schedule, beta: float
) -> tuple[Any, MomentumState]:
    """``(updates, new state)`` of one Nesterov step (:func:`nesterov`)."""
    lr = value(lr, state.count)
    v = tree_map(lambda v, g: beta * v + (1 - beta) * g, state.v, grads)  # v = βv + (1−β)dW
    # W = W − α(βv + (1−β)dW)
    updates = tree_map(lambda v, g: -lr * (beta * v + (1 - beta) * g), v, grads)
    return updates, MomentumState(state.count + 1, v)


def rmsprop(lr: float | Schedule = 0.001, rho: float = 0.9, eps: float = 1e-8) -> Optimizer:
    r"""RMSProp: scale each step by a running RMS of the gradient.

    .. math::
        s \leftarrow \rho s + (1-\rho)\,dW^2, \qquad
        W \leftarrow W - \alpha\,dW/(\sqrt{s}+\varepsilon)
    """
    lr = learning_rate(lr)
    rho = check_unit_interval(rho, "rho")
    eps = check_positive(eps, "eps")
    return _bind("rmsprop", rmsprop_init, rmsprop_update, lr=lr, rho=rho, eps=eps)


def rmsprop_init(params: Any) -> RMSPropState:
    """s = 0, shaped like the parameters."""
    return RMSPropState(0, _zeros_like(params))


def rmsprop_update(
    grads: Any,
    state: RMSPropState,
    params: Any = None,
    *,
    lr: float | Schedule,
    rho: float,
    eps: float,
) -> tuple[Any, RMSPropState]:
    """``(updates, new state)`` of one RMSProp step (:func:`rmsprop`)."""
    lr = value(lr, state.count)
    s = tree_map(lambda s, g: rho * s + (1 - rho) * g * g, state.s, grads)  # s = ρs + (1−ρ)dW²
    updates = tree_map(lambda g, s: -lr * g / (_sqrt(s) + eps), grads, s)  # −α dW/(√s + ε)
    return updates, RMSPropState(state.count + 1, s)


def adam(
    lr: float | Schedule = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> Optimizer:
    r"""Adam: momentum (first moment) and RMSProp (second moment) with bias correction.

    .. math::
        v &\leftarrow \beta_1 v + (1-\beta_1)\,dW, \qquad
        s \leftarrow \beta_2 s + (1-\beta_2)\,dW^2 \\
        \hat v &= v / (1-\beta_1^t), \qquad \hat s = s / (1-\beta_2^t) \\
        W &\leftarrow W - \alpha\,\hat v / (\sqrt{\hat s} + \varepsilon)

    ε is added to √ŝ *after* the bias correction (as in the Adam paper and optax;
    scikit-learn folds the correction into α, which puts ε on the uncorrected √s).
    """
    lr = learning_rate(lr)
    b1 = check_unit_interval(b1, "b1")
    b2 = check_unit_interval(b2, "b2")
    eps = check_positive(eps, "eps")
    return _bind("adam", adam_init, adam_update, lr=lr, b1=b1, b2=b2, eps=eps)


def adam_init(params: Any) -> AdamState:
    """v = 0 and s = 0, shaped like the parameters."""
    return AdamState(0, _zeros_like(params), _zeros_like(params))


def adam_update(
    grads: Any,
    state: AdamState,
    params: Any = None,
    *,
    lr: float | Schedule,
    b1: float,
    b2: float,
    eps: float,
) -> tuple[Any, AdamState]:
    """``(updates, new state)`` of one Adam step (:func:`adam`); t is the new step count."""
    lr = value(lr, state.count)
    t = state.count + 1
    v = tree_map(lambda v, g: b1 * v + (1 - b1) * g, state.v, grads)  # v = β1 v + (1−β1)dW
    s = tree_map(lambda s, g: b2 * s + (1 - b2) * g * g, state.s, grads)  # s = β2 s + (1−β2)dW²
    c1, c2 = 1 - b1**t, 1 - b2**t  # bias corrections: v̂ = v/c1, ŝ = s/c2
    updates = tree_map(lambda v, s: -lr * (v / c1) / (_sqrt(s / c2) + eps), v, s)
    return updates, AdamState(t, v, s)


def adamw(
    lr: float | Schedule = 0.001,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.01,
) -> Optimizer:
    r"""AdamW: Adam with *decoupled* weight decay (Loshchilov & Hutter).

    .. math::
        W \leftarrow W - \alpha\,\bigl(\hat v / (\sqrt{\hat s} + \varepsilon)
        + \lambda W\bigr)

    v, s, v̂, ŝ as in :func:`adam`. The decay λW is added to the *step*, not to the
    gradient: an L2 term (``Network(l2=λ)``) adds λW/n to dW, which Adam then divides by
    √ŝ, so weights with large gradients are barely decayed; AdamW decays every weight by
    the same factor (1 − αλ) per step. This is ``torch.optim.AdamW`` (whose decay is
    also multiplied by α, scheduled or not) and optax's ``adamw``; λ applies to every
    parameter, biases included, as in both. The state is Adam's.

    Parameters
    ----------
    lr : float or Schedule
    b1, b2, eps : float
        As in :func:`adam`.
    weight_decay : float, default=0.01
        λ >= 0 (PyTorch's default).
    """
    lr = learning_rate(lr)
    b1 = check_unit_interval(b1, "b1")
    b2 = check_unit_interval(b2, "b2")
    eps = check_positive(eps, "eps")
    wd = check_positive(weight_decay, "weight_decay", allow_zero=True)
    return _bind("adamw", adam_init, adamw_update, lr=lr, b1=b1, b2=b2, eps=eps, weight_decay=wd)


def adamw_update(
    grads: Any,
    state: AdamState,
    params: Any = None,
    *,
    lr: float | Schedule,
    b1: float,
    b2: float,
    eps: float,
    weight_decay: float,
) -> tuple[Any, AdamState]:
    """``(updates, new state)`` of one AdamW step (:func:`adamw`); needs ``params``."""
    if params is None:
        raise ValueError("adamw's update needs the parameters (its decay is λW)")
    adam_updates, new_state = adam_update(grads, state, params, lr=lr, b1=b1, b2=b2, eps=eps)
    lr = value(lr, state.count)
    # W ← W − α v̂/(√ŝ + ε) − αλW
    updates = tree_map(lambda u, p: u - (lr * weight_decay) * p, adam_updates, params)
    return updates, new_state


# ------------------------------------------------------------------ wrappers
def global_norm(tree: Any) -> float:
    """‖g‖ = √(Σ g²) over every leaf of a tree of arrays (one number for the network)."""
    return math.sqrt(sum(float(_xp.sum(g * g)) for g in tree_leaves(tree)))


def clip_by_global_norm(inner: Optimizer | dict[str, Any], max_norm: float) -> Optimizer:
    r"""Wrap an optimizer so that it sees the gradient clipped to global norm ≤ c.

    .. math::
        g \leftarrow g \cdot \min\Bigl(1, \frac{c}{\lVert g \rVert}\Bigr), \qquad
        \lVert g \rVert = \sqrt{\textstyle\sum_l \lVert dW^{[l]} \rVert_F^2
        + \lVert db^{[l]} \rVert^2}

    then ``inner``'s update on the clipped g. The direction of the step is kept; only
    its length is capped, for every layer at once (optax's ``clip_by_global_norm``
    chained before the optimizer; ``torch.nn.utils.clip_grad_norm_`` divides by
    ‖g‖ + 10⁻⁶ instead, a relative difference of 10⁻⁶/‖g‖). A wrapper, not a flag
    on each optimizer: it composes with any of them, and its state *is* the inner
    optimizer's (checkpoints and model files store it unchanged).

    Parameters
    ----------
    inner : Optimizer
        The optimizer to run on the clipped gradient (or its saved description
        ``{"name": ..., "hyperparams": {...}}``).
    max_norm : float
        c > 0.
    """
    if isinstance(inner, dict):
        inner = get(str(inner.get("name")), **dict(inner.get("hyperparams") or {}))
    if not isinstance(inner, Optimizer):
        raise TypeError(f"inner must be an Optimizer, got {inner!r}")
    max_norm = check_positive(max_norm, "max_norm")
    opt = _bind("clip_by_global_norm", inner.init, clipped_update, inner=inner, max_norm=max_norm)
    shown: dict[str, Any] = {
        "max_norm": max_norm,
        "inner": {"name": inner.name, "hyperparams": inner.hyperparams},
    }
    return opt._replace(hyperparams=shown)


def clipped_update(
    grads: Any, state: Any, params: Any = None, *, inner: Optimizer, max_norm: float
) -> tuple[Any, Any]:
    """``inner.update`` on the gradient scaled to global norm ≤ ``max_norm``."""
    norm = global_norm(grads)
    if norm > max_norm:  # NaN compares false: a NaN gradient passes through, to be caught
        factor = max_norm / norm
        grads = tree_map(lambda g: g * factor, grads)
    return inner.update(grads, state, params)


def scale_learning_rate(opt: Optimizer, factor: float) -> Optimizer:
    """The same optimizer with α (or every α_t) multiplied by ``factor``.

    Built-in optimizers are rebuilt with the scaled rate (so the fast step still knows
    them); any other optimizer has its updates multiplied by ``factor`` (the same thing
    whenever the update is linear in α, as for every optimizer here). The state type
    does not change.
    """
    from mlplab.core.schedules import scaled

    update = opt.update
    if factor == 1:
        return opt
    if type(update) is partial and "inner" in update.keywords:  # a wrapper
        inner = scale_learning_rate(update.keywords["inner"], factor)
        return opt._replace(update=partial(update.func, **{**update.keywords, "inner": inner}))
    if type(update) is partial and "lr" in update.keywords:
        keywords = {**update.keywords, "lr": scaled(update.keywords["lr"], factor)}
        return opt._replace(update=partial(update.func, *update.args, **keywords))

    def scaled_update(grads: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        updates, new_state = update(grads, state, params)
        return tree_map(lambda u: u * factor, updates), new_state

    return opt._replace(update=scaled_update)


def current_learning_rate(opt: Optimizer, state: Any) -> float | None:
    """α of the next step (α_t of a schedule at t = ``state.count``), or None if unknown."""
    keywords = getattr(opt.update, "keywords", None) or {}
    if "inner" in keywords:
        return current_learning_rate(keywords["inner"], state)
    lr = keywords.get("lr")
    if lr is None:
        return None
    return float(value(lr, int(getattr(state, "count", 0))))


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": sgd,
    "gd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
}
"""Optimizer factories by name (``gd`` is an alias of ``sgd``)."""

WRAPPERS: dict[str, Callable[..., Optimizer]] = {"clip_by_global_norm": clip_by_global_norm}
"""Wrappers of an optimizer by name: :func:`get` rebuilds them from their saved form."""


def get(name: str | Optimizer, **hyperparams: float) -> Optimizer:
    """Build an optimizer from its name and hyperparameters (``get("adam", lr=0.01)``)."""
    if isinstance(name, Optimizer):
        return name
    if not isinstance(name, str):
        raise TypeError(f"optimizer must be a name or an Optimizer, got {name!r}")
    key = name.strip().lower()
    factory = OPTIMIZERS.get(key) or WRAPPERS.get(key)
    if factory is None:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    try:
        return factory(**hyperparams)
    except TypeError as exc:
        raise TypeError(f"optimizer {key!r}: {exc}") from None
