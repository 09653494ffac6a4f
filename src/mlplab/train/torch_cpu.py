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
  from a[l], which holds the same information: ReLU'(z) = [a > 0] = sign(a), σ' = a(1 − a),
  tanh' = 1 − a²), the multiclass head through ``log_softmax`` and J as one dot product,
  dW[l]ᵀ and db[l] written into the trainer's flat gradient with ``out=``; every other
  result, the gathered rows included, into tensors kept per batch size (no allocation
  in a step but J's and the count's);
* :class:`TorchMomentumStep`: ``sgd``/``momentum`` with a constant α, the update written
  in place — v ← βv + (1−β)g, θ ← θ − αv: one pass over θ, g and v through PyTorch's fused
  SGD kernel (the one of ``torch.optim.SGD(fused=True)``; three passes without it) and one
  read-only pass for the check, where the pure update takes six and the device check two
  more.

**The check without a device queue.** A CPU has no queue of kernels that a read would
make the host wait for: ``float(t)`` of a CPU tensor is a memory read, so each step is
checked *before* it is applied, from J and one number, g·g, finite iff every g_i is (NaN
and ±inf propagate through the products and the sum; a finite vector whose g·g overflows
is checked entry by entry; one dot product reads g faster than ``sum``). That decides the
step exactly as the NumPy loop's u·g does: v ← βv + (1−β)g is a convex combination, so it
is finite iff g is (v always is), and α v is finite for α ≤ 1; for α > 1 (where α v might
overflow although v does not) the update is computed into a buffer and checked entry by
entry first. A refused step leaves θ and v as they were and sets ``ok`` to False; the
trainer reads ``ok`` once per epoch and reports the step
(:func:`~mlplab.train.divergence.diverged_on_device`), as for a GPU.

Results equal the generic path's up to rounding (PyTorch fuses a·x + y), tested against
NumPy in tests/test_torch_cpu.py.
"""

from __future__ import annotations

import math
import operator
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


class _Buffers:
    """The preallocated tensors of one batch size m (as :class:`~mlplab.fast.workspace.
    Workspace` for NumPy): the gathered rows, z[l]/a[l], the backward pass's da[l] and
    g'(a[l]), the head's output; every kernel of a step writes into them with ``out=``."""

    def __init__(self, torch: Any, net: Any, m: int, labels: Any) -> None:
        sizes, dtype = net.layer_sizes, net._theta.dtype

        def new(*shape: int, kind: Any = dtype) -> Any:
            return torch.empty(shape, dtype=kind)

        self.X, self.Y = new(m, sizes[0]), new(m, sizes[-1])
        self.labels = None if labels is None else new(m, kind=labels)  # labels' dtype
        self.A = [new(m, n) for n in sizes[1:]]  # z[l], then a[l] in place
        self.dA = [new(m, n) for n in sizes[1:-1]]  # da[l], then dZ[l] in place
        self.gprime = [new(m, n) for n in sizes[1:-1]]  # g'(z[l]) from a[l]
        self.out = new(m, sizes[-1])  # log softmax, then dZ[L]
        self.argmax = new(m, kind=torch.int64)
        self.hits = new(m, kind=torch.bool)
        self.XT, self.AT = self.X.T, [A.T for A in self.A]  # a[l-1]ᵀ of dW[l]ᵀ, made once


class TorchGradient:
    """J, dJ/dθ (into ``grads``) and the correct predictions on rows of PyTorch CPU tensors.

    Every kernel of a step writes into the tensors of :class:`_Buffers` (one set per batch
    size); J and the count are 0-D tensors, read by nothing here (the step reads J when it
    checks on the host, :class:`~mlplab.fast.guarded.GuardedStep` never).

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
        self.buffers: dict[tuple[int, Any], _Buffers] = {}
        self._layers: tuple[Any, list[Any], list[tuple[Any, ...]]] = (None, [], [])

    def layers(self) -> list[tuple[Any, ...]]:
        """Per layer (b, W, Wᵀ, dW, dWᵀ or None, db): the views a step uses, made once per
        θ and gradient vector (a view costs ~2 µs, a dozen of them per step): the trainer
        replaces the network's list of views and its gradient's when it moves them."""
        params, grads, cached = self._layers
        same = len(grads) == len(self.grads) and all(map(operator.is_, grads, self.grads))
        if params is not self.net._params or not same:
            cached = [(p.b, p.W, p.W.T, g.W, g.W.T if g.W.T.is_contiguous() else None, g.b)
                      for p, g in zip(self.net._params, self.grads, strict=True)]  # fmt: skip
            self._layers = (self.net._params, list(self.grads), cached)
        return cached

    def __call__(self, X: Any, Y: Any, labels: Any, rows: Any) -> tuple[Any, int, Any]:
        """(J, m, # correct) on rows ``rows`` of X, Y (None: all).

        Parameters
        ----------
        X : tensor of shape (n_samples, n[0])
        Y : tensor of shape (n_samples, n[L])
        labels : tensor of shape (n_samples,) or None
            Class indices (multiclass).
        rows : tensor of shape (m,) or None
        """
        torch = self.torch
        m = X.shape[0] if rows is None else rows.shape[0]
        key = (m, None if labels is None else labels.dtype)
        buf = self.buffers.get(key)
        if buf is None:
            buf = self.buffers[key] = _Buffers(torch, self.net, m, key[1])
        if rows is not None:  # the batch's rows gathered into the buffers
            X = torch.index_select(X, 0, rows, out=buf.X)
            Y = torch.index_select(Y, 0, rows, out=buf.Y)
            if labels is not None:
                labels = torch.index_select(labels, 0, rows, out=buf.labels)
        Z = self._forward(X, buf)
        correct: Any = 0.0
        if labels is not None:  # before the head: it writes dZ[L] into buf.out, Z stays
            torch.argmax(Z, dim=1, out=buf.argmax)
            correct = torch.count_nonzero(torch.eq(buf.argmax, labels, out=buf.hits))
        elif self.net.head.name == "binary":
            correct = torch.count_nonzero((Z > 0) == (Y > 0.5))
        J, dZ = self._head(Z, Y, buf)
        self._backward(dZ, X, buf)
        return J, m, correct

    def _forward(self, X: Any, buf: _Buffers) -> Any:
        """z[L]; a[1], ..., a[L-1] in ``buf.A``: z[l] = a[l-1] W[l]ᵀ + b[l] (one addmm),
        g in place."""
        torch, A = self.torch, X
        for l, (b, _, WT, *_) in enumerate(self.layers()):
            A = torch.addmm(b, A, WT, out=buf.A[l])
            if l < len(self.acts):
                g = self.acts[l]
                if g == "relu":
                    torch.relu_(A)  # max(z, 0), NaN stays NaN
                elif g == "tanh":
                    A.tanh_()
                elif g == "sigmoid":
                    A.sigmoid_()
        return A

    def _head(self, Z: Any, Y: Any, buf: _Buffers) -> tuple[Any, Any]:
        """J and dZ[L] = (a[L] − y)/m, as :mod:`mlplab.core.heads` computes them."""
        torch, m = self.torch, Z.shape[0]
        name = self.net.head.name
        if name == "multiclass":  # J = −Σ y·log softmax(z) / m
            logp = torch.log_softmax(Z, 1, out=buf.out)
            J = torch.dot(Y.view(-1), logp.view(-1)).div_(-m)
            dZ = logp.exp_()  # a[L] = softmax(z[L])
        elif name == "binary":  # J = Σ [log(1 + e^z) − yz] / m
            J = torch.logaddexp(self.zero, Z, out=buf.out).sum()
            J.sub_(torch.dot(Y.view(-1), Z.view(-1))).div_(m)
            dZ = torch.sigmoid(Z, out=buf.out)
        else:  # regression: J = Σ (z − y)² / 2m
            dZ = torch.sub(Z, Y, out=buf.out)
            dZ_flat = dZ.view(-1)
            J = torch.dot(dZ_flat, dZ_flat).div_(2 * m)
            return J, dZ.mul_(1.0 / m)
        dZ.sub_(Y)  # a − y
        return J, dZ.mul_(1.0 / m)

    def _backward(self, dZ: Any, X: Any, buf: _Buffers) -> None:
        """dW[l]ᵀ = a[l-1]ᵀ dZ[l], db[l] = Σ_i dZ[l], dZ[l-1] = (dZ[l] W[l]) ⊙ g'(a[l-1])."""
        torch, layers = self.torch, self.layers()
        for l in reversed(range(len(layers))):
            _, W, _, dW, dWT, db = layers[l]
            if l == 0:
                A_prev, A_prevT = X, (buf.XT if X is buf.X else X.T)
            else:
                A_prev, A_prevT = buf.A[l - 1], buf.AT[l - 1]
            if dWT is not None:  # dW[l]ᵀ is a block of the gradient: the GEMM writes into it
                torch.mm(A_prevT, dZ, out=dWT)
            else:
                dW.copy_(dZ.T @ A_prev)
            torch.sum(dZ, dim=0, out=db)
            if l == 0:
                break
            dZ = torch.mm(dZ, W, out=buf.dA[l - 1])  # da[l-1]
            gp, g = buf.gprime[l - 1], self.acts[l - 1]
            if g == "relu":  # ReLU'(z) = [z > 0] = sign(a) for a = max(z, 0) ≥ 0, as a
                dZ.mul_(torch.sign(A_prev, out=gp))  # number (inf·0 stays NaN)
            elif g == "tanh":  # 1 − a²
                dZ.mul_(torch.mul(A_prev, A_prev, out=gp).neg_().add_(1.0))
            elif g == "sigmoid":  # a(1 − a)
                dZ.mul_(torch.mul(A_prev, 1.0 - A_prev, out=gp))


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
        """J and every entry of g finite: from J and g·g (entry by entry if that overflows;
        one dot product reads g faster than a sum does)."""
        if not math.isfinite(float(J)):
            return False
        return math.isfinite(float(self.torch.dot(g, g))) or bool(self.torch.isfinite(g).all())

    def _refuse(self, state: Any, count: int) -> Any:
        self.ok = False
        return state._replace(count=count)
