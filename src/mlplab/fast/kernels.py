r"""In-place twins of core's activations and optimizer updates, for the NumPy fast path.

The functions of :mod:`mlplab.core.activations` and :mod:`mlplab.core.optimizers` are what
a reader meets: each returns new arrays. Training repeats them on arrays of one shape
thousands of times, so the fast path (:class:`mlplab.fast.workspace.Workspace`,
:class:`mlplab.fast.step.CheckedStep`) runs the same formulas, in the same order, through
the kernels below, which write into buffers allocated once. Each kernel computes the
values its pure twin computes (tests/test_performance_contracts.py compares them).

Built-ins are recognised by their functions, never by their names, so that a user's
Activation called "relu", or a user's ``Optimizer(init, update)``, runs its own code:

* :func:`inplace_kernels` looks an activation up by ``(g.forward, g.derivative)``; any
  other activation gets a generic pair that calls ``g``.
* :func:`for_optimizer` looks an optimizer up by the equations its ``update`` binds
  (``functools.partial`` of :func:`mlplab.core.optimizers.momentum_update` etc.) and
  builds the kernels from the hyperparameters bound there; any other optimizer gets None
  (the steps then call its pure ``update``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from mlplab import _array_api as _xp
from mlplab._typing import Array
from mlplab.core import activations as _act
from mlplab.core import optimizers as _opt
from mlplab.core import sklearn_updates as _sk
from mlplab.core.schedules import Schedule

if TYPE_CHECKING:
    from mlplab.fast._blas import Level1

Bufs = Sequence[Array]
"""An optimizer state's flat arrays (or scratch arrays), in the order of its fields."""

# ------------------------------------------------------------------ activations


def _relu_into(Z: Array, out: Array) -> Array:
    # a = max(z, 0) as z ⊙ 1[z > 0]: the mask goes into ``out`` and stays there for
    # backprop (it is g'(z)), a overwrites z in place. np.maximum is slow for float32
    # here; with the comparison, the multiply, and a backprop of one multiply, forward +
    # backward took 18 µs against 29 on 128×256 (benchmarks/RESULTS.md). Same values as
    # max(z, 0) for finite z and NaN (a negative z gives −0.0), but z = −inf (which only
    # an overflowed product makes) gives NaN, which the trainer reports as divergence.
    np.greater(Z, 0, out=out)
    np.multiply(Z, out, out=Z)
    return Z


def _relu_backward_into(dA: Array, Z: Array, out: Array) -> Array:
    dA *= out  # dZ = dA ⊙ g'(z), g'(z) = 1[z > 0] kept by _relu_into
    return dA


def _sigmoid_into(Z: Array, out: Array) -> Array:
    return _xp._expit()(Z, out=out)  # a = σ(z), scipy's expit as core's stable_sigmoid


def _sigmoid_backward_into(dA: Array, Z: Array, A: Array) -> Array:
    np.subtract(1.0, A, out=Z)  # 1 − a, written over the dead z buffer
    Z *= A  # σ'(z) = a(1 − a)
    dA *= Z  # dZ = dA ⊙ σ'(z)
    return dA


def _tanh_into(Z: Array, out: Array) -> Array:
    return np.tanh(Z, out=out)  # a = tanh(z)


def _tanh_backward_into(dA: Array, Z: Array, A: Array) -> Array:
    np.multiply(A, A, out=Z)
    np.subtract(1.0, Z, out=Z)  # tanh'(z) = 1 − a²
    dA *= Z  # dZ = dA ⊙ tanh'(z)
    return dA


def _identity_into(Z: Array, out: Array) -> Array:
    return Z  # a = z: no copy


def _identity_backward_into(dA: Array, Z: Array, A: Array) -> Array:
    return dA  # g' = 1


class InPlaceKernels(NamedTuple):
    """In-place twins of an Activation, used by the training fast path.

    ``forward_into(Z, out)`` returns a = g(z), written into ``out`` or over Z (ReLU, the
    identity). ``backward_into(dA, Z, out)``, given the same two buffers after a was
    used, multiplies dA by g'(z) in place and returns it (dZ = dA ⊙ g'(z)); it may
    overwrite Z. Whatever of Z and ``out`` forward_into did not return is its own (ReLU
    keeps g'(z) there). All arrays have the shape (n_samples, n[l]).
    """

    forward_into: Callable[[Array, Array], Array]
    backward_into: Callable[[Array, Array, Array], Array]


def _key(g: _act.Activation) -> tuple[Callable[..., Any], Callable[..., Any]]:
    return (g.forward, g.derivative)


# (forward, derivative) of each built-in activation -> its in-place kernels.
_KERNELS: dict[tuple[Callable[..., Any], Callable[..., Any]], InPlaceKernels] = {
    _key(_act.relu): InPlaceKernels(_relu_into, _relu_backward_into),
    _key(_act.sigmoid): InPlaceKernels(_sigmoid_into, _sigmoid_backward_into),
    _key(_act.tanh): InPlaceKernels(_tanh_into, _tanh_backward_into),
    _key(_act.identity): InPlaceKernels(_identity_into, _identity_backward_into),
}


def inplace_kernels(g: _act.Activation) -> InPlaceKernels:
    """The in-place kernels of ``g``: the built-in ones, or a generic pair that calls g.

    Looked up by g's functions, not its name, so that a user's Activation that happens
    to be called "relu" still runs its own code.
    """
    kernels = _KERNELS.get(_key(g))
    if kernels is not None:
        return kernels

    def forward_into(Z: Array, out: Array) -> Array:
        out[...] = g.forward(Z)  # a = g(z)
        return out

    def backward_into(dA: Array, Z: Array, A: Array) -> Array:
        dA *= g.derivative(Z, A)  # dZ = dA ⊙ g'(z)
        return dA

    return InPlaceKernels(forward_into, backward_into)


def is_relu(kernels: InPlaceKernels) -> bool:
    """Whether ``kernels`` are ReLU's built-in pair (:func:`inplace_kernels` of ``relu``).

    Their calls are known: ``forward_into(Z, out)`` is ``np.greater(Z, 0, out)`` (the
    mask 1[z > 0], which is g'(z), into ``out``) and ``np.multiply(Z, out, Z)`` (a = z ⊙
    1[z > 0] over z), and ``backward_into(dA, Z, out)`` is ``dA *= out``; a caller that
    binds a step's calls once (:mod:`mlplab.train.fitstep`) binds these instead.

    Parameters
    ----------
    kernels : InPlaceKernels
        A hidden layer's pair, on arrays of shape (n_samples, n[l]).

    Returns
    -------
    bool
    """
    return kernels.forward_into is _relu_into and kernels.backward_into is _relu_backward_into


# ------------------------------------------------------------------ L2


def l2_into(params: Sequence[Any], grads: Sequence[Any], lam: float, size: float,
            scratch: list[Array]) -> float:  # fmt: skip
    r"""(λ/2·size) Σ_l ‖W[l]‖², and dW[l] += (λ/size) W[l] in place, through ``scratch``.

    The trainer's L2 term on NumPy arrays: :func:`mlplab.core.backprop.l2_penalty` and the
    gradient's ``dW[l] += (λ/size) W[l]``, the same operations on the same values in the
    same order (W[l] ⊙ W[l] summed in W[l]'s memory order, then the layers' floats added
    in order), so bit for bit the same J and gradient, without allocating: ``scratch``
    holds one W[l]-shaped buffer per layer, made on the first call (pass an empty list
    and keep it).
    """
    if len(scratch) != len(params) or any(
        (b.shape, b.dtype, b.flags.f_contiguous) != (p.W.shape, p.W.dtype, p.W.flags.f_contiguous)
        for b, p in zip(scratch, params, strict=True)
    ):
        scratch[:] = [np.empty_like(p.W) for p in params]  # W[l]'s layout: its sum order
    total = 0.0
    for p, buf in zip(params, scratch, strict=True):
        np.multiply(p.W, p.W, out=buf)
        total = total + float(buf.sum())
    c = lam / size
    for g, p, buf in zip(grads, params, scratch, strict=True):
        np.multiply(p.W, c, out=buf)  # d/dW of (λ/2n)‖W‖² = (λ/n) W
        np.add(g.W, buf, out=g.W)
    return float(lam / (2 * size) * total)


def l2_dot_into(params: Sequence[Any], grads: Sequence[Any], lam: float, size: float,
                scratch: list[Any]) -> float:  # fmt: skip
    r""":func:`l2_into` with ‖W[l]‖² as one dot product of W[l]'s entries, as scikit-learn
    computes it (``np.dot(s.ravel(), s.ravel())``): one pass instead of a product and a
    sum. Equal to :func:`l2_into` up to rounding (another summation order), so only the
    estimators use it.

    ``scratch`` (a list the caller keeps, not shared with :func:`l2_into`) holds, per
    layer, W[l] and dW[l], the views of them this step needs and a W[l]ᵀ-shaped buffer,
    made once per pair of parameter and gradient arrays: θ's two vectors alternate, so
    two sets are kept, and a step only checks that its arrays are those of a set.
    """
    return l2_dot_on(l2_dot_plan(params, grads, scratch), lam, size)


def l2_dot_on(plan: Sequence[Any], lam: float, size: float) -> float:
    """:func:`l2_dot_into` on views made beforehand by :func:`l2_dot_plan` (a step that
    keeps them: ``mlplab.train.fitstep``)."""
    total = 0.0
    c = lam / size
    for flat, Wt, gWt, buf in plan:  # dW[l]ᵀ and W[l]ᵀ: contiguous blocks of θ and its gradient
        flat = Wt.reshape(-1) if flat is None else flat  # W[l] elsewhere: a copy, each step
        total += float(flat.dot(flat))
        np.multiply(Wt, c, out=buf)  # d/dW of (λ/2n)‖W‖² = (λ/n) W
        np.add(gWt, buf, out=gWt)
    return float(lam / (2 * size) * total)


def l2_dot_plan(params: Sequence[Any], grads: Sequence[Any], scratch: list[Any]) -> list[Any]:
    """:func:`l2_dot_into`'s views of ``params`` and ``grads``, from ``scratch`` or made."""
    for key, plan in scratch:
        if len(key) == 2 * len(params) and all(
            a is p.W and b is g.W
            for a, b, p, g in zip(key[::2], key[1::2], params, grads, strict=True)
        ):
            return plan  # type: ignore[no-any-return]
    bufs = [np.empty_like(p.W.T) for p in params]
    if scratch and [(q[3].shape, q[3].dtype) for q in scratch[-1][1]] == [
        (b.shape, b.dtype) for b in bufs
    ]:
        bufs = [q[3] for q in scratch[-1][1]]  # the other θ vector's: the same buffers
    plan = [
        (p.W.T.reshape(-1) if p.W.T.flags.c_contiguous else None, p.W.T, g.W.T, buf)
        for p, g, buf in zip(params, grads, bufs, strict=True)
    ]
    key = tuple(a for p, g in zip(params, grads, strict=True) for a in (p.W, g.W))
    scratch[:] = [*scratch[-1:], (key, plan)]  # the last two sets
    return plan


# ------------------------------------------------------------------ optimizers


class OptimizerKernels(NamedTuple):
    """The in-place form of one built-in optimizer, with its hyperparameters bound.

    Attributes
    ----------
    propose : callable
        ``propose(g, old, new, u, tmp, t)`` runs ``update``'s equations, in the same
        order, on flat arrays of one length: from the gradient ``g`` and the state's
        arrays ``old`` (every field after ``count``) it writes the new state's arrays
        into ``new`` and the update into ``u``, using the ``n_tmp`` scratch arrays
        ``tmp``; ``t`` is the new step count. ``new`` may be ``old`` itself (in place).
    n_tmp : int
        How many scratch arrays ``propose`` needs.
    lr_bound : float or None
        α for the optimizers whose every new state entry is a convex combination of old
        state and gradient entries and whose update is at most α times such a combination
        (gradient descent, momentum, Nesterov): then ``|u|, |new state| <= α ·
        max(|state|, |g|)`` entry by entry (up to rounding), which lets
        :class:`~mlplab.fast.step.CheckedStep` prove a step finite before it runs it.
    blas : callable or None
        ``blas(k, g, state, theta, t)`` takes the same step in place with the BLAS
        routines ``k`` (:class:`mlplab.fast._blas.Level1`): the state's arrays and θ are
        overwritten with the new ones (equal to ``propose`` up to rounding).
    """

    propose: Callable[..., None]
    n_tmp: int = 0
    lr_bound: float | None = None
    blas: Callable[..., None] | None = None


def _sgd(lr: float) -> OptimizerKernels:
    def propose(g: Array, old: Bufs, new: Bufs, u: Array, tmp: Bufs, t: int) -> None:
        np.multiply(g, -lr, out=u)  # −α dW

    def blas(k: Level1, g: Array, state: Bufs, theta: Array, t: int) -> None:
        k.axpy(-lr, g, theta)  # W = W − α dW

    return OptimizerKernels(propose, 0, lr, blas)


def _momentum(lr: float, beta: float) -> OptimizerKernels:
    def propose(g: Array, old: Bufs, new: Bufs, u: Array, tmp: Bufs, t: int) -> None:
        (v,), (v_new,) = old, new
        np.multiply(v, beta, out=v_new)  # v = βv + (1−β)dW
        np.multiply(g, 1 - beta, out=u)
        v_new += u
        np.multiply(v_new, -lr, out=u)  # W = W − αv

    def blas(k: Level1, g: Array, state: Bufs, theta: Array, t: int) -> None:
        (v,) = state
        k.axpby(1 - beta, g, beta, v)  # v = βv + (1−β)dW
        k.axpy(-lr, v, theta)  # W = W − αv

    return OptimizerKernels(propose, 0, lr, blas)


def _nesterov(lr: float, beta: float) -> OptimizerKernels:
    def propose(g: Array, old: Bufs, new: Bufs, u: Array, tmp: Bufs, t: int) -> None:
        (v,), (v_new,), (g1,) = old, new, tmp
        np.multiply(g, 1 - beta, out=g1)  # (1−β)dW
        np.multiply(v, beta, out=v_new)
        v_new += g1  # v = βv + (1−β)dW
        np.multiply(v_new, beta, out=u)
        u += g1
        u *= -lr  # −α(βv + (1−β)dW)

    def blas(k: Level1, g: Array, state: Bufs, theta: Array, t: int) -> None:
        (v,) = state
        k.axpby(1 - beta, g, beta, v)  # v = βv + (1−β)dW
        k.axpy(-lr * beta, v, theta)  # W = W − α(βv + (1−β)dW)
        k.axpy(-lr * (1 - beta), g, theta)

    return OptimizerKernels(propose, 1, lr, blas)


def _rmsprop(lr: float, rho: float, eps: float) -> OptimizerKernels:
    def propose(g: Array, old: Bufs, new: Bufs, u: Array, tmp: Bufs, t: int) -> None:
        (s,), (s_new,), (t0,) = old, new, tmp
        np.multiply(g, 1 - rho, out=t0)
        t0 *= g  # (1−ρ)dW²
        np.multiply(s, rho, out=s_new)
        s_new += t0  # s = ρs + (1−ρ)dW²
        np.sqrt(s_new, out=t0)
        t0 += eps  # √s + ε
        np.multiply(g, -lr, out=u)
        u /= t0  # −α dW/(√s + ε)

    return OptimizerKernels(propose, 1)


def _adam(lr: float, b1: float, b2: float, eps: float) -> OptimizerKernels:
    def propose(g: Array, old: Bufs, new: Bufs, u: Array, tmp: Bufs, t: int) -> None:
        (v, s), (v_new, s_new), (t0,) = old, new, tmp
        np.multiply(v, b1, out=v_new)
        np.multiply(g, 1 - b1, out=t0)
        v_new += t0  # v = β1 v + (1−β1)dW
        np.multiply(s, b2, out=s_new)
        np.multiply(g, 1 - b2, out=t0)
        t0 *= g
        s_new += t0  # s = β2 s + (1−β2)dW²
        c1, c2 = 1 - b1**t, 1 - b2**t
        np.divide(s_new, c2, out=t0)
        np.sqrt(t0, out=t0)
        t0 += eps  # √ŝ + ε
        np.divide(v_new, c1, out=u)
        u *= -lr
        u /= t0  # −α v̂/(√ŝ + ε)

    return OptimizerKernels(propose, 1)


def _sklearn_sgd(lr: float, momentum: float, nesterov: bool) -> OptimizerKernels:
    def propose(g: Array, old: Bufs, new: Bufs, u: Array, tmp: Bufs, t: int) -> None:
        (v,), (v_new,), (t0,) = old, new, tmp
        np.multiply(g, lr, out=t0)  # α dW
        np.multiply(v, momentum, out=v_new)
        v_new -= t0  # u = μu − α dW
        if nesterov:
            np.multiply(v_new, momentum, out=u)
            u -= t0  # μu − α dW
        else:
            u[...] = v_new

    return OptimizerKernels(propose, 1)


def _sklearn_adam(lr: float, b1: float, b2: float, eps: float) -> OptimizerKernels:
    def propose(g: Array, old: Bufs, new: Bufs, u: Array, tmp: Bufs, t: int) -> None:
        (v, s), (v_new, s_new), (t0,) = old, new, tmp
        np.multiply(v, b1, out=v_new)
        np.multiply(g, 1 - b1, out=t0)
        v_new += t0  # v = β1 v + (1−β1)dW
        np.multiply(s, b2, out=s_new)
        np.multiply(g, g, out=t0)
        t0 *= 1 - b2
        s_new += t0  # s = β2 s + (1−β2)dW²
        lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        np.sqrt(s_new, out=t0)
        t0 += eps  # √s + ε
        np.multiply(v_new, -lr_t, out=u)
        u /= t0  # −α_t v/(√s + ε)

    return OptimizerKernels(propose, 1)


# The equations of each built-in optimizer -> the builder of their in-place form.
_OPTIMIZER_KERNELS: dict[Callable[..., Any], Callable[..., OptimizerKernels]] = {
    _opt.sgd_update: _sgd,
    _opt.momentum_update: _momentum,
    _opt.nesterov_update: _nesterov,
    _opt.rmsprop_update: _rmsprop,
    _opt.adam_update: _adam,
    _sk.sklearn_sgd_update: _sklearn_sgd,
    _sk.sklearn_adam_update: _sklearn_adam,
}


def _scheduled(
    build: Callable[..., OptimizerKernels], keywords: dict[str, Any]
) -> OptimizerKernels:
    """The kernels of an optimizer whose α is a Schedule: α_t = lr(t − 1) at new count t.

    Each step builds (or reuses, while α_t stays the same) the kernels of the constant
    α_t, so a scheduled step runs the very equations of a constant one.
    """
    schedule = keywords["lr"]
    last: list[Any] = [None, None]  # (α, kernels) of the last step

    def at(t: int) -> OptimizerKernels:
        lr = schedule(t - 1)
        if lr != last[0]:
            last[:] = [lr, build(**{**keywords, "lr": lr})]
        kernels: OptimizerKernels = last[1]
        return kernels

    base = build(**{**keywords, "lr": schedule.peak if schedule.peak < float("inf") else 1.0})

    def propose(g: Array, old: Bufs, new: Bufs, u: Array, tmp: Bufs, t: int) -> None:
        at(t).propose(g, old, new, u, tmp, t)

    def blas(k: Level1, g: Array, state: Bufs, theta: Array, t: int) -> None:
        at(t).blas(k, g, state, theta, t)  # type: ignore[misc]

    bound = schedule.peak if base.lr_bound is not None and schedule.peak < float("inf") else None
    return OptimizerKernels(propose, base.n_tmp, bound, blas if base.blas else None)


def for_optimizer(optimizer: Any) -> OptimizerKernels | None:
    """The in-place kernels of a built-in optimizer, or None for any other.

    Recognised by ``optimizer.update``: a ``functools.partial`` of one of the built-in
    equations (:func:`mlplab.core.optimizers.momentum_update`, ...), as the factories
    make it. The kernels use the hyperparameters bound there, the very values ``update``
    uses. A user's ``Optimizer(init, update)`` gets None. Call it once, when a step
    object is built, not per step.

    Examples
    --------
    >>> from mlplab.core import optimizers
    >>> for_optimizer(optimizers.momentum(0.1)).lr_bound
    0.1
    >>> for_optimizer(optimizers.Optimizer(lambda p: None, lambda g, s, p: (-g, s))) is None
    True
    """
    update = getattr(optimizer, "update", None)
    if type(update) is not partial or update.args:
        return None
    build = _OPTIMIZER_KERNELS.get(update.func)
    if build is None:
        return None
    try:
        if isinstance(update.keywords.get("lr"), Schedule):
            return _scheduled(build, update.keywords)
        return build(**update.keywords)
    except TypeError:  # a partial binding other keywords: its update decides what it does
        return None
