r"""The trainer's optimizer step for arrays of other libraries, checked on the device."""

from __future__ import annotations

import math
from typing import Any

from mlplab import _array_api as _xp
from mlplab._tree import tree_map
from mlplab.core.optimizers import EmptyState, MomentumState, Optimizer
from mlplab.fast.compiled import optimizer_form


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
        self._host: bool | None = None  # PyTorch on the CPU: nothing to wait for
        self._spare: Any = None

    def __call__(self, J: Any, grads: Any, state: Any, params: Any) -> Any:
        xp = _xp.namespace(params)
        if self._host is None:
            self._host = _xp.compat().is_torch_namespace(xp) and params.device.type == "cpu"
        form = optimizer_form(self.optimizer) if self._host else None
        if form is not None and hasattr(state, "count"):
            return self._host_step(J, grads, state, params, *form)
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

    def _host_step(self, J: Any, g: Any, state: Any, theta: Any, lr: float, beta: float) -> Any:
        """PyTorch CPU tensors, ``sgd``/``momentum`` with a constant α: the same update,
        checked on the host (a CPU has no queue to stall) and written into buffers.

        The pure update allocates four θ-sized tensors per step and the device check two
        more ``where`` passes: on ``wide`` (2.1 M parameters) that was most of the gap to
        plain PyTorch (benchmarks/RESULTS.md). The products are the pure update's, in its
        order (β·v, (1−β)·g, their sum, −α·v), so θ and v are the same bit for bit.
        """
        import torch

        if self.ok is None:
            self.ok, self.applied = torch.tensor(True), torch.tensor(0)
        count = state.count + 1
        if not bool(self.ok):  # after a refused step nothing changes, as on a device
            return state._replace(count=count)
        if self._spare is None or self._spare[0].shape != theta.shape:
            self._spare = (torch.empty_like(theta), torch.empty_like(theta))
        u, nv = self._spare
        if beta:
            torch.mul(state.v, beta, out=nv)  # v ← βv + (1−β)g
            torch.mul(g, 1 - beta, out=u)
            nv.add_(u)
            torch.mul(nv, -lr, out=u)  # u = −αv
        else:
            torch.mul(g, -lr, out=u)  # u = −αg
        if not (math.isfinite(float(J)) and math.isfinite(float(torch.dot(u, g)))):
            self.ok = torch.tensor(False)
            return state._replace(count=count)
        theta.add_(u)
        self.applied = self.applied + 1
        if not beta:
            return EmptyState(count)
        self._spare = (u, state.v)  # the old v is free now: the next step writes there
        return MomentumState(count, nv)
