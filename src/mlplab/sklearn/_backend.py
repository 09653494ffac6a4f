"""The estimators' ``backend=``: where the stochastic solvers train (issue 19).

``"numpy"`` (the default) is mlplab's NumPy fast path. ``"torch"`` hands the training rows
to the one training loop as PyTorch CPU tensors, so that it runs on PyTorch's kernels
(:mod:`mlplab.train.torch_cpu`: MKL's matrix products, fused steps); the network and the
optimizer state come back to NumPy when the fit ends (or fails), so that everything
after it — ``predict``, ``coefs_``, pickling, model files, ``partial_fit`` — is as with
NumPy. It pays on networks whose matrix products dominate (wide layers, large batches) on
CPUs where PyTorch's BLAS beats NumPy's (docs/guide/performance.md); on small networks
the NumPy path is faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab import _array_api as _xp

BACKENDS = ("numpy", "torch")


def check(est: Any) -> None:
    """What ``_parameter_constraints`` cannot say: L-BFGS runs SciPy on NumPy arrays."""
    if getattr(est, "backend", "numpy") == "torch" and est.solver == "lbfgs":
        raise ValueError(
            "backend='torch' trains the stochastic solvers; solver='lbfgs' runs SciPy's "
            "L-BFGS-B on NumPy arrays (use backend='numpy')"
        )


def torch_module() -> Any:
    """PyTorch, or a clear error naming what to install."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            "backend='torch' needs PyTorch: pip install 'mlplab[torch]' (the CPU wheel)"
        ) from None
    return torch


def fit(est: Any, trainer: Any, X: np.ndarray, Y: np.ndarray, **kwargs: Any) -> Any:
    """``trainer.fit(X, Y, **kwargs)`` on the estimator's backend.

    With ``"torch"`` X and Y are handed over as PyTorch CPU tensors (the network follows
    them there); afterwards the network and the optimizer state are NumPy arrays again.
    """
    if getattr(est, "backend", "numpy") != "torch":
        return trainer.fit(X, Y, **kwargs)
    torch = torch_module()

    def tensor(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a))

    try:
        return trainer.fit(tensor(X), tensor(Y), **kwargs)
    finally:
        trainer.net.to(np)
        trainer.opt_state = _xp.tree_convert(trainer.opt_state, np, None)
