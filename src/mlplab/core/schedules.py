r"""Learning-rate schedules: α_t as a function of the step count t (optax style).

A schedule is passed wherever a float learning rate goes::

    opt = mlplab.optimizers.momentum(lr=schedules.cosine_decay(0.1, decay_steps=1000))

and the optimizer's ``update`` uses α_t = ``schedule(t)``, t being the number of steps
taken before this one (the optimizer state's ``count``: 0 for the first step). So
schedules are pure functions of a number the optimizer state already holds, and a run
resumed from a checkpoint continues its schedule exactly.

t counts **optimizer steps** (mini-batches). The lecture's decays are written per
epoch; with mini-batches pass the steps of one epoch as ``every`` (``step_size``,
``decay_steps``, ``warmup_steps``): with ``every = ⌈n / |B|⌉`` the epoch number is
⌊t / every⌋. Each schedule equals the PyTorch ``torch.optim.lr_scheduler`` named in its
docstring, stepped once per ``every`` optimizer steps (tests/test_schedules.py).

A schedule is plain data too (:func:`to_config`, :func:`from_config`): model files and
checkpoints store it as JSON, never as code.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

from mlplab._validation import check_positive


class Schedule(NamedTuple):
    """α_t = ``schedule(t)`` for t = 0, 1, 2, ...; ``name`` and ``hyperparams`` describe it.

    ``peak`` bounds α_t over all t (``math.inf`` when it is unbounded): the fast
    optimizer step uses it to prove a step finite before it runs.
    """

    fn: Callable[[int], float]
    name: str
    hyperparams: dict[str, Any]
    peak: float

    def __call__(self, count: int) -> float:
        """α at step count ``count``."""
        return self.fn(count)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams.items())
        return f"{self.name}({args})"


def _steps(value: Any, name: str) -> int:
    return check_positive(value, name, integer=True)


def constant(lr: float) -> Schedule:
    r"""α_t = α₀ for every t (``torch.optim.lr_scheduler.ConstantLR(factor=1)``)."""
    lr = check_positive(lr, "lr")
    return Schedule(lambda t: lr, "constant", {"lr": lr}, lr)


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    r"""Step decay: α is multiplied by γ every ``step_size`` steps.

    .. math:: \alpha_t = \alpha_0\,\gamma^{\lfloor t / s \rfloor}

    ``torch.optim.lr_scheduler.StepLR(step_size=s, gamma=γ)``.
    """
    lr = check_positive(lr, "lr")
    step_size = _steps(step_size, "step_size")
    gamma = check_positive(gamma, "gamma")
    peak = lr if gamma <= 1 else math.inf
    params = {"lr": lr, "step_size": step_size, "gamma": gamma}
    return Schedule(lambda t: lr * gamma ** (t // step_size), "step", params, peak)


def exponential_decay(lr: float, gamma: float, every: int = 1) -> Schedule:
    r"""Exponential decay: α shrinks by a factor γ per ``every`` steps, smoothly.

    .. math:: \alpha_t = \alpha_0\,\gamma^{t / k}

    With k = 1, ``torch.optim.lr_scheduler.ExponentialLR(gamma=γ)``; with k steps per
    epoch it is ExponentialLR stepped once per epoch, between epochs interpolated
    geometrically (:func:`step_decay` keeps α constant within each epoch instead).
    """
    lr = check_positive(lr, "lr")
    gamma = check_positive(gamma, "gamma")
    every = _steps(every, "every")
    peak = lr if gamma <= 1 else math.inf
    params = {"lr": lr, "gamma": gamma, "every": every}
    return Schedule(lambda t: lr * gamma ** (t / every), "exponential", params, peak)


def inverse_time_decay(lr: float, decay: float, every: int = 1) -> Schedule:
    r"""The lecture's 1/t decay: α = α₀ / (1 + decay · epoch_num).

    .. math:: \alpha_t = \frac{\alpha_0}{1 + \text{decay}\cdot\lfloor t / k \rfloor}

    k = ``every`` steps make one "epoch" (pass the number of mini-batches per epoch).
    PyTorch has no class for it: ``LambdaLR(lr_lambda=lambda e: 1 / (1 + decay * e))``.
    """
    lr = check_positive(lr, "lr")
    decay = check_positive(decay, "decay", allow_zero=True)
    every = _steps(every, "every")
    params = {"lr": lr, "decay": decay, "every": every}
    return Schedule(lambda t: lr / (1 + decay * (t // every)), "inverse_time", params, lr)


def cosine_decay(lr: float, decay_steps: int, final_lr: float = 0.0) -> Schedule:
    r"""Cosine decay from α₀ to α_min over T steps, then α_min.

    .. math::
        \alpha_t = \alpha_{\min} + \tfrac12(\alpha_0 - \alpha_{\min})
        \bigl(1 + \cos(\pi \min(t, T) / T)\bigr)

    ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=T, eta_min=α_min)`` for t ≤ T
    (PyTorch's then rises again, a cosine period of 2T; ours stays at α_min, as optax's).
    """
    lr = check_positive(lr, "lr")
    decay_steps = _steps(decay_steps, "decay_steps")
    final_lr = check_positive(final_lr, "final_lr", allow_zero=True)

    def fn(t: int) -> float:
        frac = min(t, decay_steps) / decay_steps
        return final_lr + 0.5 * (lr - final_lr) * (1 + math.cos(math.pi * frac))

    params = {"lr": lr, "decay_steps": decay_steps, "final_lr": final_lr}
    return Schedule(fn, "cosine", params, max(lr, final_lr))


def linear_warmup(
    lr: float, warmup_steps: int, start_factor: float = 0.0, after: Schedule | None = None
) -> Schedule:
    r"""Linear warm-up from s·α₀ to α₀ over W steps, then ``after`` (or α₀).

    .. math::
        \alpha_t = \alpha_0\,\bigl(s + (1 - s)\,t / W\bigr) \quad (t < W), \qquad
        \alpha_t = \text{after}(t - W) \quad (t \ge W)

    ``torch.optim.lr_scheduler.LinearLR(start_factor=s, total_iters=W)`` (PyTorch wants
    s > 0); followed by another schedule it is ``SequentialLR([LinearLR, ...],
    milestones=[W])``. ``after`` usually starts at α₀ (e.g. ``cosine_decay(α₀, T)``).
    """
    lr = check_positive(lr, "lr")
    warmup_steps = _steps(warmup_steps, "warmup_steps")
    start_factor = check_positive(start_factor, "start_factor", allow_zero=True)
    if start_factor > 1:
        raise ValueError(f"start_factor must lie in [0, 1], got {start_factor!r}")
    if after is not None and not isinstance(after, Schedule):
        raise TypeError(f"after must be a Schedule, got {after!r}")

    def fn(t: int) -> float:
        if t < warmup_steps:
            return lr * (start_factor + (1 - start_factor) * t / warmup_steps)
        return lr if after is None else after(t - warmup_steps)

    params: dict[str, Any] = {"lr": lr, "warmup_steps": warmup_steps}
    params["start_factor"] = start_factor
    params["after"] = None if after is None else to_config(after)
    peak = lr if after is None else max(lr, after.peak)
    return Schedule(fn, "warmup", params, peak)


def scaled(schedule: float | Schedule, factor: float) -> float | Schedule:
    """α_t · ``factor`` (what :class:`~mlplab.train.callbacks.ReduceLROnPlateau` applies)."""
    if not isinstance(schedule, Schedule):
        return float(schedule) * factor
    params = {**schedule.hyperparams, "scale": schedule.hyperparams.get("scale", 1.0) * factor}
    return Schedule(lambda t: schedule(t) * factor, schedule.name, params, schedule.peak * factor)


SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "constant": constant,
    "step": step_decay,
    "exponential": exponential_decay,
    "inverse_time": inverse_time_decay,
    "cosine": cosine_decay,
    "warmup": linear_warmup,
}
"""Schedule factories by name (the names :func:`to_config` writes)."""


def to_config(schedule: Schedule) -> dict[str, Any]:
    """The schedule as JSON data: ``{"schedule": name, **hyperparameters}``."""
    return {"schedule": schedule.name, **schedule.hyperparams}


def from_config(cfg: Any) -> Schedule:
    """The schedule :func:`to_config` describes, every value checked (ValueError, TypeError).

    Reads data from files: only the names in :data:`SCHEDULES` and numbers are accepted.
    """
    if not isinstance(cfg, dict) or cfg.get("schedule") not in SCHEDULES:
        known = sorted(SCHEDULES)
        raise ValueError(f"unknown learning-rate schedule {cfg!r}; choose one of {known}")
    args = {k: v for k, v in cfg.items() if k not in ("schedule", "scale")}
    if args.get("after") is not None:
        args["after"] = from_config(args["after"])
    elif "after" in args:
        del args["after"]
    for key, value in args.items():
        if key != "after" and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise TypeError(f"schedule parameter {key!r} must be a number, got {value!r}")
    try:
        schedule = SCHEDULES[cfg["schedule"]](**args)
    except TypeError as exc:
        raise TypeError(f"schedule {cfg['schedule']!r}: {exc}") from None
    if "scale" in cfg:
        schedule = scaled(schedule, check_positive(cfg["scale"], "scale"))  # type: ignore[assignment]
    return schedule


def learning_rate(lr: float | Schedule | dict[str, Any], name: str = "lr") -> float | Schedule:
    """A learning-rate argument checked: a number > 0, a Schedule, or a schedule's config."""
    if isinstance(lr, Schedule):
        return lr
    if isinstance(lr, dict):
        return from_config(lr)
    return check_positive(lr, name)


def value(lr: float | Schedule, count: int) -> float:
    """α for the step after ``count`` steps: ``lr(count)``, or ``lr`` itself if a number."""
    return lr(count) if isinstance(lr, Schedule) else lr


def parse(spec: str, lr: float, steps_per_epoch: int = 1, epochs: int | None = None) -> Schedule:
    """A schedule from a short text, counted in epochs (the command line's ``--lr-schedule``).

    ``constant``, ``step:S[:γ]`` (×γ every S epochs, γ = 0.1), ``exponential:γ`` (×γ per
    epoch), ``inverse_time:decay`` (α₀ / (1 + decay · epoch)), ``cosine[:E]`` (to 0 over
    E epochs, default ``epochs``), ``warmup:W[:then]`` (W epochs of linear warm-up from
    0, then the schedule ``then``, e.g. ``warmup:5:cosine``). ``steps_per_epoch`` turns
    epochs into optimizer steps.
    """
    head, _, rest = spec.strip().lower().partition(":")
    k = _steps(steps_per_epoch, "steps_per_epoch")
    try:
        nums = [float(x) for x in rest.split(":") if x] if head != "warmup" else []
        if head == "constant":
            return constant(lr)
        if head == "step":
            gamma = nums[1] if len(nums) > 1 else 0.1
            return step_decay(lr, int(nums[0]) * k, gamma)
        if head == "exponential":
            return exponential_decay(lr, nums[0], every=k)
        if head == "inverse_time":
            return inverse_time_decay(lr, nums[0], every=k)
        if head == "cosine":
            total = int(nums[0]) if nums else epochs
            if total is None:
                raise ValueError("cosine needs its number of epochs: cosine:E")
            return cosine_decay(lr, total * k)
        if head == "warmup":
            w, _, then = rest.partition(":")
            remaining = None if epochs is None else max(epochs - int(w), 1)
            after = parse(then, lr, k, remaining) if then else None
            return linear_warmup(lr, int(w) * k, after=after)
    except (IndexError, ValueError) as exc:
        raise ValueError(f"bad learning-rate schedule {spec!r}: {exc}") from None
    raise ValueError(
        f"unknown learning-rate schedule {spec!r}; use constant, step:S[:gamma], "
        "exponential:gamma, inverse_time:decay, cosine[:E] or warmup:W[:then]"
    )
