"""The estimators' training step as one function, its views and buffers prepared once.

:meth:`Trainer._step <mlplab.train.loop.Trainer._step>` runs a step through a chain of
general calls — :class:`~mlplab.train.step.BatchGradient`, the workspace's ``gather``,
``loss_and_grads`` and its helpers, :func:`~mlplab.train.step.add_l2`,
:class:`~mlplab.train.step.HostStep` and :class:`~mlplab.fast.step.CheckedStep` — that
look up their workspace, rebuild their views (W[l]ᵀ, the bias rows, the row blocks) and
re-check their cases at every step: about 25 Python calls, 20-40 µs of a 200-300 µs
float32 digits step (benchmarks/RESULTS-sklearn-dropin.md). :class:`FusedStep` makes
those decisions once per (batch size, θ vector) and keeps the resulting calls: a list
of NumPy calls with their arguments bound. It calls the same NumPy operations, on the
same arrays, in the same order as the chain, so a fit gives the same bits
(tests/test_sklearn_fused.py compares them).

It covers the estimators' usual route: one process, NumPy, the workspace's ``blocks``
(:mod:`mlplab.sklearn._fitting`), no sample weights, a built-in activation and head,
no batch callbacks; the optimizer's checked step in one slice (scikit-learn's ``sgd`` and
``adam``) once its state is the step's own. Any other step — the first one of each batch
size, whose call also shows which buffer holds each a[l], and every step outside these
cases — runs the trainer's own ``_step``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from mlplab.train.divergence import diverged
from mlplab.train.fitstep import plain_numpy_fit
from mlplab.train.loop import Trainer


class FusedStep:
    """``Trainer._step`` for the estimators, as prepared NumPy calls (see the module).

    Parameters
    ----------
    trainer : Trainer
        The estimators' trainer; set as its ``fused_step``.
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.plans: dict[tuple[int, int], _Plan] = {}  # (id(workspace), id(θ)) -> calls
        self._run: tuple[Any, bool] = (None, False)  # (run, whether its fit is covered)

    def __call__(self, run: Any, batch: Any, b: int, n_batches: int) -> tuple[Any, Any]:
        """(J, # correct) of batch ``b``, the checked step taken, as ``Trainer._step``."""
        tr = self.trainer
        rows = batch.rows
        ws = tr.gradient.workspaces.get(rows.shape[0]) if rows is not None else None
        plan = None if ws is None else self.plans.get((id(ws), id(tr.net._theta)))
        if plan is None or plan.X is not run.X or plan.ws_key is not ws:
            plan = self._prepare(run, batch, ws)
            if plan is None:
                return Trainer._step(tr, run, batch, b, n_batches)
        J, correct = plan.gradient(rows, run.labels)
        if tr.data_loss_scale != 1.0:
            J = J * tr.data_loss_scale
        if tr.net.l2:  # (λ/2|B|)‖W‖², scikit-learn's sum (l2_dot_into)
            J = J + plan.l2_term(tr.net.l2, batch.size)
        st, stepper = tr.state, run.stepper
        state = st.opt_state
        cs = stepper.stepper
        if state is cs._returned and plan.g is cs._g and cs._one_slice and plan.fast_opt(cs):
            old = state[1:]
            first, second = cs._sets
            new = second if old[0] is first[0] else first
            t = state.count + 1
            u = cs._tmp[-1]
            cs._propose(plan.g, old, new, u, cs._tmp_fixed, t)
            ug = float(u.dot(plan.g))
            np.add(plan.theta, u, out=plan.spare)
            cs._returned = new_state = type(state)(t, *new)
            if not (math.isfinite(J) and math.isfinite(ug)) and _non_finite(J, plan):
                raise diverged(tr, run, J, b, n_batches)
            tr.net._theta, tr.net._params = plan.spare, plan.spare_params
        else:
            new_state = stepper.apply(J, plan.g, state)
            if new_state is None:
                raise diverged(tr, run, J, b, n_batches)
        st.opt_state = new_state
        st.step += 1
        return J, correct

    def _prepare(self, run: Any, batch: Any, ws: Any) -> _Plan | None:
        """The calls of a step on ``ws`` from the current θ vector, or None where the
        fused step does not apply (the trainer's ``_step`` runs)."""
        tr = self.trainer
        if self._run[0] is not run:  # the fit's own conditions, checked once per run
            self._run = (run, _fit_applies(tr, run))
        if not self._run[1] or not _workspace_ready(tr, run, batch, ws):
            return None
        thetas = run.stepper.thetas
        if thetas.other is None:
            return None
        theta = tr.net._theta
        spare = thetas.home if theta is not thetas.home[0] else thetas.other
        if theta is not thetas.home[0] and theta is not thetas.other[0]:
            return None
        if len(self.plans) > 8:
            self.plans.clear()
        plan = _Plan(tr, run, ws, spare)
        self.plans[(id(ws), id(theta))] = plan
        return plan


def _fit_applies(tr: Any, run: Any) -> bool:
    """The fits :class:`FusedStep` covers: one process, NumPy, no weights or batch hooks."""
    return plain_numpy_fit(tr, run) and (not tr.net.l2 or tr.l2_as_dot)


def _workspace_ready(tr: Any, run: Any, batch: Any, ws: Any) -> bool:
    """``ws`` runs the estimators' step (``blocks``, a built-in head) and a step ran on it."""
    return (
        ws is not None
        and ws.blocks
        and ws.net is tr.net
        and ws._A_used[-1] is ws.Z[-1]  # a step ran on ws: a[l] are where it left them
        and ws._X_ones[0] is run.X
        and (ws.columns is None or ws._Y_columns[0] is run.Y)
        and (ws.columns is not None or ws.head_into is not None)
        and batch.rows.shape[0] == ws.n_samples
    )


def _non_finite(J: float, plan: _Plan) -> bool:
    """Entry by entry, as :func:`mlplab.fast.step.non_finite`."""
    return not (math.isfinite(J) and np.isfinite(plan.g).all() and np.isfinite(plan.spare).all())


class _Plan:
    """One step's calls on one workspace from one θ vector: the gradient's NumPy calls
    with their arrays bound, the L2 term's views, and where θ + update goes."""

    def __init__(self, tr: Any, run: Any, ws: Any, spare: tuple[Any, Any]) -> None:
        net, grads = tr.net, tr.gradient.grads
        self.X, self.ws_key, self.g = run.X, ws, tr._grad_flat
        self.theta, params = net._theta, net._params
        self.spare, self.spare_params = spare
        tr.gradient.last_Z = ws.Z[-1]  # BatchGradient's, the same array every step
        self.take = _gathers(ws, run)
        self.forward = _forward_calls(ws, params)
        self.head, self.count = _head_calls(ws, net, run)
        self.backward = _backward_calls(ws, params, grads)
        self.l2_views = [
            (p.W.T.reshape(-1) if p.W.T.flags.c_contiguous else None, p.W.T, g.W.T,
             np.empty_like(p.W.T))
            for p, g in zip(params, grads, strict=True)
        ]  # fmt: skip

    def gradient(self, rows: np.ndarray, labels: Any) -> tuple[float, Any]:
        """J and the correct predictions on rows ``rows``; dJ/dθ into the gradient vector
        (:meth:`BatchGradient.__call__ <mlplab.train.step.BatchGradient.__call__>`)."""
        for take in self.take:
            take(rows)
        for call in self.forward:
            call()
        J: float = self.head()
        correct = self.count(rows, labels)
        for call in self.backward:
            call()
        return J, correct

    def l2_term(self, lam: float, size: float) -> float:
        """:func:`mlplab.fast.kernels.l2_dot_into` on the prepared views."""
        total = 0.0
        c = lam / size
        for flat, Wt, gWt, buf in self.l2_views:
            flat = Wt.reshape(-1) if flat is None else flat
            total += float(flat.dot(flat))
            np.multiply(Wt, c, out=buf)  # d/dW of (λ/2n)‖W‖² = (λ/n) W
            np.add(gWt, buf, out=gWt)
        return float(lam / (2 * size) * total)

    @staticmethod
    def fast_opt(cs: Any) -> bool:
        """The checked step's one-slice ``step_into`` with the optimizer's own kernels
        (no in-place or BLAS form: scikit-learn's sgd and adam)."""
        return cs._propose is not None and cs._lr_bound is None and cs._k is None


def _gathers(ws: Any, run: Any) -> list[Any]:
    """``Workspace.gather`` with ``blocks``: [X, 1]'s rows and yᵀ's columns (or y's rows)."""
    ones = ws._X_ones[1]
    if ones is not None:
        take = [partial(ones.take, axis=0, out=ws.Xb, mode="clip")]
    else:
        take = [partial(run.X.take, axis=0, out=ws.Xb[:, :-1], mode="clip")]
    if ws.columns is not None:
        take.append(partial(ws._Y_columns[1].take, axis=1, out=ws.YT, mode="clip"))
    else:
        take.append(partial(run.Y.take, axis=0, out=ws.Yb, mode="clip"))
    return take


def _forward_calls(ws: Any, params: Any) -> list[Any]:
    """``Workspace.loss_and_grads``' forward pass with ``blocks`` (``_z_into``, g)."""
    calls: list[Any] = []
    L, A = len(params), ws.Xb
    for l in range(L):
        W, b = params[l]
        Z = ws.Z[l]
        if l == L - 1 and ws.columns is not None:
            left = A if A.shape[1] == W.shape[1] else A[:, : W.shape[1]]  # L = 1: a[0], 1
            calls.append(partial(W.dot, left.T, out=ws.ZT))  # z[L]ᵀ = W[L] a[L-1]ᵀ
            calls.append(partial(np.add, Z, b, out=Z))
            break
        Wb = ws._bias_row(params[l]) if A.shape[1] > W.shape[1] else None
        right = W.T if Wb is None else Wb
        left = A if Wb is not None or A.shape[1] == W.shape[1] else A[:, : W.shape[1]]
        blocks = ws._fwd[l]
        if blocks is None:
            calls.append(partial(left.dot, right, out=Z))
        for r in blocks or ():  # _dot_rows
            calls.append(partial(left[r].dot, right, out=Z[r]))
        if Wb is None:
            calls.append(partial(np.add, Z, b, out=Z))
        if l < L - 1:
            calls.append(partial(ws.kernels[l].forward_into, Z, ws.A[l]))
        A = ws._A_used[l + 1]  # what forward_into returned (Z itself for ReLU)
    return calls


def _head_calls(ws: Any, net: Any, run: Any) -> tuple[Any, Any]:
    """The head's J and dZ[L] (a call returning J), and the count of correct predictions."""
    Z = ws.Z[-1]
    if ws.columns is not None:
        head = partial(ws.columns, ws.ZT, ws.YT, ws.dZT, *ws.TT)
    else:
        head = partial(ws.head_into, Z, ws.Yb, ws.dZ_L, *ws.T)
    if run.labels is not None:  # multiclass

        def count(rows: np.ndarray, labels: Any) -> Any:
            return float(np.count_nonzero(Z.argmax(axis=1) == labels[rows]))

    elif net.head.name == "binary":  # σ(z) > 0.5 ⇔ z > 0; y is 0 or 1
        Y = ws.Yb

        def count(rows: np.ndarray, labels: Any) -> Any:
            return np.count_nonzero((Z > 0) == Y) / Z.shape[1]

    else:

        def count(rows: np.ndarray, labels: Any) -> Any:
            return 0.0

    return head, count


def _backward_calls(ws: Any, params: Any, grads: Any) -> list[Any]:
    """``Workspace.loss_and_grads``' backward pass with ``blocks`` (``_grads_into``, dA)."""
    calls: list[Any] = []
    dZ = ws.dZT.T if ws.columns is not None else ws.dZ_L
    for l in range(len(params) - 1, -1, -1):
        A, (gW, gb) = ws._A_used[l], grads[l]
        gWb = ws._bias_row(grads[l]) if A.shape[1] > gW.shape[1] else None
        out = gW.T if gWb is None else gWb
        left = A if gWb is not None or A.shape[1] == gW.shape[1] else A[:, : gW.shape[1]]
        blocks = ws._dW[l]
        if blocks is None:
            calls.append(partial(left.T.dot, dZ, out=out))
        else:  # _dot_sum: the blocks' products added
            first, *rest = blocks
            tmp = ws._dW_tmp[l][: out.shape[0]]
            calls.append(partial(left[first].T.dot, dZ[first], out=out))
            for r in rest:
                calls.append(partial(left[r].T.dot, dZ[r], out=tmp))
                calls.append(partial(np.add, out, tmp, out=out))
        if gWb is None:
            calls.append(partial(ws.ones.dot, dZ, out=gb))
        if l > 0:
            dA, W, rows = ws.dZ[l - 1], params[l].W, ws._dA[l]
            if W.shape[0] == 1:  # one unit: an outer product
                calls.append(partial(np.multiply, dZ, W, out=dA))
            elif rows is None:
                calls.append(partial(dZ.dot, W, out=dA))
            else:  # _dot_rows
                for r in rows:
                    calls.append(partial(dZ[r].dot, W, out=dA[r]))
            calls.append(partial(ws.kernels[l - 1].backward_into, dA, ws.Z[l - 1], ws.A[l - 1]))
            dZ = dA  # backward_into multiplies dA by g'(z) in place and returns it
    return calls
