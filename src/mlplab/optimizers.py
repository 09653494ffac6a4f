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

Fast path. ``update`` is pure and allocates a few parameter-sized arrays per step. The
Trainer instead calls :func:`inplace_step`, which for the built-in optimizers runs the
same equations, in the same order (so with bit-identical results), writing into θ, into
the state's own arrays and into scratch buffers allocated once. The pure functions stay
the reference; tests compare the two step by step.

Other array libraries. ``init`` and ``update`` work on the arrays of any array API
library (PyTorch, CuPy, ...: :mod:`mlplab._array_api`); the state lives where the
parameters live. :class:`GuardedStep` is the trainer's step for them: it never reads a
value back to the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from mlplab import _array_api as _xp
from mlplab._tree import tree_leaves, tree_map
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


# ------------------------------------------------------------------ fast path helpers
def _owned_like(arr: Any, params: np.ndarray) -> bool:
    """Whether state array ``arr`` can be updated in place next to flat ``params``."""
    return (
        type(arr) is np.ndarray
        and arr.shape == params.shape
        and arr.dtype == params.dtype
        and arr.flags.writeable
    )


def _scratch(buffers: list[np.ndarray], i: int, like: np.ndarray) -> np.ndarray:
    """Scratch buffer number ``i`` shaped like ``like``, allocated on first use."""
    while len(buffers) <= i:
        buffers.append(np.empty_like(like))
    buf = buffers[i]
    if buf.shape != like.shape or buf.dtype != like.dtype:
        buf = buffers[i] = np.empty_like(like)
    return buf


def inplace_step(optimizer: Optimizer) -> Callable[[Any, Any, Any], Any]:
    r"""``step(grads, state, params) -> new_state``, adding the update to ``params`` in place.

    The same step as::

        updates, new_state = optimizer.update(grads, state, params)
        params += updates            # every leaf, in place

    For the built-in optimizers, with ``params`` and ``grads`` one flat array each (the
    trainer's θ and dJ/dθ), it runs the same equations in the same order without
    allocating: the state's arrays (``v``, ``s``) are updated **in place** and reused in
    the returned state, with scratch buffers owned by this ``step`` (call
    :func:`inplace_step` once per training run, not per thread-shared use). Anything
    else — trees of arrays, a user's own optimizer, state arrays of another dtype —
    falls back to the pure ``update`` above.

    Parameters
    ----------
    optimizer : Optimizer

    Returns
    -------
    step : callable
        ``step(grads, state, params) -> new_state``; ``params`` is modified in place.

    Examples
    --------
    >>> import numpy as np
    >>> opt = momentum(lr=0.1, beta=0.9)
    >>> theta, g = np.zeros(3, np.float32), np.ones(3, np.float32)
    >>> step = inplace_step(opt)
    >>> state = step(g, opt.init(theta), theta)
    >>> [round(float(t), 6) for t in theta]  # −α (1 − β) g: the first momentum step
    [-0.01, -0.01, -0.01]
    """
    into = getattr(optimizer.update, "_into", None)
    scratch: list[np.ndarray] = []

    def step(grads: Any, state: Any, params: Any) -> Any:
        if (
            into is not None
            and type(params) is np.ndarray
            and type(grads) is np.ndarray
            and grads.shape == params.shape
            and grads.dtype == params.dtype
        ):
            new_state = into(grads, state, params, scratch)
            if new_state is not None:
                return new_state
        updates, new_state = optimizer.update(grads, state, params)
        for p, u in zip(tree_leaves(params), tree_leaves(updates), strict=True):
            p += u
        return new_state

    return step


class GuardedStep:
    r"""The trainer's step for arrays of other libraries, checked on the device.

    ``step(J, grads, state, params) -> new_state`` is ``updates, new_state =
    optimizer.update(grads, state, params)`` followed by ``params += updates`` — applied
    only while every step so far had a finite J and a finite u·g (NaN or inf as soon as
    one entry of the gradient or of the update is), and without reading anything back
    to the host.

    The NumPy loop checks each step on the host before applying it (``float(u @ g)``).
    On a GPU that read would make the host wait for every step to finish before queueing
    the next one. Here the check stays on the device: ``ok`` (a 0-D boolean array) is
    True while every step so far was finite, and θ and the optimizer's state arrays
    change only where it is (``xp.where``). The trainer reads ``ok`` once per epoch; after
    a non-finite step θ and the state arrays are those of the last finite step, as in
    the NumPy loop, and ``applied`` says how many steps were applied.

    Parameters
    ----------
    optimizer : Optimizer

    Attributes
    ----------
    ok : 0-D boolean array or None
        None before the first step.
    applied : 0-D integer array or None
        Steps applied by this object so far.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.ok: Any = None
        self.applied: Any = None
        self._zero: Any = None

    def __call__(self, J: Any, grads: Any, state: Any, params: Any) -> Any:
        xp = _xp.namespace(params)
        updates, new_state = self.optimizer.update(grads, state, params)
        finite = xp.isfinite(J) & xp.isfinite(updates @ grads)  # NaN/inf: divergence
        ok = finite if self.ok is None else self.ok & finite
        if self._zero is None:
            self._zero = xp.zeros((), dtype=params.dtype, device=_xp.device_of(params))
        params += xp.where(ok, updates, self._zero)  # θ ← θ + update, while ok
        new_state = tree_map(
            lambda new, old: xp.where(ok, new, old) if hasattr(new, "shape") else new,
            new_state,
            state,
        )
        self.ok = ok
        one = xp.astype(ok, xp.int64)
        self.applied = one if self.applied is None else self.applied + one
        return new_state


# ------------------------------------------------------------------ optimizers
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

    def update_into(g: np.ndarray, state: EmptyState, params: np.ndarray, scratch: list):
        step = _scratch(scratch, 0, params)
        np.multiply(g, -lr, out=step)  # −α dW
        params += step
        return EmptyState(state.count + 1)

    update._into = update_into  # type: ignore[attr-defined]
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

    def update_into(g: np.ndarray, state: MomentumState, params: np.ndarray, scratch: list):
        v = state.v
        if not _owned_like(v, params):
            return None
        tmp = _scratch(scratch, 0, params)
        v *= beta  # v = βv + (1−β)dW
        np.multiply(g, 1 - beta, out=tmp)
        v += tmp
        np.multiply(v, -lr, out=tmp)  # W = W − αv
        params += tmp
        return MomentumState(state.count + 1, v)

    update._into = update_into  # type: ignore[attr-defined]
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

    def update_into(g: np.ndarray, state: MomentumState, params: np.ndarray, scratch: list):
        v = state.v
        if not _owned_like(v, params):
            return None
        g1 = _scratch(scratch, 0, params)
        step = _scratch(scratch, 1, params)
        np.multiply(g, 1 - beta, out=g1)  # (1−β)dW
        v *= beta
        v += g1  # v = βv + (1−β)dW
        np.multiply(v, beta, out=step)
        step += g1
        step *= -lr  # −α(βv + (1−β)dW)
        params += step
        return MomentumState(state.count + 1, v)

    update._into = update_into  # type: ignore[attr-defined]
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
        updates = tree_map(lambda g, s: -lr * g / (_sqrt(s) + eps), grads, s)
        return updates, RMSPropState(state.count + 1, s)

    def update_into(g: np.ndarray, state: RMSPropState, params: np.ndarray, scratch: list):
        s = state.s
        if not _owned_like(s, params):
            return None
        t0 = _scratch(scratch, 0, params)
        t1 = _scratch(scratch, 1, params)
        np.multiply(g, 1 - rho, out=t0)
        t0 *= g  # (1−ρ)dW²
        s *= rho
        s += t0  # s = ρs + (1−ρ)dW²
        np.sqrt(s, out=t0)
        t0 += eps  # √s + ε
        np.multiply(g, -lr, out=t1)
        t1 /= t0  # −α dW/(√s + ε)
        params += t1
        return RMSPropState(state.count + 1, s)

    update._into = update_into  # type: ignore[attr-defined]
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
        updates = tree_map(lambda v, s: -lr * (v / c1) / (_sqrt(s / c2) + eps), v, s)
        return updates, AdamState(t, v, s)

    def update_into(g: np.ndarray, state: AdamState, params: np.ndarray, scratch: list):
        v, s = state.v, state.s
        if not (_owned_like(v, params) and _owned_like(s, params)):
            return None
        t = state.count + 1
        t0 = _scratch(scratch, 0, params)
        t1 = _scratch(scratch, 1, params)
        v *= b1
        np.multiply(g, 1 - b1, out=t0)
        v += t0  # v = β1 v + (1−β1)dW
        s *= b2
        np.multiply(g, 1 - b2, out=t0)
        t0 *= g
        s += t0  # s = β2 s + (1−β2)dW²
        c1, c2 = 1 - b1**t, 1 - b2**t
        np.divide(s, c2, out=t0)
        np.sqrt(t0, out=t0)
        t0 += eps  # √ŝ + ε
        np.divide(v, c1, out=t1)
        t1 *= -lr
        t1 /= t0  # −α v̂/(√ŝ + ε)
        params += t1
        return AdamState(t, v, s)

    update._into = update_into  # type: ignore[attr-defined]
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
