r"""Small dense networks compiled with Numba: many training steps in one call (issue 19).

On a network of a few thousand parameters a training step is some twenty NumPy calls on
tiny arrays, and the calls' own overhead (about a microsecond each, plus the loop's
bookkeeping) costs more than their arithmetic: XLA's compiled epoch (JAX, ``lax.scan``)
was 1.9–2.5× faster than the NumPy path on ``tabular`` and ``moons``. This module runs the
*same equations* as :class:`~mlplab.fast.workspace.Workspace` and the in-place optimizer
step, for a run of consecutive mini-batches, as one function compiled by Numba
(the optional extra ``pip install mlplab[numba]``; its machine code is cached on disk, so
only the first run on a machine compiles it, about 7 s):

* gather the batch's rows; z[l] = a[l-1] W[l]ᵀ + b[l] (BLAS gemm), a[l] = g(z[l]);
* J and dZ[L] = (a[L] − y)/m of the head; with L2, J += (λ/2|B|) Σ‖W[l]‖²;
* dW[l] = dZ[l]ᵀ a[l-1] (gemm), db[l] = Σ_i dZ[l], dZ[l-1] = (dZ[l] W[l]) ⊙ g'(z[l-1]);
  with L2, dW[l] += (λ/|B|) W[l];
* gradient descent θ ← θ − α g, or the lecture's momentum v ← βv + (1−β) g, θ ← θ − αv,
  where an entry of v below the smallest normal float is set to 0 (a flush to zero: the
  NumPy path keeps such subnormal entries, on which x86 CPUs compute many times slower);
* every step checked before θ changes: if J or any entry of the new θ is not finite,
  the call stops there with θ and v as the previous step left them and that step's
  gradient in ``g`` (the trainer then raises its :class:`DivergenceError`).

What it covers (:func:`kernel_for` says None otherwise, and the NumPy path runs): a plain
network (no dropout, batch norm or sample weights) of float32 or float64 with ``relu``,
``tanh``, ``sigmoid`` or ``identity`` hidden layers, any of the three heads, ``sgd`` or
``momentum`` with a constant α, at most :data:`MAX_PARAMS` parameters.
tests/test_fast_compiled.py holds it equal to the NumPy path (to float rounding: the sums
run in another order) and checks divergence, resume and reproducibility.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from functools import partial
from typing import Any

import numpy as np

from mlplab.core import optimizers as _opt

MAX_PARAMS = 1 << 15
"""Networks up to this many parameters: where per-call overhead, not arithmetic, is the cost."""

MIN_STEPS = 20000
"""With ``MLPLAB_COMPILED=auto`` (the default), fits of at least this many steps.

Importing Numba and loading the cached kernel took 1.5 s on the loaded 2-core benchmark
machine (``import numba`` 1.1–1.3 s, the kernel module 0.3 s), while the kernel saves
about 35 µs per step on ``tabular`` (0.84 → 0.21 ms per 18-step epoch): it pays from
some 15000–40000 steps on. Shorter fits stay on the NumPy path; ``MLPLAB_COMPILED=always``
takes the compiled steps anyway (a process that trains many small networks).
"""

ACTIVATIONS = {"identity": 0, "relu": 1, "tanh": 2, "sigmoid": 3}
HEADS = {"binary": 0, "multiclass": 1, "regression": 2}


def mode() -> str:
    """``MLPLAB_COMPILED``: ``auto`` (default), ``always`` (whenever it applies) or ``never``."""
    value = os.environ.get("MLPLAB_COMPILED", "auto").strip().lower()
    return {"1": "always", "0": "never", "": "auto"}.get(value, value)


def available() -> bool:
    """Numba is installed and ``MLPLAB_COMPILED`` is not ``never``."""
    return mode() != "never" and _numba_installed()


@functools.cache
def _numba_installed() -> bool:
    """Whether Numba can be imported (looked up once: a fit asks at every call)."""
    return importlib.util.find_spec("numba") is not None


def optimizer_form(optimizer: Any) -> tuple[float, float] | None:
    """(α, β) of built-in ``sgd`` (β = 0) or ``momentum`` with a constant α, else None."""
    update = getattr(optimizer, "update", None)
    if type(update) is not partial or update.args:
        return None
    kw = update.keywords
    lr = kw.get("lr")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        return None  # a schedule
    if update.func is _opt.sgd_update and set(kw) == {"lr"}:
        return float(lr), 0.0
    if update.func is _opt.momentum_update and set(kw) == {"lr", "beta"}:
        return float(lr), float(kw["beta"])
    return None


def eligible(net: Any, optimizer: Any) -> bool:
    """Whether the compiled steps run the same equations as the NumPy path for this fit."""
    return (
        net._xp is np
        and net.dtype in (np.float32, np.float64)
        and net.options.plain
        and net.head.name in HEADS
        and all(g.name in ACTIVATIONS for g in net.hidden)
        and net._theta.shape[0] <= MAX_PARAMS
        and optimizer_form(optimizer) is not None
    )


class Kernel:
    """The compiled steps for one network and batch size, with their buffers.

    Parameters
    ----------
    net : Network
    batch_size : int
        |B| (the last batch of an epoch may be smaller).
    """

    def __init__(self, net: Any, batch_size: int) -> None:
        s = np.asarray(net.layer_sizes, dtype=np.int64)
        dt = net.dtype
        self.net, self.bs = net, int(batch_size)
        self.sizes = s
        self.acts = np.asarray([ACTIVATIONS[g.name] for g in net.hidden] + [0], np.int64)
        self.head = HEADS[net.head.name]
        self.Z = np.empty(self.bs * int(s[1:].sum()), dt)  # z[l], then a[l] in place
        self.dZ = np.empty_like(self.Z)
        self.Xb = np.empty((self.bs, int(s[0])), dt)
        self.Yb = np.empty((self.bs, int(s[-1])), dt)
        self.out = np.zeros(4, np.float64)  # Σ J·m, # correct, batches done, last J
        self.J = np.zeros(1, dt)

    def run(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        order: np.ndarray,
        b0: int,
        b1: int,
        theta: np.ndarray,
        v: np.ndarray,
        g: np.ndarray,
        lr: float,
        beta: float,
        lam: float,
    ) -> tuple[float, float, int, float]:
        """Batches b0..b1−1 of the epoch's permutation ``order``, θ and v in place.

        Returns (Σ_b J_b·m_b, # correct predictions, batches done, J of the last one).
        Fewer than b1 − b0 batches done means the next one was not finite: it was not
        applied, and its gradient is in ``g``.
        """
        dt = theta.dtype.type
        one_m = dt(1 - beta)  # as NumPy's (1 − β)·g: rounded once to the dtype
        hyper = (dt(lr), dt(beta), one_m, dt(lam), dt(np.finfo(dt).tiny))
        bufs = (self.Z, self.dZ, self.Xb, self.Yb, self.out, self.J)
        _steps()(X, Y, order, b0, b1, self.bs, theta, v, g, self.sizes, self.acts, self.head,
                 *hyper, *bufs)  # fmt: skip
        total, correct, done, last = self.out
        return float(total), float(correct), int(done), float(last)


@functools.cache
def _steps() -> Any:
    """The compiled function (Numba imported, and the cache read, on first use only)."""
    from mlplab.fast import _compiled_kernel

    return _compiled_kernel.steps
