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
Trainer instead runs :class:`CheckedStep`, which for the built-in optimizers runs the same
equations, in the same order (so with bit-identical results), into buffers allocated once:
it writes θ + update into a second vector, so the step can be checked before it is
adopted. :func:`inplace_step` is the unchecked in-place form, for custom loops. The pure
functions stay the reference; tests compare them step by step. On long vectors
(:data:`BLAS_MIN` parameters and more) gradient descent, momentum and Nesterov take their
steps as BLAS ``axpby``/``axpy`` calls instead (:mod:`mlplab._blas`: one pass per
equation, multithreaded), equal to the pure update up to rounding.

Other array libraries. ``init`` and ``update`` work on the arrays of any array API
library (PyTorch, CuPy, ...: :mod:`mlplab._array_api`); the state lives where the
parameters live. :class:`GuardedStep` is the trainer's step for them: it never reads a
value back to the host.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from mlplab import _array_api as _xp
from mlplab._tree import tree_leaves, tree_map
from mlplab._validation import check_positive, check_unit_interval
from mlplab.fast import _blas


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
CHUNK = 1 << 18
"""Elements per slice of the fast optimizer step (1 MB of float32 per array).

The fast step runs its equations slice by slice, so that the temporaries it reuses stay
in the CPU's cache: on a 2.1-million-parameter θ, slices of 2**18 elements were faster
than whole-array passes and than smaller slices, whose Python overhead adds up
(benchmarks/RESULTS.md). Every equation is elementwise, so slicing changes no result.
"""


IN_PLACE_MIN = 1 << 14
"""Parameters from which :meth:`CheckedStep.step` tries the in-place step.

Below, the extra g·g costs more than the pass it saves (641 parameters: 5.95 against 5.37 µs
per step, benchmarks/RESULTS.md).
"""

BLAS_MIN = 1 << 14
"""Parameters from which :class:`CheckedStep` runs an optimizer's BLAS form, if it has one.

``axpby``/``axpy`` through :mod:`mlplab._blas`: the in-place momentum step on 2.1 million
parameters took 0.82 ms against 1.67 ms with the ufunc kernels, on 235 thousand 103 against
120 µs (benchmarks/RESULTS.md, 12:03 run). Below 2**14 the step costs a few microseconds
either way (641 parameters: 5.4 µs) and the ufunc form, identical to the pure update bit
for bit, is kept.
"""


def _fast(
    update: Callable,
    propose: Callable,
    n_tmp: int,
    lr_bound: float | None = None,
    blas: Callable | None = None,
) -> None:
    """Attach the in-place form of ``update`` (used by :class:`CheckedStep`, :func:`inplace_step`).

    ``propose(g, old, new, u, tmp, t)`` runs ``update``'s equations, in the same order, on
    flat arrays: from gradient ``g`` and the state's arrays ``old`` (every field after
    ``count``) it writes the new state's arrays into ``new`` and the update into ``u``,
    using the ``n_tmp`` scratch arrays ``tmp``; ``t`` is the new step count. ``new`` may
    be ``old`` itself (an in-place step).

    ``lr_bound`` = α for the optimizers whose every new state entry is a convex
    combination of old state and gradient entries and whose update is at most α times
    such a combination (gradient descent, momentum, Nesterov): then
    ``|u|, |new state| <= α · max(|state|, |g|)`` entry by entry (up to rounding), which
    lets :class:`CheckedStep` prove a step finite before it runs it.

    ``blas(k, g, state, theta)``, if given, takes the same step in place with the BLAS
    routines ``k`` (:class:`mlplab._blas.Level1`): the state's arrays ``state`` and θ are
    overwritten with the new ones.
    """
    update._propose = propose  # type: ignore[attr-defined]
    update._blas = blas  # type: ignore[attr-defined]
    update._n_tmp = n_tmp  # type: ignore[attr-defined]
    update._lr_bound = lr_bound  # type: ignore[attr-defined]


def _flat_arrays(g: Any, state: Any, params: Any) -> tuple[np.ndarray, ...] | None:
    """The state's arrays if ``params``, ``g`` and they are flat NumPy arrays alike, else None."""
    if not (
        type(params) is np.ndarray
        and params.ndim == 1
        and type(g) is np.ndarray
        and g.shape == params.shape
        and g.dtype == params.dtype
        and isinstance(state, tuple)
        and len(state) >= 1
    ):
        return None
    arrays = tuple(state[1:])
    for a in arrays:
        if not (type(a) is np.ndarray and a.shape == params.shape and a.dtype == params.dtype):
            return None
    return arrays


def _propose_in_slices(
    update: Callable,
    g: np.ndarray,
    old: tuple[np.ndarray, ...],
    new: tuple[np.ndarray, ...],
    u: np.ndarray | None,
    tmp: list[np.ndarray],
    t: int,
    chunk: int,
    theta: np.ndarray | None = None,
    out: np.ndarray | None = None,
    check: bool = True,
) -> float:
    """``update._propose`` over slices of ``chunk`` elements; returns u·g (0.0 unless ``check``).

    With ``u=None`` the update lives only slice by slice in ``tmp[-1]``, and ``out``
    receives θ + u (``out`` may be ``theta`` itself, and ``new`` may be ``old``: an
    in-place step).
    """
    propose = update._propose  # type: ignore[attr-defined]
    n = g.shape[0]
    ug = 0.0
    if u is None:
        tmp, u_slice = tmp[:-1], tmp[-1]
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        g_s = g[lo:hi]
        u_s = u_slice[: hi - lo] if u is None else u[lo:hi]
        old_s, new_s = [a[lo:hi] for a in old], [a[lo:hi] for a in new]
        propose(g_s, old_s, new_s, u_s, [b[: hi - lo] for b in tmp], t)
        if check:
            ug += float(u_s @ g_s)  # NaN or inf as soon as one entry of u or g is
        if out is not None:
            np.add(theta[lo:hi], u_s, out=out[lo:hi])  # type: ignore[index]
    return ug


def _contiguous(*arrays: np.ndarray) -> bool:
    return all(a.flags.c_contiguous for a in arrays)


def _scratch(n_tmp: int, like: np.ndarray, chunk: int) -> list[np.ndarray]:
    return [np.empty(min(chunk, like.shape[0]), dtype=like.dtype) for _ in range(n_tmp)]


class CheckedStep:
    r"""The trainer's optimizer step on NumPy: checked before it applies, allocating nothing.

    The trainer calls :meth:`step`: in place when the step is provably finite beforehand,
    else :meth:`step_into`, which writes θ + update into a second vector to adopt once
    checked. :meth:`propose`, the two-pass form, returns the update instead:
    ``new_state, updates, ug = step.propose(g, state, θ)`` is ``updates, new_state =
    optimizer.update(g, state, θ)`` plus ``ug = updates · g``, a number that is NaN or
    inf as soon as one entry of the gradient or of the update is. Neither θ nor
    ``state`` changes: the caller checks ``ug`` and only then adds ``updates`` to θ, so a
    refused step leaves the last finite θ and state behind.

    For the built-in optimizers on one flat θ it runs the same equations, in the same
    order (bit-identical results; tests compare them step by step), slice by slice
    (:data:`CHUNK`) into buffers allocated on the first call: the update into one
    θ-sized vector, the new state into one of two sets of state arrays that alternate
    from step to step. So a state returned by ``propose`` stays valid until the second
    call after it; the state passed to the first call (a user's, a checkpoint's) is
    never written into. Other optimizers, trees and non-NumPy arrays use the pure
    ``update``.

    :meth:`step` and :meth:`step_into` run gradient descent, momentum and Nesterov on
    :data:`BLAS_MIN` parameters or more through BLAS (``axpby``/``axpy``,
    :mod:`mlplab._blas`) when NumPy's BLAS has them: the same equations, rounded the
    BLAS way (a fused multiply-add may differ from the pure update in the last bit). Both
    methods then round alike, so a run resumed from a checkpoint retraces the
    uninterrupted one bit for bit whichever of the two took each step.

    Parameters
    ----------
    optimizer : Optimizer
    chunk : int, default=CHUNK
        Elements per slice.

    Examples
    --------
    >>> import numpy as np
    >>> opt = momentum(lr=0.1, beta=0.9)
    >>> theta, g = np.zeros(3, np.float32), np.ones(3, np.float32)
    >>> step = CheckedStep(opt)
    >>> state, u, ug = step.propose(g, opt.init(theta), theta)
    >>> bool(np.isfinite(ug)), [round(float(x), 6) for x in u]  # −α (1 − β) g
    (True, [-0.01, -0.01, -0.01])
    >>> theta += u
    """

    def __init__(self, optimizer: Optimizer, chunk: int = CHUNK) -> None:
        self.optimizer = optimizer
        self.chunk = int(chunk)
        self._u: np.ndarray | None = None
        self._tmp: list[np.ndarray] = []
        self._sets: list[tuple[np.ndarray, ...]] = []
        self._key: tuple | None = None
        self._propose = getattr(optimizer.update, "_propose", None)
        self._one_slice = False
        self._tmp_fixed: list[np.ndarray] = []
        self._returned: Any = None  # the state step_into returned last
        self._g: Any = None  # and the gradient array it was given
        self._lr_bound = getattr(optimizer.update, "_lr_bound", None)
        self._blas_step = getattr(optimizer.update, "_blas", None)
        self.blas_min = BLAS_MIN
        self._k: _blas.Level1 | None = None  # the BLAS routines for θ's dtype and size
        self.in_place_min = IN_PLACE_MIN
        self._state_max = math.inf  # a bound of |entries| of the state _returned holds
        self._limit = 0.0

    def _state_buffers(
        self, old: tuple[np.ndarray, ...], params: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """The set of state arrays to write the new state into (not the one holding ``old``)."""
        key = (params.shape, params.dtype, len(old))
        if key != self._key:
            n_tmp = self.optimizer.update._n_tmp  # type: ignore[attr-defined]
            self._tmp = _scratch(n_tmp + 1, params, self.chunk)  # + one slice of u
            self._sets = [tuple(np.empty_like(params) for _ in old) for _ in range(2)]
            self._key = key
            self._one_slice = params.shape[0] <= self.chunk
            self._tmp_fixed = self._tmp[:-1]
            self._limit = float(np.finfo(params.dtype).max) / 16  # far below overflow
            use_blas = self._blas_step is not None and params.shape[0] >= self.blas_min
            self._k = _blas.level1(params.dtype) if use_blas else None
        first, second = self._sets
        return second if old and old[0] is first[0] else first

    def propose(self, g: Any, state: Any, params: Any) -> tuple[Any, Any, float]:
        """``(new_state, updates, updates · g)``; ``params`` and ``state`` are unchanged."""
        old = _flat_arrays(g, state, params) if self._propose is not None else None
        if old is None:
            updates, new_state = self.optimizer.update(g, state, params)
            return new_state, updates, float(updates @ g)
        new = self._state_buffers(old, params)
        if self._u is None or self._u.shape != params.shape or self._u.dtype != params.dtype:
            self._u = np.empty_like(params)
        t = state.count + 1
        ug = _propose_in_slices(
            self.optimizer.update, g, old, new, self._u, self._tmp[:-1], t, self.chunk
        )
        return type(state)(t, *new), self._u, ug

    def step_into(self, g: Any, state: Any, params: Any, out: np.ndarray) -> tuple[Any, float]:
        """θ + update written into ``out``: ``(new_state, updates · g)``.

        ``params`` (θ) and ``state`` are unchanged, so the caller can check ``updates · g``
        and keep ``out`` as the new θ, or drop it. One pass over θ, the gradient and the
        state, slice by slice: the trainer's step (it alternates θ between two vectors).
        """
        if state is self._returned and g is self._g and params.shape == g.shape:
            # The state of our last step, the same gradient buffer: checked then.
            old = state[1:]
            first, second = self._sets
            new = second if old and old[0] is first[0] else first
        else:
            old = _flat_arrays(g, state, params) if self._propose is not None else None
            if old is None:
                updates, new_state = self.optimizer.update(g, state, params)
                np.add(params, updates, out=out)
                return new_state, float(updates @ g)
            new = self._state_buffers(old, params)
            self._g = g
        t = state.count + 1
        tmp = self._tmp
        if self._k is not None and _contiguous(g, params, out):
            # The in-place BLAS step of step() below, on copies of θ and the state: the
            # same calls on the same values, so the same bits. g · θ_new is NaN or inf as
            # soon as one entry of g or of the new θ is (θ_new finite means the update and
            # the new state are: the update is α times a combination of them).
            for a_new, a_old in zip(new, old, strict=True):
                np.copyto(a_new, a_old)
            np.copyto(out, params)
            self._blas_step(self._k, g, new, out)
            ug = float(g @ out)
        elif self._one_slice:  # the whole θ at once (the common small case)
            u = tmp[-1]
            self._propose(g, old, new, u, self._tmp_fixed, t)
            ug = float(u @ g)
            np.add(params, u, out=out)
        else:
            ug = _propose_in_slices(
                self.optimizer.update, g, old, new, None, tmp, t, self.chunk, params, out
            )
        self._returned = new_state = type(state)(t, *new)
        return new_state, ug

    def step(
        self, J: float, g: Any, state: Any, params: Any, spare: Callable[[], np.ndarray]
    ) -> tuple[Any, Any, float]:
        """The trainer's step: ``(new_state, new θ, check)``, to adopt if J and check are finite.

        Usually :meth:`step_into` ``spare()``, a second θ vector, with check = u·g. For
        gradient descent, momentum and Nesterov, once the state is this object's own,
        the step can be proven finite *before* it runs: every entry of the new state is
        a convex combination of old state and gradient entries, and the update at most α
        times one, so |u| ≤ α · max(max |state|, √(g·g)) (a bound kept from step to step).
        When J and g·g are finite and that bound is far below the dtype's largest float,
        the step runs in place on θ and the state (no second vector written: on 2.1 million
        parameters 1.67 ms against 2.42 ms for step_into with the ufunc kernels, 0.82 ms
        with BLAS, benchmarks/RESULTS.md), and
        check = g·g. Otherwise (a non-finite or huge gradient, a state from elsewhere) the
        checked :meth:`step_into` decides, so a refused step still leaves θ and the state
        as they were.
        """
        bound = self._lr_bound
        if (
            bound is not None
            and state is self._returned
            and g is self._g
            and type(params) is np.ndarray
            and params.shape == g.shape
            and params.shape[0] >= self.in_place_min
            and math.isfinite(J)
        ):
            gg = float(g @ g)
            if math.isfinite(gg):
                # Rounding can push a convex combination one ulp past its inputs.
                m = max(self._state_max, math.sqrt(gg)) * (1 + 1e-6)
                if bound * m < self._limit:
                    old = state[1:]
                    t = state.count + 1
                    if self._k is not None and _contiguous(g, params, params):
                        self._blas_step(self._k, g, old, params)
                    else:
                        _propose_in_slices(
                            self.optimizer.update, g, old, old, None, self._tmp, t,
                            self.chunk, params, params, check=False,
                        )  # fmt: skip
                    self._state_max = m
                    self._returned = new_state = type(state)(t, *old)
                    return new_state, params, gg
        out = spare()
        new_state, ug = self.step_into(g, state, params, out)
        if (
            bound is not None
            and new_state is self._returned
            and params.shape[0] >= self.in_place_min
        ):
            self._state_max = max(
                (max(float(a.max()), -float(a.min())) for a in new_state[1:]), default=0.0
            )
        return new_state, out, ug


def inplace_step(optimizer: Optimizer) -> Callable[[Any, Any, Any], Any]:
    r"""``step(grads, state, params) -> new_state``, adding the update to ``params`` in place.

    The same step as::

        updates, new_state = optimizer.update(grads, state, params)
        params += updates            # every leaf, in place

    For the built-in optimizers, with ``params`` and ``grads`` one flat array each, it runs
    the same equations in the same order without allocating: the state's arrays (``v``,
    ``s``) are updated **in place** and reused in the returned state (unless read-only:
    then new ones are made once), with scratch buffers owned by this ``step``. Anything
    else — trees of arrays, a user's own optimizer, state arrays of another dtype — falls
    back to the pure ``update`` above. Unlike :class:`CheckedStep` (the trainer's step),
    nothing is checked before θ and the state change.

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
    fast = getattr(optimizer.update, "_propose", None) is not None
    buffers: dict[str, Any] = {}

    def step(grads: Any, state: Any, params: Any) -> Any:
        old = _flat_arrays(grads, state, params) if fast else None
        if old is None:
            updates, new_state = optimizer.update(grads, state, params)
            for p, u in zip(tree_leaves(params), tree_leaves(updates), strict=True):
                p += u
            return new_state
        new = old if all(a.flags.writeable for a in old) else tuple(np.empty_like(a) for a in old)
        u = buffers.get("u")
        if u is None or u.shape != params.shape or u.dtype != params.dtype:
            u = buffers["u"] = np.empty_like(params)
            buffers["tmp"] = _scratch(optimizer.update._n_tmp, params, CHUNK)  # type: ignore[attr-defined]
        t = state.count + 1
        _propose_in_slices(optimizer.update, grads, old, new, u, buffers["tmp"], t, CHUNK)
        params += u
        return type(state)(t, *new)

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

    def propose(g, old, new, u, tmp, t):
        np.multiply(g, -lr, out=u)  # −α dW

    def blas(k, g, state, theta):
        k.axpy(-lr, g, theta)  # W = W − α dW

    _fast(update, propose, 0, lr, blas)
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

    def propose(g, old, new, u, tmp, t):
        (v,), (v_new,) = old, new
        np.multiply(v, beta, out=v_new)  # v = βv + (1−β)dW
        np.multiply(g, 1 - beta, out=u)
        v_new += u
        np.multiply(v_new, -lr, out=u)  # W = W − αv

    def blas(k, g, state, theta):
        (v,) = state
        k.axpby(1 - beta, g, beta, v)  # v = βv + (1−β)dW
        k.axpy(-lr, v, theta)  # W = W − αv

    _fast(update, propose, 0, lr, blas)
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

    def propose(g, old, new, u, tmp, t):
        (v,), (v_new,), (g1,) = old, new, tmp
        np.multiply(g, 1 - beta, out=g1)  # (1−β)dW
        np.multiply(v, beta, out=v_new)
        v_new += g1  # v = βv + (1−β)dW
        np.multiply(v_new, beta, out=u)
        u += g1
        u *= -lr  # −α(βv + (1−β)dW)

    def blas(k, g, state, theta):
        (v,) = state
        k.axpby(1 - beta, g, beta, v)  # v = βv + (1−β)dW
        k.axpy(-lr * beta, v, theta)  # W = W − α(βv + (1−β)dW)
        k.axpy(-lr * (1 - beta), g, theta)

    _fast(update, propose, 1, lr, blas)
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

    def propose(g, old, new, u, tmp, t):
        (s,), (s_new,), (t0,) = old, new, tmp
        np.multiply(g, 1 - rho, out=t0)
        t0 *= g  # (1−ρ)dW²
        np.multiply(s, rho, out=s_new)
        s_new += t0  # s = ρs + (1−ρ)dW²
        np.sqrt(s_new, out=t0)
        t0 += eps  # √s + ε
        np.multiply(g, -lr, out=u)
        u /= t0  # −α dW/(√s + ε)

    _fast(update, propose, 1)
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

    def propose(g, old, new, u, tmp, t):
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

    _fast(update, propose, 1)
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
