r"""The training step on PyTorch CPU tensors (``backend="torch"``): the lecture's
equations in few, fused PyTorch kernels, and an in-place optimizer step checked on the host.

The generic device path (:meth:`~mlplab.train.step.BatchGradient._on_device` and
:class:`~mlplab.fast.guarded.GuardedStep`) runs the lecture's functions in any array
library and keeps every check on the device, as a GPU needs. On a CPU that costs more than
it saves: ~50 PyTorch calls per step of a 3-layer network, six passes over θ per momentum
step and two ``where`` passes more for the device-side check (benchmarks/RESULTS.md:
0.71× and 0.56× of plain PyTorch on mnist-shape and wide). Here, for PyTorch tensors on the
CPU, plain networks with the hidden activations relu, tanh, sigmoid or identity, the heads
binary, multiclass and regression, without sample weights:

* :class:`TorchGradient`: the same forward and backward pass as
  :func:`mlplab.core.backprop.forward`/:func:`~mlplab.fast.workspace.backward_into` —
  z[l] = a[l-1] W[l]ᵀ + b[l] as one ``addmm``, g applied in place (its derivative taken
  from a[l], which holds the same information: ReLU'(z) = [a > 0], σ' = a(1 − a),
  tanh' = 1 − a²), the multiclass head through ``log_softmax`` and J as one dot product,
  dW[l]ᵀ and db[l] written into the trainer's flat gradient with ``out=``;
* :class:`TorchMomentumStep`: ``sgd``/``momentum`` with a constant α, the update written
  in place — v ← βv + (1−β)g, θ ← θ − αv: one pass over θ, g and v through PyTorch's fused
  SGD kernel (the one of ``torch.optim.SGD(fused=True)``; three passes without it) and one
  read-only pass for the check, where the pure update takes six and the device check two
  more.

**The check without a device queue.** A CPU has no queue of kernels that a read would
make the host wait for: ``float(t)`` of a CPU tensor is a memory read, so each step is
checked *before* it is applied, from one number: s = J + Σ_i g_i is finite iff J and every
g_i are (NaN and ±inf propagate through a sum; a finite vector whose sum overflows is
checked entry by entry). That decides the step exactly as the NumPy loop's u·g does:
v ← βv + (1−β)g is a convex combination, so it is finite iff g is (v always is), and
α v is finite for α ≤ 1; for α > 1 (where α v might overflow although v does not) the
update is computed into a buffer and checked entry by entry first. A refused step leaves
θ and v as they were and sets ``ok`` to False; the trainer reads ``ok`` once per epoch and
reports the step (:func:`~mlplab.train.divergence.diverged_on_device`), as for a GPU.

Results equal the generic path's up to rounding (PyTorch fuses a·x + y), tested against
NumPy in tests/test_torch_cpu.py.
"""

from __future__ import annotations

import math
from typing import Any

from mlplab.core.optimizers import EmptyState, MomentumState
from mlplab.fast.compiled import optimizer_form

ACTIVATIONS = frozenset({"relu", "identity", "tanh", "sigmoid"})
"""Hidden activations :class:`TorchGradient` runs (others take the generic path)."""

HEADS = frozenset({"binary", "multiclass", "regression"})


def on_torch_cpu(theta: Any) -> bool:
    """Whether ``theta`` is a PyTorch tensor on the CPU (imports nothing)."""
    return type(theta).__module__.partition(".")[0] == "torch" and theta.device.type == "cpu"


def gradient_applies(net: Any) -> bool:
    """Whether :class:`TorchGradient` runs ``net``'s equations (else the generic path)."""
    return (
        on_torch_cpu(net._theta)
        and net.options.plain
        and net.head.name in HEADS
        and all(g.name in ACTIVATIONS for g in net.hidden)
    )


class TorchGradient:
    """J, dJ/dθ (into ``grads``) and the correct predictions on rows of PyTorch CPU tensors.

    Parameters
    ----------
    net : Network
        Its θ a PyTorch CPU tensor (:func:`gradient_applies`).
    grads : list of DenseParams
        Views of the trainer's flat gradient vector, written in place.
    """

    def __init__(self, net: Any, grads: list[Any]) -> None:
        import torch

        self.torch = torch
        self.net, self.grads = net, grads
        self.acts = [g.name for g in net.hidden]
        self.zero = torch.zeros((), dtype=net._theta.dtype)  # logaddexp(0, z) of the binary head

    def __call__(self, X: Any, Y: Any, labels: Any, rows: Any) -> tuple[Any, int, Any]:
        """(J, m, # correct) on rows ``rows`` of X, Y (None: all), J and the count as 0-D
        tensors.

        Parameters
        ----------
        X : tensor of shape (n_samples, n[0])
        Y : tensor of shape (n_samples, n[L])
        labels : tensor of shape (n_samples,) or None
            Class indices (multiclass).
        rows : tensor of shape (m,) or None
        """
        torch = self.torch
        if rows is not None:
            X, Y = X.index_select(0, rows), Y.index_select(0, rows)
            labels = None if labels is None else labels.index_select(0, rows)
        As = self._forward(X)
        Z = As[-1]
        J, dZ = self._head(Z, Y)
        correct: Any = 0.0  # the head wrote dZ into new tensors: Z is intact
        if labels is not None:
            correct = torch.count_nonzero(Z.argmax(dim=1) == labels)
        elif self.net.head.name == "binary":
            correct = torch.count_nonzero((Z > 0) == (Y > 0.5))
        self._backward(dZ, X, As)
        return J, X.shape[0], correct

    def _forward(self, X: Any) -> list[Any]:
        """a[1], ..., a[L-1], z[L]: z[l] = a[l-1] W[l]ᵀ + b[l] (one addmm), g in place."""
        torch, A, out = self.torch, X, []
        for l, p in enumerate(self.net._params):
            A = torch.addmm(p.b, A, p.W.T)
            if l < len(self.acts):
                g = self.acts[l]
                if g == "relu":
                    A.clamp_min_(0)  # max(z, 0), NaN stays NaN
                elif g == "tanh":
                    A.tanh_()
                elif g == "sigmoid":
                    A.sigmoid_()
            out.append(A)
        return out

    def _head(self, Z: Any, Y: Any) -> tuple[Any, Any]:
        """J and dZ[L] = (a[L] − y)/m, as :mod:`mlplab.core.heads` computes them."""
        torch, m = self.torch, Z.shape[0]
        name = self.net.head.name
        if name == "multiclass":  # J = −Σ y·log softmax(z) / m
            logp = torch.log_softmax(Z, dim=1)
            J = torch.dot(Y.reshape(-1), logp.reshape(-1)) / -m
            dZ = logp.exp_()  # a[L] = softmax(z[L])
        elif name == "binary":  # J = Σ [log(1 + e^z) − yz] / m
            J = (torch.logaddexp(self.zero, Z).sum() - torch.dot(Y.reshape(-1), Z.reshape(-1))) / m
            dZ = torch.sigmoid(Z)
        else:  # regression: J = Σ (z − y)² / 2m
            dZ = Z.clone()
            dZ_flat = dZ.reshape(-1)
            dZ_flat.sub_(Y.reshape(-1))
            J = torch.dot(dZ_flat, dZ_flat) / (2 * m)
            return J, dZ.mul_(1.0 / m)
        dZ.sub_(Y)  # a − y
        return J, dZ.mul_(1.0 / m)

    def _backward(self, dZ: Any, X: Any, As: list[Any]) -> None:
        """dW[l]ᵀ = a[l-1]ᵀ dZ[l], db[l] = Σ_i dZ[l], dZ[l-1] = (dZ[l] W[l]) ⊙ g'(a[l-1])."""
        torch, params = self.torch, self.net._params
        for l in reversed(range(len(params))):
            A_prev = X if l == 0 else As[l - 1]
            dW, db = self.grads[l]
            if dW.T.is_contiguous():  # dW[l]ᵀ is a block of the flat gradient
                torch.mm(A_prev.T, dZ, out=dW.T)
            else:
                dW.copy_(dZ.T @ A_prev)
            torch.sum(dZ, dim=0, out=db)
            if l == 0:
                break
            dZ = torch.mm(dZ, params[l].W)  # da[l-1]
            g = self.acts[l - 1]
            if g == "relu":
                dZ.mul_(A_prev > 0)  # ReLU'(z) = [z > 0] = [a > 0]; inf·0 stays NaN
            elif g == "tanh":
                dZ.mul_(1.0 - A_prev * A_prev)
            elif g == "sigmoid":
                dZ.mul_(A_prev * (1.0 - A_prev))


def step_for(optimizer: Any, theta: Any) -> TorchMomentumStep | None:
    """The in-place checked step for ``sgd``/``momentum`` with a constant α on PyTorch
    CPU tensors; None where it does not apply (the generic GuardedStep then)."""
    if optimizer_form(optimizer) is None or not on_torch_cpu(theta):
        return None
    return TorchMomentumStep(optimizer)


class TorchMomentumStep:
    r"""v ← βv + (1−β)g, θ ← θ − αv in place (β = 0: θ ← θ − αg), each step checked first.

    The interface of :class:`~mlplab.fast.guarded.GuardedStep`: ``step(J, g, state, θ)``
    returns the new state; ``ok`` (a bool: the check ran on the host) is False from the
    first refused step on, after which nothing changes but the state's count; ``applied``
    (an int) counts the steps taken.

    Parameters
    ----------
    optimizer : Optimizer
        ``sgd`` or ``momentum`` with a constant α (``fast.compiled.optimizer_form``).
    """

    def __init__(self, optimizer: Any) -> None:
        import torch

        self.torch = torch
        self.optimizer = optimizer
        self.ok, self.applied = True, 0
        # PyTorch's fused SGD kernel (torch.optim.SGD(fused=True) on the CPU), if it has one
        self.fused: Any = getattr(torch, "_fused_sgd_", None)
        self._fused_ok: dict[Any, bool] = {}  # per dtype: does the kernel do our update?

    @property
    def optimizer(self) -> Any:
        """The optimizer; setting it (ReduceLROnPlateau's α × factor) takes its α and β."""
        return self._optimizer

    @optimizer.setter
    def optimizer(self, optimizer: Any) -> None:
        form = optimizer_form(optimizer)
        if form is None:
            raise TypeError(f"{optimizer.name} is not sgd or momentum with a constant α")
        self._optimizer = optimizer
        self.lr, self.beta = form

    def __call__(self, J: Any, g: Any, state: Any, theta: Any) -> Any:
        count = state.count + 1
        if not self.ok:  # after a refused step nothing changes (as on a device)
            return state._replace(count=count)
        lr, beta = self.lr, self.beta
        if not self._finite(J, g):
            return self._refuse(state, count)
        if lr > 1.0:  # α v might overflow though v does not: check the update first
            v = g if not beta else self.torch.add(state.v * beta, g, alpha=1.0 - beta)
            u = v * -lr
            if not bool(self.torch.isfinite(u).all()):
                return self._refuse(state, count)
            theta.add_(u)
        elif beta:  # v ← βv + (1−β)g: finite, as g is (checked above); θ ← θ − αv
            v = state.v
            self._momentum(theta, g, v, lr, beta)
        else:
            v = g
            theta.add_(g, alpha=-lr)  # θ ← θ − αg
        self.applied += 1
        return EmptyState(count) if not beta else MomentumState(count, v)

    def _momentum(self, theta: Any, g: Any, v: Any, lr: float, beta: float) -> None:
        """v ← βv + (1−β)g, θ ← θ − αv in place, in one pass over θ, g and v: PyTorch's
        fused SGD kernel with dampening β (its momentum buffer is v); where that kernel is
        missing or does not do this update (:meth:`_fused_works`), two in-place calls
        (three passes)."""
        if self._fused_works(theta.dtype):
            self._fused_call(theta, g, v, lr, beta)
        else:
            v.mul_(beta).add_(g, alpha=1.0 - beta)
            theta.add_(v, alpha=-lr)

    def _fused_call(self, theta: Any, g: Any, v: Any, lr: float, beta: float) -> None:
        self.fused([theta], [g], [v], weight_decay=0.0, momentum=beta, lr=lr, dampening=beta,
                   nesterov=False, maximize=False, is_first_step=False)  # fmt: skip

    def _fused_works(self, dtype: Any) -> bool:
        """Whether the fused kernel exists and does this update for ``dtype``: tried once
        on three small tensors of known result (θ = 1, g = 3, v = 1, β = 0.5, α = 0.5 give
        v = 2, θ = 0), never on the trainer's θ."""
        if self.fused is None:
            return False
        if dtype not in self._fused_ok:
            torch = self.torch
            theta, g, v = (torch.full((2,), x, dtype=dtype) for x in (1.0, 3.0, 1.0))
            try:
                self._fused_call(theta, g, v, 0.5, 0.5)
                works = v.tolist() == [2.0, 2.0] and theta.tolist() == [0.0, 0.0]
            except (RuntimeError, TypeError, NotImplementedError):
                works = False
            self._fused_ok[dtype] = works
        return self._fused_ok[dtype]

    def _finite(self, J: Any, g: Any) -> bool:
        """J and every entry of g finite: from J + Σ g_i (entry by entry if that overflows)."""
        s = float(J + g.sum())
        if math.isfinite(s):
            return True
        if not math.isfinite(float(J)):
            return False
        return bool(self.torch.isfinite(g).all())

    def _refuse(self, state: Any, count: int) -> Any:
        self.ok = False
        return state._replace(count=count)
