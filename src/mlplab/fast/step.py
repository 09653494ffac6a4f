r"""The trainer's optimizer step on NumPy: the pure ``update`` run into buffers, checked.

:mod:`mlplab.core.optimizers` holds the equations as pure ``init``/``update`` pairs, which
allocate a few parameter-sized arrays per step. :class:`CheckedStep` (the trainer's step)
and :func:`inplace_step` (the unchecked in-place form, for custom loops) run the same
equations, in the same order, into buffers allocated once: for the built-in optimizers
through their in-place kernels (:func:`mlplab.fast.kernels.for_optimizer`, looked up once
when the step is built), bit-identical to ``update``; for any other optimizer, a tree of
arrays or non-NumPy arrays, through the pure ``update`` itself. On long vectors
(:data:`BLAS_MIN` parameters and more) gradient descent, momentum and Nesterov take their
steps as BLAS ``axpby``/``axpy`` calls instead (:mod:`mlplab.fast._blas`: one pass per
equation, multithreaded), equal to the pure update up to rounding.

Notation: θ is every parameter in one flat vector, g = dJ/dθ, u the update
(θ ← θ + u), and the state's arrays (v, s) are θ-sized.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mlplab._tree import tree_leaves
from mlplab.core.optimizers import Optimizer
from mlplab.fast import _blas
from mlplab.fast import kernels as _kernels
from mlplab.fast.thetas import AlternatingTheta as AlternatingTheta  # its old import path
from mlplab.fast.thetas import non_finite as non_finite

CHUNK = 1 << 18
"""Elements per slice of the fast optimizer step (1 MB of float32 per array).

The fast step runs its equations slice by slice, so that the temporaries it reuses stay
in the CPU's cache: on a 2.1-million-parameter θ, slices of 2**18 elements were faster
than whole-array passes and than smaller slices, whose Python overhead adds up
(benchmarks/RESULTS.md). Every equation is elementwise, so slicing changes no result.
"""


IN_PLACE_MIN = 0
"""Parameters from which :meth:`CheckedStep.step` tries the in-place step (every size).

Until issue 19 it was 2**14: below, the in-place step's slicing cost more than the pass it
saves (641 parameters: 5.95 against 5.37 µs per step). With θ in one slice the in-place
step now calls the kernel directly, and its check g·g avoids the check u·g of the second
vector's step, whose update u holds the momentum's subnormal entries (slow multiplies on
x86; moons' v has ≈ 280 of them from the 6th epoch on, benchmarks/RESULTS.md). Both steps
compute the same bits (tests/test_performance_contracts.py, tests/test_checkpoint.py).
"""

BLAS_MIN = 1 << 14
"""Parameters from which :class:`CheckedStep` runs an optimizer's BLAS form, if it has one.

``axpby``/``axpy`` through :mod:`mlplab.fast._blas`: the in-place momentum step on 2.1 million
parameters took 0.82 ms against 1.67 ms with the ufunc kernels, on 235 thousand 103 against
120 µs (benchmarks/RESULTS.md, 12:03 run). Below 2**14 the step costs a few microseconds
either way (641 parameters: 5.4 µs) and the ufunc form, identical to the pure update bit
for bit, is kept.
"""


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
    propose: Callable[..., None],
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
    """``propose`` (:class:`~mlplab.fast.kernels.OptimizerKernels`) over slices of ``chunk``
    elements; returns u·g (0.0 unless ``check``).

    With ``u=None`` the update lives only slice by slice in ``tmp[-1]``, and ``out``
    receives θ + u (``out`` may be ``theta`` itself, and ``new`` may be ``old``: an
    in-place step).
    """
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
            ug += float(u_s.dot(g_s))  # NaN or inf as soon as one entry of u or g is
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
    :mod:`mlplab.fast._blas`) when NumPy's BLAS has them: the same equations, rounded the
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
    >>> from mlplab.core.optimizers import momentum
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
        self._key: tuple[Any, ...] | None = None
        # The built-in optimizer's in-place kernels, looked up once (None: a user's own).
        kernels = _kernels.for_optimizer(optimizer)
        # Any, not Optional: None only for a user's optimizer, whose state _flat_arrays never
        # flattens, so the branches that call these run only when they are set.
        self._propose: Any = kernels.propose if kernels else None
        self._n_tmp = kernels.n_tmp if kernels else 0
        self._one_slice = False
        self._tmp_fixed: list[np.ndarray] = []
        self._returned: Any = None  # the state step_into returned last
        self._g: Any = None  # and the gradient array it was given
        self._lr_bound = kernels.lr_bound if kernels else None
        self._blas_step: Any = kernels.blas if kernels else None
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
            self._tmp = _scratch(self._n_tmp + 1, params, self.chunk)  # + one slice of u
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
        ug = _propose_in_slices(self._propose, g, old, new, self._u, self._tmp[:-1], t, self.chunk)
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
            self._blas_step(self._k, g, new, out, t)
            ug = float(g.dot(out))
        elif self._one_slice:  # the whole θ at once (the common small case)
            u = tmp[-1]
            self._propose(g, old, new, u, self._tmp_fixed, t)
            ug = float(u.dot(g))
            np.add(params, u, out=out)
        else:
            ug = _propose_in_slices(
                self._propose, g, old, new, None, tmp, t, self.chunk, params, out
            )
        self._returned = new_state = type(state)(t, *new)
        return new_state, ug

    def proven(self, J: float, g: np.ndarray) -> tuple[float, float] | None:
        """(g·g, the new bound m) when the in-place step of :meth:`step` is proven finite
        for the gradient ``g`` (this object's own, of this object's own state), else None.

        |u| ≤ α · m with m = max(max |state|, √(g·g)), one ulp of rounding allowed for;
        :meth:`step_in_place` adopts m as the bound once it has taken the step.
        """
        bound = self._lr_bound
        if bound is None or g.shape[0] < self.in_place_min or not math.isfinite(J):
            return None
        gg = float(g.dot(g))  # ndarray.dot: 1.1 µs against 1.7 for @ (4417 float32)
        if not math.isfinite(gg):
            return None
        # Rounding can push a convex combination one ulp past its inputs.
        m = max(self._state_max, math.sqrt(gg)) * (1 + 1e-6)
        return (gg, m) if bound * m < self._limit else None

    @property
    def proves_in_place(self) -> bool:
        """Whether the optimizer's steps can be proven finite before they run (gradient
        descent, momentum, Nesterov: :meth:`step_in_place`); False: :meth:`step_into`."""
        return self._lr_bound is not None

    def one_pass_ready(self, state: Any, g: np.ndarray) -> bool:
        """Whether ``state`` and ``g`` are those of this object's last step, θ fits in
        one slice (:data:`CHUNK`) and no BLAS form runs.

        Then :meth:`step_in_place` and :meth:`step_into` take the step in one call of
        the optimizer's kernel, with no check of their arguments left to make, so a
        caller that binds θ and g once (:mod:`mlplab.train.fitstep`) calls them directly.

        Parameters
        ----------
        state : NamedTuple
            The optimizer state, ``(count, *arrays)``, each array of shape (P,).
        g : ndarray of shape (P,)
            The gradient vector dJ/dθ.

        Returns
        -------
        bool
        """
        return state is self._returned and g is self._g and self._one_slice and self._k is None

    def step_in_place(
        self, J: float, g: np.ndarray, state: Any, params: np.ndarray
    ) -> tuple[Any, float] | None:
        """θ ← θ + u and the state's arrays updated in place, once :meth:`proven` finite.

        For gradient descent, momentum and Nesterov (:attr:`proves_in_place`), and
        only on the state this object returned last and the gradient vector it was
        given, whose arrays it overwrites: the caller checks that first (:meth:`step`
        does; :mod:`mlplab.train.fitstep` through :meth:`one_pass_ready`). Through BLAS
        (``axpby``/``axpy``) from :data:`BLAS_MIN` parameters, else the kernel (slice by
        slice above :data:`CHUNK`): the in-place step of both, written once.

        Parameters
        ----------
        J : float
            The batch's cost (a non-finite J proves nothing).
        g : ndarray of shape (P,)
            dJ/dθ, the gradient vector of this object's last step.
        state : NamedTuple
            ``(count, *arrays)``, the state this object returned last (arrays of
            shape (P,), updated in place).
        params : ndarray of shape (P,)
            θ, updated in place.

        Returns
        -------
        (new_state, gg) or None
            The new state (``count`` + 1, the same arrays) and the check g·g; None when
            the step is not proven finite (nothing changed).
        """
        proof = self.proven(J, g)
        if proof is None:
            return None
        old = state[1:]
        t = state.count + 1
        if self._k is not None and _contiguous(g, params, params):
            self._blas_step(self._k, g, old, params, t)
        elif self._one_slice:  # the whole θ at once, as in step_into
            u = self._tmp[-1]
            self._propose(g, old, old, u, self._tmp_fixed, t)
            np.add(params, u, params)
        else:
            _propose_in_slices(
                self._propose, g, old, old, None, self._tmp, t,
                self.chunk, params, params, check=False,
            )  # fmt: skip
        self._state_max = proof[1]
        self._returned = new_state = type(state)(t, *old)
        return new_state, proof[0]

    def step(
        self, J: float, g: Any, state: Any, params: Any, spare: Callable[[], np.ndarray]
    ) -> tuple[Any, Any, float]:
        """The trainer's step: ``(new_state, new θ, check)``, to adopt if J and check are finite.

        :meth:`step_into` ``spare()``, a second θ vector, with check = u·g; or, for
        gradient descent, momentum and Nesterov once the state is this object's own (every
        step after the first, of any size since issue 19: :data:`IN_PLACE_MIN`),
        the step can be proven finite *before* it runs: every entry of the new state is
        a convex combination of old state and gradient entries, and the update at most α
        times one, so |u| ≤ α · max(max |state|, √(g·g)) (a bound kept from step to step).
        When J and g·g are finite and that bound is far below the dtype's largest float,
        the step runs in place on θ and the state, with check = g·g (no second vector
        written: on 2.1 million parameters 1.67 ms against 2.42 ms for step_into with the
        ufunc kernels, 0.82 ms with BLAS, benchmarks/RESULTS.md). Otherwise (a non-finite
        or huge gradient, a state from elsewhere) the checked :meth:`step_into` decides,
        so a refused step still leaves θ and the state as they were.
        """
        bound = self._lr_bound
        if (
            bound is not None
            and state is self._returned
            and g is self._g
            and type(params) is np.ndarray
            and params.shape == g.shape
        ):
            done = self.step_in_place(J, g, state, params)
            if done is not None:  # the in-place step, proven finite
                return done[0], params, done[1]
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
    back to the optimizer's pure ``update``. Unlike :class:`CheckedStep` (the trainer's step),
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
    >>> from mlplab.core.optimizers import momentum
    >>> opt = momentum(lr=0.1, beta=0.9)
    >>> theta, g = np.zeros(3, np.float32), np.ones(3, np.float32)
    >>> step = inplace_step(opt)
    >>> state = step(g, opt.init(theta), theta)
    >>> [round(float(t), 6) for t in theta]  # −α (1 − β) g: the first momentum step
    [-0.01, -0.01, -0.01]
    """
    kernels = _kernels.for_optimizer(optimizer)  # looked up once, not per step
    buffers: dict[str, Any] = {}

    def step(grads: Any, state: Any, params: Any) -> Any:
        old = _flat_arrays(grads, state, params) if kernels else None
        if old is None or kernels is None:
            updates, new_state = optimizer.update(grads, state, params)
            for p, u in zip(tree_leaves(params), tree_leaves(updates), strict=True):
                p += u
            return new_state
        new = old if all(a.flags.writeable for a in old) else tuple(np.empty_like(a) for a in old)
        u = buffers.get("u")
        if u is None or u.shape != params.shape or u.dtype != params.dtype:
            u = buffers["u"] = np.empty_like(params)
            buffers["tmp"] = _scratch(kernels.n_tmp, params, CHUNK)
        t = state.count + 1
        _propose_in_slices(kernels.propose, grads, old, new, u, buffers["tmp"], t, CHUNK)
        params += u
        return type(state)(t, *new)

    return step
