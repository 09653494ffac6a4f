"""The next lecture's options of the estimators: dropout, batch norm, α schedules, clipping.

Kept apart from :mod:`mlplab.sklearn.estimators`, which calls these at a few places.
Every option defaults to None, which is "off": the estimator behaves exactly as before,
and so as scikit-learn's; ``solver="adamw"`` (with ``weight_decay``, None: 0.01) is a new
solver. ``get_params`` leaves out the options that are None (scikit-learn allows that for
a parameter whose default is None), so an estimator that does not use them has exactly
the parameters — and writes exactly the model files — it had before they existed
(tests/test_legacy_files.py); ``set_params`` accepts them.
"""

from __future__ import annotations

import numbers
from functools import partial
from typing import Any, TypeGuard, cast

import numpy as np

from mlplab.core import layer_options as _opts
from mlplab.core import optimizers as _opt
from mlplab.core import schedules as _schedules
from mlplab.core.batchnorm import BatchNorm, BNParams, BNStats

OPTIONS = ("dropout", "batch_norm", "lr_schedule", "max_grad_norm", "weight_decay")
"""The next lecture's constructor parameters (default None: off)."""


def visible(params: dict[str, Any]) -> dict[str, Any]:
    """``get_params()`` without the options that are None."""
    return {k: v for k, v in params.items() if not (k in OPTIONS and v is None)}


def take(est: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Set the options found in ``params`` on ``est``; return the other parameters."""
    rest = dict(params)
    for key in OPTIONS:
        if key in rest:
            setattr(est, key, rest.pop(key))
    return rest


PARAMETERS = """
    dropout : float, optional
        Drop each hidden unit with this probability during training (inverted dropout,
        keep probability p = 1 − dropout; :mod:`mlplab.core.dropout`). None or 0: none.
    batch_norm : bool, optional
        Batch-normalize z[l] of every hidden layer (:mod:`mlplab.core.batchnorm`).
    lr_schedule : str, optional
        Decay of the learning rate, counted in epochs: ``"step:S[:γ]"``,
        ``"exponential:γ"``, ``"inverse_time:decay"``, ``"cosine[:E]"``, ``"warmup:W[:then]"``
        (:func:`mlplab.core.schedules.parse`). None keeps α = ``learning_rate_init``.
    max_grad_norm : float, optional
        Clip the gradient to this global norm before each step
        (:func:`mlplab.optimizers.clip_by_global_norm`).
    weight_decay : float, optional
        λ of ``solver="adamw"`` (decoupled weight decay; None: 0.01, PyTorch's default;
        the other solvers ignore it).
"""


def _real(v: Any) -> TypeGuard[float]:
    """A real number that is not a bool (any ``numbers.Real``: compared as a float)."""
    return not isinstance(v, bool) and isinstance(v, numbers.Real)


def check(est: Any) -> None:
    """The options' values, checked (ValueError naming the parameter)."""
    d = est.dropout
    if d is not None and (not _real(d) or not 0 <= d < 1):
        raise ValueError(f"dropout must lie in [0, 1), got {d!r}")
    if est.batch_norm is not None and not isinstance(est.batch_norm, (bool, np.bool_)):
        raise ValueError(f"batch_norm must be True or False, got {est.batch_norm!r}")
    if est.lr_schedule is not None:
        if not isinstance(est.lr_schedule, str):
            raise ValueError(
                f"lr_schedule must be a string such as 'cosine', got {est.lr_schedule!r}"
            )
        _schedules.parse(est.lr_schedule, 1.0, 1, 10)  # raises on a bad spec
    c = est.max_grad_norm
    if c is not None and (not _real(c) or not c > 0):
        raise ValueError(f"max_grad_norm must be a number > 0 or None, got {c!r}")
    w = est.weight_decay
    if w is not None and (not _real(w) or not w >= 0):
        raise ValueError(f"weight_decay must be a number >= 0, got {w!r}")


def network_options(est: Any) -> dict[str, Any]:
    """The Network's keep_prob and batch_norm (nothing when both are off)."""
    out: dict[str, Any] = {}
    if est.dropout:
        out["keep_prob"] = 1.0 - float(est.dropout)
    if est.batch_norm:
        out["batch_norm"] = True
    return out


def adamw(est: Any, lr: float) -> _opt.Optimizer:
    """``solver="adamw"``."""
    wd = 0.01 if est.weight_decay is None else float(est.weight_decay)
    return _opt.adamw(lr, float(est.beta_1), float(est.beta_2), float(est.epsilon), wd)


def optimizer(est: Any, opt: _opt.Optimizer, n: int, batch: int | None, epochs: int) -> Any:
    """``opt`` with α on ``lr_schedule`` (epochs of ⌈n/|B|⌉ steps) and clipped gradients."""
    if est.lr_schedule is not None:
        steps = 1 if batch is None else -(-n // batch)
        lr = _schedules.parse(est.lr_schedule, float(est.learning_rate_init), steps, epochs)
        # _params.make_optimizer built it: its update is a partial of the built-in rule
        update = cast("partial[tuple[Any, Any]]", opt.update)
        keywords = {**update.keywords, "lr": lr}  # the same equations, α on the schedule
        shown: dict[str, Any] = {**(opt.hyperparams or {}), "lr": _schedules.to_config(lr)}
        opt = opt._replace(update=partial(update.func, **keywords), hyperparams=shown)
    if est.max_grad_norm is not None:
        opt = _opt.clip_by_global_norm(opt, float(est.max_grad_norm))
    return opt


def norms64(net: Any) -> list[BatchNorm | None] | None:
    """Batch norm at inference in float64 (the estimators predict in float64)."""
    norms = _opts.inference_norms(net)
    if norms is None:
        return None
    f64 = np.float64
    return [
        None
        if n is None
        else BatchNorm(
            BNParams(*(np.asarray(a, dtype=f64) for a in n.params)),
            BNStats(*(np.asarray(a, dtype=f64) for a in n.running)),
            n.eps,
        )
        for n in norms
    ]


def refuse_weights(net: Any) -> None:
    """Sample weights are not combined with dropout or batch norm (yet)."""
    if not net.options.plain:
        raise ValueError(
            "sample_weight is not supported together with dropout or batch_norm; "
            "fit without sample_weight, or without those options"
        )
