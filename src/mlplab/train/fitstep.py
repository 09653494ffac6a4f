"""The training step on NumPy (``mlplab.fit``'s, the estimators') as one function, bound once.

:meth:`Trainer._step <mlplab.train.loop.Trainer._step>` runs a step through a chain of
general calls — :class:`~mlplab.train.step.BatchGradient` (``workspace_for``, the
workspace's ``gather`` and ``loss_and_grads``), :func:`~mlplab.train.step.add_l2`,
:class:`~mlplab.train.step.HostStep` and :meth:`CheckedStep.step
<mlplab.fast.step.CheckedStep.step>` — each of which looks up its buffers, rebuilds its
views (W[l]ᵀ, dW[l]ᵀ) and re-checks its cases at every step. :class:`FitStep` makes those
decisions once per (batch size, θ vector) and keeps the resulting NumPy calls with their
arrays bound. It calls the same NumPy operations on the same arrays in the same order as
the chain, so a fit gives the same bits (tests/test_fit_step.py fits with and without it
and compares θ, the optimizer state and the history; tests/test_sklearn_fused.py the
estimators' fits), and the accuracy count writes its
comparisons into buffers instead of new arrays (the same count).

It covers ``mlplab.fit``'s usual route and the scikit-learn estimators': one process,
NumPy arrays, no sample weights, no dropout or batch norm, a built-in head, no callback
with ``on_batch_end``, no compiled steps; on the lecture's workspace, or on the
estimators' ``Workspace(blocks=True)`` through the calls of :mod:`mlplab.train.blockcalls`,
with their L2 term as one dot product (``l2_as_dot``) and their ``data_loss_scale``.
The checked optimizer step keeps both of its forms: in place once proven finite
(gradient descent, momentum, Nesterov: the proof of :meth:`CheckedStep.step
<mlplab.fast.step.CheckedStep.step>`, checked with g·g), or θ + update into the second θ
vector checked with u·g (the other built-in optimizers, scikit-learn's update rules
among them); a non-finite step is refused before θ changes, as in the chain. Any other
step — the first one of each batch size and θ vector (whose call shows which buffer
holds each a[l]), a step whose proof fails, every step outside these cases — runs the
trainer's own ``_step``.

:data:`ENABLED` switches it off (the chain then runs every step).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from mlplab.fast import heads as _fast_heads
from mlplab.fast import kernels as _kernels
from mlplab.fast.thetas import non_finite
from mlplab.train import blockcalls as _blocks
from mlplab.train.batches import Batch
from mlplab.train.divergence import diverged
from mlplab.train.state import Position
from mlplab.train.step import BatchGradient, HostStep

ENABLED = True
"""Whether ``Trainer.fit`` runs :class:`FitStep` where it applies; False: the general
chain of ``Trainer._step`` runs every step (the same bits, slower)."""


def for_run(trainer: Any, run: Any) -> FitStep | None:
    """The fused step for this fit, or None where it does not apply (see the module)."""
    if not ENABLED or not _applies(trainer, run):
        return None
    return FitStep(trainer, run)


def plain_numpy_fit(tr: Any, run: Any) -> bool:
    """A fit whose every step a fused step may take: one process, NumPy arrays, the
    lecture's gradient, no sample weights, no callback after each batch, no compiled
    steps."""
    return (
        type(tr.gradient) is BatchGradient
        and tr.net._xp is np
        and not run.combine
        and run.compiled is None
        and not run.callbacks.batch_hooks
        and tr._weights[0] is None
        and type(run.stepper) is HostStep
        and type(run.X) is np.ndarray
    )


def _applies(tr: Any, run: Any) -> bool:
    """The fits :class:`FitStep` covers: one process, NumPy, no weights or batch hooks;
    ``mlplab.fit``'s and the estimators' (``blocks``, ``l2_as_dot``, ``data_loss_scale``)."""
    net, gradient = tr.net, tr.gradient
    return (
        plain_numpy_fit(tr, run)
        and gradient.grads is tr.grads
        and type(run.Y) is np.ndarray
        and run.plan.source is None  # the epoch's batches: slices of its permutation
        and run.plan.everything
        and run.plan.relabel is None
        and run.plan.batch_size is not None
        and not run.plan.places
        and type(tr._l2 if not tr.l2_as_dot else tr._l2_dot) is list  # add_l2's buffers
        and (gradient.blocks or _fast_heads.head_kernel(net.head) is not None)
    )


class FitStep:
    """``Trainer._step`` for ``mlplab.fit``'s NumPy route, as prepared NumPy calls.

    Made per fit call (:func:`for_run`): X, Y, the labels and the stepper of that run
    are fixed, the plans are kept per (batch size, θ vector).

    Parameters
    ----------
    trainer : Trainer
    run : Run
        The fit this step serves.
    """

    def __init__(self, trainer: Any, run: Any) -> None:
        self.trainer = trainer
        self.run = run
        self.workspaces: dict[int, Any] = trainer.gradient.workspaces
        self.plans: dict[tuple[int, int], _Plan] = {}
        self.last: _Plan | None = None  # the plan of the last step (most steps reuse it)
        binary = trainer.net.head.name == "binary"
        self.Y_true = _true_labels(run.Y) if binary and run.labels is None else None

    def epoch(self, order: np.ndarray, first: int, total: Any, correct: Any) -> tuple[Any, Any]:
        """Batches ``first``.. of the epoch drawn as ``order``, one checked step each; the
        running sums (``Trainer._run_batches`` on ``EpochPlan.split``'s batches: the
        slices of ``order``, cut here as they are stepped through)."""
        tr, run = self.trainer, self.run
        st, every, ctrl_c = tr.state, run.checkpoints.every, run.ctrl_c
        B, n = run.plan.batch_size, run.plan.n_global
        n_batches = -(-n // B)
        step = self.step
        for b in range(first, n_batches):  # the hot loop
            s = b * B
            size = B if s + B <= n else n - s
            J, correct_b = step(order[s : s + B], size, b, n_batches)
            total += J * size
            correct += correct_b
            if (every and st.step % every == 0) or ctrl_c.pressed:
                run.checkpoint_or_stop(tr, Position(order, b + 1, total, correct))
        return total, correct

    def step(self, rows: np.ndarray, size: int, b: int, n_batches: int) -> tuple[Any, Any]:
        """(J, # correct) of batch ``b`` (rows ``rows`` of X), the checked step taken, as
        ``Trainer._step``."""
        tr, run = self.trainer, self.run
        theta = tr.net._theta
        m = rows.shape[0]
        plan, ws = self.last, self.workspaces.get(m)
        if plan is None or plan.theta is not theta or plan.ws is not ws:
            plan = self.plans.get((m, id(theta)))
            if plan is None or plan.theta is not theta or plan.ws is not ws:
                plan = self._prepare(m, ws)
                if plan is None:
                    chain: tuple[Any, Any] = tr._step(run, Batch(rows, size), b, n_batches)
                    return chain
            self.last = plan
        J, correct = plan.gradient(rows)
        if tr.data_loss_scale != 1.0:  # the estimators' squared error: 1/n_outputs
            J = J * tr.data_loss_scale
        lam = tr.net.l2  # no sample weights: l2_lambda is the network's λ
        if lam:  # (λ/2|B|)‖W‖², as add_l2 with the trainer's scratch
            if plan.l2_dot is not None:  # ‖W‖² as one dot product (l2_dot_into)
                J = J + _kernels.l2_dot_on(plan.l2_dot, lam, size)
            else:
                J = J + _kernels.l2_into(plan.params, plan.grads, lam, size, tr._l2)
        st, stepper = tr.state, run.stepper
        state, cs = st.opt_state, stepper.stepper
        if cs.one_pass_ready(state, plan.g):
            new_state = plan.step(J, state, cs)
            if new_state is None:  # the in-place step's proof failed: the checked chain
                new_state = stepper.apply(J, plan.g, state)
            elif new_state is False:  # θ + update refused (θ and the state unchanged)
                raise diverged(tr, run, J, b, n_batches)
        else:
            new_state = stepper.apply(J, plan.g, state)
        if new_state is None:
            raise diverged(tr, run, J, b, n_batches)
        st.opt_state = new_state
        st.step += 1
        return J, correct

    def _prepare(self, m: int, ws: Any) -> _Plan | None:
        """The calls of a step on ``ws`` from the current θ vector, or None where the
        fused step does not apply (the trainer's ``_step`` runs)."""
        tr, run = self.trainer, self.run
        net = tr.net
        if ws is None or ws.net is not net or ws.n_samples != m:
            return None
        if ws.blocks and not _blocks.ready(ws, run):  # the estimators' workspace
            return None
        if not ws.blocks and (
            ws.head_into is None
            or ws.last_a(-1) is not ws.Z[-1]  # a step ran on ws: a[l] are where it left them
            or ws.last_a(0) is not ws.Xb
        ):
            return None
        thetas = run.stepper.thetas
        theta = net._theta
        if theta is thetas.home[0]:
            spare = thetas.other
        elif thetas.other is not None and theta is thetas.other[0]:
            spare = thetas.home
        else:
            return None
        if len(self.plans) > 8:
            self.plans.clear()
        plan = (_BlocksPlan if ws.blocks else _Plan)(tr, run, ws, spare, self.Y_true)
        self.plans[(m, id(theta))] = plan
        return plan


class _Plan:
    """One step's calls on one workspace from one θ vector: the gradient's NumPy calls
    with their arrays bound, and the optimizer step's."""

    def __init__(
        self, tr: Any, run: Any, ws: Any, spare: tuple[Any, Any] | None, Y_true: Any
    ) -> None:
        net = tr.net
        self.net, self.ws, self.g = net, ws, tr._grad_flat
        self.theta, self.params, self.grads = net._theta, net._params, tr.grads
        self.spare = spare
        tr.gradient.last_Z = ws.Z[-1]  # BatchGradient's, the same array every step
        self.count = _count(ws, net, run.labels, Y_true)
        dot = tr.l2_as_dot  # l2_dot_into's views, made once
        self.l2_dot = _kernels.l2_dot_plan(self.params, self.grads, tr._l2_dot) if dot else None
        self._bind(run, ws)

    def _bind(self, run: Any, ws: Any) -> None:
        """The gradient's calls on the lecture's workspace."""
        take_X, take_Y, Xb, Yb = run.X.take, run.Y.take, ws.Xb, ws.Yb

        def gather(rows: np.ndarray) -> None:  # Workspace.gather, positional arguments
            take_X(rows, 0, Xb, "clip")
            take_Y(rows, 0, Yb, "clip")

        self.gather = gather
        self.forward = _forward_calls(ws, self.params)
        self.head = partial(ws.head_into, ws.Z[-1], ws.Yb, ws.dZ_L, *ws.T)
        self.backward = _backward_calls(ws, self.params, self.grads)

    def gradient(self, rows: np.ndarray) -> tuple[float, Any]:
        """J and the correct predictions on rows ``rows``; dJ/dθ into the gradient vector
        (:meth:`BatchGradient.__call__ <mlplab.train.step.BatchGradient.__call__>`)."""
        self.gather(rows)
        for call in self.forward:
            call()
        J: float = self.head()
        correct = self.count(rows)
        for call in self.backward:
            call()
        return J, correct

    def step(self, J: float, state: Any, cs: Any) -> Any:
        """:meth:`CheckedStep.step <mlplab.fast.step.CheckedStep.step>` on the bound
        vectors where ``cs.one_pass_ready(state, g)``: the new state; None where the
        chain must decide (the in-place proof failed); False for a refused step (θ and
        the state as they were)."""
        g, theta = self.g, self.theta
        if cs.proves_in_place:  # in place once proven finite, checked with g·g
            done = cs.step_in_place(J, g, state, theta)
            return None if done is None else done[0]
        if self.spare is None:  # (one_pass_ready: cs has its kernels, its g is ours)
            return None
        # θ + update into the other θ vector (CheckedStep.step_into), checked with u·g
        out, out_params = self.spare
        new_state, ug = cs.step_into(g, state, theta, out)
        if not (math.isfinite(J) and math.isfinite(ug)) and non_finite(J, g, out):
            return False
        self.net._theta, self.net._params = out, out_params  # HostStep's thetas.use
        return new_state


class _BlocksPlan(_Plan):
    """A :class:`_Plan` on the estimators' ``blocks`` workspace (:mod:`.blockcalls`)."""

    def _bind(self, run: Any, ws: Any) -> None:
        """The gradient's calls on a ``blocks`` workspace."""
        self.gather = _blocks.gather_call(ws, run)
        self.forward = _blocks.forward_calls(ws, self.params)
        self.head = _blocks.head_call(ws)
        self.backward = _blocks.backward_calls(ws, self.params, self.grads)


def _forward_calls(ws: Any, params: Any) -> list[Any]:
    """``Workspace.loss_and_grads``' forward pass (the lecture's route, no ``blocks``).

    Each call binds its arguments positionally (``out`` third, as ``ndarray.dot`` and the
    ufuncs take it): the same call, without a ``functools.partial`` merging keywords
    (0.58 against 0.71 µs for a small product, timeit minimum)."""
    calls: list[Any] = []
    L, A = len(params), ws.Xb
    for l in range(L):
        W, b = params[l]
        Z = ws.Z[l]
        calls.append(partial(A.dot, W.T, Z))  # z[l] = W[l] a[l-1] + b[l], into Z
        calls.append(partial(np.add, Z, b, Z))  # Z += b
        if l < L - 1 and _kernels.is_relu(ws.kernels[l]):
            calls.append(partial(np.greater, Z, 0, ws.A[l]))  # _relu_into's two calls
            calls.append(partial(np.multiply, Z, ws.A[l], Z))
        elif l < L - 1:
            calls.append(partial(ws.kernels[l].forward_into, Z, ws.A[l]))
        A = ws.last_a(l + 1)  # what forward_into returned (Z itself for ReLU)
    return calls


def _backward_calls(ws: Any, params: Any, grads: Any) -> list[Any]:
    """``Workspace.loss_and_grads``' backward pass (the lecture's route, no ``blocks``)."""
    calls: list[Any] = []
    dZ = ws.dZ_L
    for l in range(len(params) - 1, -1, -1):
        gW, gb = grads[l]
        calls.append(partial(ws.last_a(l).T.dot, dZ, gW.T))  # dW[l]ᵀ = a[l-1]ᵀ dZ[l]
        calls.append(partial(ws.ones.dot, dZ, gb))  # db[l] = 1ᵀ dZ[l]
        if l > 0:
            dA, W = ws.dZ[l - 1], params[l].W
            if W.shape[0] == 1:  # one unit: an outer product
                calls.append(partial(np.multiply, dZ, W, dA))
            else:
                calls.append(partial(dZ.dot, W, dA))
            kernels = ws.kernels[l - 1]
            if _kernels.is_relu(kernels):  # dA *= g'(z), kept by the forward pass
                calls.append(partial(np.multiply, dA, ws.A[l - 1], dA))
            else:
                calls.append(partial(kernels.backward_into, dA, ws.Z[l - 1], ws.A[l - 1]))
            dZ = dA  # backward_into multiplies dA by g'(z) in place and returns it
    return calls


def _true_labels(Y: Any) -> Any:
    """Y == 1 as booleans where Y holds only 0 and 1 (a binary head's targets, checked
    by ``check_y``), else None."""
    ones = Y == 1
    if np.count_nonzero(ones) + np.count_nonzero(Y == 0) != Y.size:
        return None
    return ones


def _count(ws: Any, net: Any, labels: Any, Y_true: Any) -> Any:
    """The count of correct predictions of ``BatchGradient``, its temporaries kept; for
    0/1 targets (z > 0) == y is counted as (z > 0) == (y == 1), the same count on
    booleans (the comparison with the float y casts every entry)."""
    Z, m = ws.Z[-1], ws.n_samples
    if labels is not None:  # multiclass: argmax z[L] == the label
        pred, lab, same = np.empty(m, np.intp), np.empty(m, labels.dtype), np.empty(m, bool)
        argmax = partial(Z.argmax, 1, pred)
        take = labels.take
        equal = partial(np.equal, pred, lab, same)

        def count(rows: np.ndarray) -> Any:
            argmax()
            take(rows, 0, lab, "clip")
            return float(np.count_nonzero(equal()))

    elif net.head.name == "binary" and Y_true is not None:  # σ(z) > 0.5 ⇔ z > 0
        above, hit, y1 = (np.empty(Z.shape, bool) for _ in range(3))
        greater = partial(np.greater, Z, 0, above)
        take_y = Y_true.take
        equal_y = partial(np.equal, above, y1, hit)
        k = Z.shape[1]

        def count(rows: np.ndarray) -> Any:
            greater()
            take_y(rows, 0, y1, "clip")
            return np.count_nonzero(equal_y()) / k

    elif net.head.name == "binary":  # y is 0 or 1 as checked; else BatchGradient's test
        above, hit = np.empty(Z.shape, bool), np.empty(Z.shape, bool)
        greater = partial(np.greater, Z, 0, above)
        equal = partial(np.equal, above, ws.Yb, hit)
        k1 = Z.shape[1]

        def count(rows: np.ndarray) -> Any:
            greater()
            return np.count_nonzero(equal()) / k1

    else:

        def count(rows: np.ndarray) -> Any:
            return 0.0

    return count
