r"""The trainer's optimizer step for arrays of other libraries, checked on the device."""

from __future__ import annotations

from typing import Any

from mlplab import _array_api as _xp
from mlplab._tree import tree_map
from mlplab.core.optimizers import Optimizer


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
    the NumPy loop, and ``applied`` says how many steps were applied. (PyTorch CPU tensors
    with ``sgd``/``momentum`` take :class:`mlplab.train.torch_cpu.TorchMomentumStep`
    instead: a CPU has no queue that a read would stall.)

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
