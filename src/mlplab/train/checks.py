"""The checks of a ``fit`` call, made once before the first step.

Each raises a ValueError or TypeError that names the argument and what is wrong with it;
under MPI the loop runs them through ``strategy.agree`` so that every rank raises the same
error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplab import _array_api as _xp
from mlplab._validation import (
    SCALE_WARNING,
    as_float_array,
    check_finite,
    check_input_scale,
    check_positive,
    check_two_classes,
    check_y,
)
from mlplab.train import rows as _rows
from mlplab.train import targets as _targets


def check_fit(
    net: Any,
    X: Any,
    y: Any,
    epochs: Any,
    validation_data: Any,
    checkpoint: Any,
    every: Any,
    resume: Any,
    restore_best: Any,
    require_two_classes: bool,
    val_rows_per_rank: bool = False,
    targets_per_batch: bool = False,
) -> tuple[Any, Any, tuple[Any, Any] | None, int | None, str | None]:
    """Validate the data and arguments once: (X, Y, validation data, checkpoint_every,
    the cost restore_best monitors). ``val_rows_per_rank``: each MPI rank passes its own
    validation rows, possibly none. ``targets_per_batch``: for rows on disk, Y (and the
    validation rows' Y) as :class:`~mlplab.train.targets.Targets`, made from y batch by
    batch (labels held once)."""
    check_positive(epochs, "epochs", integer=True, allow_zero=True)
    xp = net._xp
    extremes: list[tuple[float, float]] = []
    mapped = _rows.is_mapped(X) and xp is np  # out of core: checked in one streaming pass
    Xc: Any = _rows.prepare(net, X) if mapped else net._prepare_X(X, extremes)  # rows or array
    if mapped:
        pass  # prepare() checked the scale
    elif xp is np:
        check_input_scale(Xc, net.standardizer is not None, extremes=next(iter(extremes), None))
    else:  # max |x| from X's min and max (finite): reads only; the message on the host
        lo, hi = next(iter(extremes), None) or (float(xp.min(Xc)), float(xp.max(Xc)))
        if max(-lo, hi) > SCALE_WARNING:
            check_input_scale(_xp.to_numpy(Xc), net.standardizer is not None)
    per_batch = mapped and targets_per_batch and not require_two_classes
    if per_batch:  # y held once: Y's rows made as batches gather them
        Y = _targets.targets(y, net.head.name, net.layer_sizes[-1], Xc.shape[0], net.dtype)
    else:
        Y = net._prepare_y(y, Xc.shape[0])
    if require_two_classes:
        check_two_classes(Y if xp is np else _xp.to_numpy(Y), net.head.name)
    val = None
    if val_rows_per_rank and validation_data is not None and len(validation_data[0]) == 0:
        n0, n_out = net.layer_sizes[0], net.layer_sizes[-1]  # this rank has none of them
        val = (np.empty((0, n0), net.dtype), np.empty((0, n_out), net.dtype))
    elif validation_data is not None:
        val = check_validation(net, validation_data, per_batch)
    every = check_checkpoint_args(checkpoint, every, resume)
    if checkpoint is not None:
        numpy_only_checkpoints(net)
    return Xc, Y, val, every, check_restore_best(restore_best, val is not None)


def check_sample_weight(
    sample_weight: Any, n_samples: int, net: Any = None, distributed: bool = False
) -> tuple[Any, float | None]:
    """Sample weights, checked once: (w, Σw), or (None, None) without them.

    w is one finite weight >= 0 per row of X with Σw > 0: a float64 copy, moved to the
    namespace, dtype and device of ``net`` when it computes elsewhere than in NumPy.
    Refused under MPI (``distributed``): the weighted mean over a batch split across
    ranks would need each rank's Σw.
    """
    if sample_weight is None:
        return None, None
    if distributed:
        raise ValueError(
            "sample_weight is not supported with MPI data-parallel training (comm= or "
            "strategy=MPI(...)); train in one process, or repeat rows instead of weighting"
        )
    w = as_float_array(
        _xp.to_numpy(sample_weight) if _xp.is_foreign(sample_weight) else sample_weight,
        "sample_weight",
        np.dtype(np.float64),
    )
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per row of X, "
            f"got shape {w.shape}"
        )
    check_finite(w, "sample_weight")
    negative = np.flatnonzero(w < 0)
    if negative.size:
        raise ValueError(
            "sample_weight must be >= 0 (negative weights are not allowed), got "
            f"{float(w[negative[0]])!r} at row {int(negative[0])}"
        )
    with np.errstate(over="ignore"):
        total = float(w.sum())
    if not total > 0:
        raise ValueError("sample_weight is all zero: at least one sample needs a positive weight")
    if not np.isfinite(total):
        raise ValueError("sample_weight sums to infinity; rescale the weights")
    if net is not None and net._xp is not np:
        w = _xp.convert(w, net._xp, net._device, net.dtype)
    return w, total


def check_validation(
    net: Any, validation_data: Any, targets_per_batch: bool = False
) -> tuple[Any, Any]:
    xp = net._xp
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise TypeError("validation_data must be a pair (X_val, y_val)")
    if _rows.is_mapped(validation_data[0]) and xp is np:  # out of core: one streaming pass
        Xv = _rows.prepare(net, validation_data[0], "X_val")
        make = _targets.targets if targets_per_batch else check_y
        Yv = make(validation_data[1], net.head.name, net.layer_sizes[-1], Xv.shape[0],
                  net.dtype, "y_val")  # fmt: skip
        return Xv, Yv
    # Checked under their own names first, so an error says which X it means.
    Xv = _xp.check_X_in(
        validation_data[0], xp, net._device, net.dtype, net.layer_sizes[0], name="X_val"
    )
    Xv = net._prepare_X(Xv)
    yv = validation_data[1]
    yv = _xp.to_numpy(yv) if _xp.is_foreign(yv) else yv
    Yv = check_y(yv, net.head.name, net.layer_sizes[-1], Xv.shape[0], net.dtype, "y_val")
    return Xv, (Yv if xp is np else _xp.convert(Yv, xp, net._device))


def numpy_only_checkpoints(net: Any) -> None:
    if net is not None and net._xp is not np:
        raise ValueError(
            "checkpoints are written from NumPy training only; this network computes with "
            f"{_xp.describe(net._xp, net._device)} (train on NumPy arrays, or net.to('numpy'))"
        )


def check_restore_best(restore_best: Any, validated: bool) -> str | None:
    """The cost ``restore_best`` monitors ("loss" or "val_loss"), or None."""
    if isinstance(restore_best, bool):
        if not restore_best:
            return None
        return "val_loss" if validated else "loss"
    if not isinstance(restore_best, str):
        raise TypeError(
            f"restore_best must be True, False, 'loss' or 'val_loss', got {restore_best!r}"
        )
    if restore_best not in ("loss", "val_loss"):
        raise ValueError(
            f"restore_best must be True, False, 'loss' or 'val_loss', got {restore_best!r}"
        )
    if restore_best == "val_loss" and not validated:
        raise ValueError("restore_best='val_loss' needs validation_data")
    return restore_best


def check_checkpoint_args(checkpoint: Any, every: Any, resume: Any) -> int | None:
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be True or False, got {resume!r}")
    if checkpoint is None:
        if resume:
            raise ValueError("resume=True needs checkpoint=PATH (where to resume from)")
        if every is not None:
            raise ValueError("checkpoint_every needs checkpoint=PATH (where to write)")
        return None
    from mlplab.train import checkpoint as _ckpt  # loaded when a checkpoint is asked for

    _ckpt.checkpoint_files(checkpoint)  # type and name checks
    if every is None:
        return None
    return check_positive(every, "checkpoint_every", integer=True)
