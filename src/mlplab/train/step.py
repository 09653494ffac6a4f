r"""One training step: the batch's cost and gradient, then a checked optimizer step.

The lecture's step, for the rows of one mini-batch::

    Z[L], caches = forward(X_B)                 # z[l] = W[l] a[l-1] + b[l], a[l] = g(z[l])
    J, dZ[L] = head(Z[L], Y_B)                  # dZ[L] = (a[L] − y) / m
    dW, db = backward(dZ[L], caches)            # the chain rule, layer L down to 1
    J += (λ/2|B|) Σ‖W[l]‖²;  dW[l] += (λ/|B|) W[l]   # L2, once per batch
    θ ← θ + update(dJ/dθ)                        # the optimizer's step, if it is finite

With sample weights w (``fit(..., sample_weight=w)``) the head is the weighted one,
J_B = Σ_{i∈B} w_i L(i) / Σ_{i∈B} w_i and dZ[L] = w_i (a − y)_i / Σ_{i∈B} w_i
(:func:`~mlplab.core.heads.weighted_loss_and_grad`), and λ becomes λ·n/Σw (n rows and
Σw over the whole training set): the L2 term of the data with row i repeated w_i times.

:class:`BatchGradient` computes the first three lines — with NumPy through the
preallocated buffers of :mod:`mlplab.fast` (the same equations), with other array
libraries through the lecture functions. The strategy (:mod:`mlplab.train.strategy`)
then combines processes, :func:`add_l2` adds the penalty, and :class:`HostStep`
(NumPy: each step checked before θ changes) or :class:`DeviceStep` (other libraries:
checked on the device, read once per epoch) takes the step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab.core import heads as _heads
from mlplab.core import network as _net
from mlplab.core.optimizers import Optimizer
from mlplab.fast import kernels as _kernels
from mlplab.fast import workspace as _ws
from mlplab.fast.guarded import GuardedStep
from mlplab.fast.step import CheckedStep
from mlplab.fast.thetas import AlternatingTheta, non_finite
from mlplab.train import torch_cpu as _torch_cpu
from mlplab.train.strategy import Local


class BatchGradient:
    """J, dJ/dθ (into ``grads``) and the correct predictions on some rows of the data.

    Parameters
    ----------
    net : Network
    grads : list of DenseParams
        Views of the flat gradient vector, written in place.

    Attributes
    ----------
    blocks : bool
        The NumPy workspaces run the estimators' step, equal to the lecture's up to
        rounding (:class:`~mlplab.fast.workspace.Workspace`'s ``blocks``: products in row
        blocks, b[1] in the first product, a column-layout multiclass head); False by
        default, the estimators turn it on with their one-thread BLAS limit.
    """

    def __init__(self, net: Any, grads: list[Any]) -> None:
        self.net = net
        self.grads = grads
        self.workspaces: dict[int, Any] = {}  # fast path: buffers per batch size
        self.blocks = False
        self.last_Z: Any = None
        # PyTorch CPU tensors: train/torch_cpu.py, made on first use
        self._torch: _torch_cpu.TorchGradient | None = None

    def __call__(
        self, X: Any, Y: Any, labels: Any, rows: Any, w: Any = None, batch: Any = None
    ) -> tuple[Any, int, Any]:
        """(J, m, # correct) on rows ``rows`` of X, Y (None: all); the mean over m rows,
        weighted by those rows of the sample weights ``w`` (one per row of X) if given.
        ``batch``, the :class:`~mlplab.train.batches.Batch` of the rows, is read with
        dropout only (:class:`~mlplab.train.regularize.RegularizedGradient`).

        With other libraries than NumPy, J and the count are 0-D arrays on the device.
        For m = 0 (an MPI rank with no row of this batch) J = 0 and the gradient is 0.
        """
        net = self.net
        if net._xp is not np:
            return self._on_device(X, Y, labels, rows, w)
        if rows is None and not isinstance(X, np.ndarray):  # out of core, batch GD
            X = X[0 : X.shape[0]]  # every row, read once per step
        if rows is not None:  # one gather into the workspace's batch buffers
            if rows.shape[0] == 0:
                for g in self.grads:
                    g.W[...] = 0
                    g.b[...] = 0
                return 0.0, 0, 0.0
            ws = _ws.workspace_for(self.workspaces, net, rows.shape[0], self.blocks)
            X, Y = ws.gather(X, Y, rows)
            labels = None if labels is None else labels[rows]
            w = None if w is None else w[rows]
        else:
            ws = _ws.workspace_for(self.workspaces, net, X.shape[0], self.blocks)
        J = ws.loss_and_grads(net._params, X, Y, self.grads, w)  # forward + backprop
        Z = self.last_Z = ws.Z[-1]
        if labels is not None:  # multiclass
            correct = float(np.count_nonzero(Z.argmax(axis=1) == labels))
        elif net.head.name == "binary":  # σ(z) > 0.5 ⇔ z > 0; y is 0 or 1
            correct = np.count_nonzero((Z > 0) == Y) / Z.shape[1]
        else:
            correct = 0.0
        return J, X.shape[0], correct

    def _on_device(self, X: Any, Y: Any, labels: Any, rows: Any, w: Any) -> tuple[Any, int, Any]:
        """The lecture's functions in X's library; J and the count stay on the device."""
        net, xp = self.net, self.net._xp
        if w is None and _torch_cpu.gradient_applies(net):  # fused PyTorch CPU kernels
            if self._torch is None or self._torch.net is not net:
                self._torch = _torch_cpu.TorchGradient(net, self.grads)
            self._torch.grads = self.grads
            return self._torch(X, Y, labels, rows)
        if rows is not None:
            X, Y = xp.take(X, rows, axis=0), xp.take(Y, rows, axis=0)
            labels = None if labels is None else xp.take(labels, rows, axis=0)
            w = None if w is None else xp.take(w, rows, axis=0)
        Z_L, caches = _net.forward(net._params, X, net.hidden)
        if w is None:
            J, dZ_L = net.head.loss_and_grad(Z_L, Y)  # dZ[L] = (a[L] − y) / m
        else:
            J, dZ_L = _heads.weighted_loss_and_grad(net.head, Z_L, Y, w)  # w_i (a − y)_i / Σw
        _ws.backward_into(dZ_L, net._params, caches, net.hidden, self.grads)
        self.last_Z = Z_L
        correct: Any = 0.0
        if labels is not None:
            correct = _xp.count_true(xp.argmax(Z_L, axis=1) == labels)
        elif net.head.name == "binary":
            correct = _xp.count_true((Z_L > 0) == (Y > 0.5))
        return J, X.shape[0], correct


def add_l2(
    net: Any,
    grads: list[Any],
    J: Any,
    size: float,
    lam: float | None = None,
    scratch: list[Any] | None = None,
    dot: bool = False,
) -> Any:
    """J + (λ/2|B|) Σ_l ‖W[l]‖², and dW[l] += (λ/|B|) W[l] in place (once per batch).

    λ is ``lam``, by default the network's ``l2`` (:func:`l2_lambda` gives the one for
    sample weights). With ``scratch`` (a list the caller keeps) NumPy networks compute it
    through :func:`mlplab.fast.kernels.l2_into`: the same bits, no temporaries; with
    ``dot`` too, through :func:`mlplab.fast.kernels.l2_dot_into` (scikit-learn's sum,
    equal up to rounding: the estimators).
    """
    lam = net.l2 if lam is None else lam
    if scratch is not None and net._xp is np:
        into = _kernels.l2_dot_into if dot else _kernels.l2_into
        return J + into(net._params, grads, lam, size, scratch)
    J += _net.l2_penalty(net._params, lam, size)
    for g, p in zip(grads, net._params, strict=True):
        g.W[...] += (lam / size) * p.W  # d/dW of (λ/2n)‖W‖² = (λ/n) W
    return J


def l2_lambda(net: Any, n_rows: int, weight_total: float | None) -> float:
    """λ of the L2 term: the network's λ, or λ·n/Σw with sample weights of total
    ``weight_total`` on ``n_rows`` rows, so that the penalty (λ·n/Σw)/2n = λ/2Σw is that
    of the data with row i repeated w_i times."""
    l2: float = net.l2
    if weight_total is None:
        return l2
    return l2 * n_rows / weight_total


class HostStep:
    r"""NumPy: each step checked before θ changes.

    W[l] ← W[l] − α·(step), every layer at once: the optimizer's update(g, state, θ),
    added to θ into a second vector (:meth:`CheckedStep.step_into`), with u·g: NaN or
    inf as soon as one entry of the gradient or of the update is. So one dot product
    checks both before θ changes (entry by entry only if it fails: the sum itself can
    overflow). When the step is provably finite beforehand, it runs in place
    (:meth:`CheckedStep.step`) and θ stays in its vector.
    """

    def __init__(self, optimizer: Optimizer, net: Any) -> None:
        self.net = net
        self.stepper = CheckedStep(optimizer)
        self.thetas = AlternatingTheta(net)

    def apply(self, J: float, g: np.ndarray, state: Any) -> Any:
        """The new optimizer state, θ updated; None (θ unchanged) for a non-finite step."""
        new_state, new_theta, ug = self.stepper.step(
            J, g, state, self.net._theta, self.thetas.spare
        )
        if not (math.isfinite(J) and math.isfinite(ug)) and non_finite(J, g, new_theta):
            return None
        self.thetas.use(new_theta)
        return new_state

    def epoch_ok(self) -> bool:
        return True

    def finish(self) -> None:
        self.thetas.restore()  # θ back in the network's own vector


class DeviceStep:
    """Other array libraries: steps checked on the device, read once per epoch
    (:class:`~mlplab.fast.guarded.GuardedStep`)."""

    def __init__(self, optimizer: Optimizer, net: Any) -> None:
        self.net = net
        # PyTorch CPU tensors, sgd/momentum: in place, checked on the host (torch_cpu.py)
        self.guard = _torch_cpu.step_for(optimizer, net._theta) or GuardedStep(optimizer)

    def apply(self, J: Any, g: Any, state: Any) -> Any:
        return self.guard(J, g, state, self.net._theta)

    def epoch_ok(self) -> bool:
        return bool(self.guard.ok)

    def finish(self) -> None:
        pass


def follow_data(trainer: Any, X: Any) -> None:
    """Train where X is: move the network to X's library and device if X is a
    PyTorch/CuPy/... array, then this trainer's arrays to wherever the network is."""
    net = trainer.net
    if _xp.is_foreign(X):
        if type(trainer.strategy) is not Local:  # MPI sums NumPy buffers
            raise TypeError(
                "MPI training runs on NumPy arrays only, got a "
                f"{type(X).__module__}.{type(X).__name__}"
            )
        net.to(X)
    theta, g = net._theta, trainer._grad_flat
    if not (
        type(g) is type(theta)
        and g.shape == theta.shape
        and _xp.device_of(g) == _xp.device_of(theta)
    ):
        trainer._grad_flat = _xp.namespace(theta).zeros_like(theta)
        trainer.grads[:] = net._views(trainer._grad_flat)
    if trainer.opt_state is not None:
        trainer.opt_state = _xp.tree_convert(trainer.opt_state, net._xp, net._device)


# -- after each epoch -------------------------------------------------------------


def indices_on(batches: Sequence[Any], xp: Any, device: Any) -> list[Any]:
    """The epoch's batches with their index arrays copied to the device in one transfer."""
    batches = list(batches)  # read once, in order (RootOrder cuts them as they are read)
    if any(b.rows is None for b in batches):
        return batches
    flat = xp.asarray(np.concatenate([b.rows for b in batches]), device=device)
    out, start = [], 0
    for b in batches:
        out.append(b._replace(rows=flat[start : start + b.rows.shape[0]]))
        start += b.rows.shape[0]
    return out
