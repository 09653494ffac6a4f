"""Schedules, AdamW and clipping: by hand, against PyTorch, on the fast path."""

import math
import warnings

import numpy as np
import pytest

from mlplab.core import optimizers as O
from mlplab.core import schedules as S
from mlplab.fast.step import CheckedStep

torch = pytest.importorskip("torch")

N = 60


def _torch_sequence(make_scheduler, n=N, lr=0.1):
    """α after 0, 1, ..., n−1 calls of scheduler.step() (torch steps once per epoch)."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_scheduler(opt)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            out.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
    return np.array(out)


LRS = torch.optim.lr_scheduler

CASES = [
    (S.step_decay(0.1, step_size=7, gamma=0.5), lambda o: LRS.StepLR(o, 7, gamma=0.5)),
    (S.exponential_decay(0.1, gamma=0.93), lambda o: LRS.ExponentialLR(o, 0.93)),
    (
        S.inverse_time_decay(0.1, decay=0.3),
        lambda o: LRS.LambdaLR(o, lambda e: 1 / (1 + 0.3 * e)),
    ),
    (
        S.cosine_decay(0.1, decay_steps=N - 1, final_lr=0.01),
        lambda o: LRS.CosineAnnealingLR(o, N - 1, 0.01),
    ),
    (
        S.linear_warmup(0.1, warmup_steps=10, start_factor=0.2),
        lambda o: LRS.LinearLR(o, 0.2, total_iters=10),
    ),
    (
        S.linear_warmup(0.1, 10, start_factor=0.25, after=S.cosine_decay(0.1, N - 11)),
        lambda o: LRS.SequentialLR(
            o, [LRS.LinearLR(o, 0.25, total_iters=10), LRS.CosineAnnealingLR(o, N - 11)], [10]
        ),
    ),
    (S.constant(0.1), lambda o: LRS.ConstantLR(o, factor=1.0)),
]


@pytest.mark.parametrize(("schedule", "make"), CASES, ids=[c[0].name for c in CASES])
def test_schedule_equals_torch_lr_scheduler(schedule, make):
    ours = np.array([schedule(t) for t in range(N)])
    np.testing.assert_allclose(ours, _torch_sequence(make), rtol=1e-12, atol=1e-15)


def test_every_counts_steps_per_epoch():
    k = 5  # mini-batches per epoch: the lecture's epoch_num is ⌊t / k⌋
    s = S.inverse_time_decay(1.0, decay=1.0, every=k)
    assert [s(t) for t in (0, 4, 5, 9, 10)] == [1.0, 1.0, 0.5, 0.5, 1 / 3]
    e = S.exponential_decay(1.0, 0.5, every=k)
    assert e(10) == pytest.approx(0.25) and e(5) == pytest.approx(0.5)


def test_schedules_round_trip_through_json():
    for schedule, _ in CASES:
        back = S.from_config(S.to_config(schedule))
        assert [back(t) for t in range(N)] == [schedule(t) for t in range(N)]
    half = S.scaled(S.cosine_decay(0.1, 10), 0.5)
    back = S.from_config(S.to_config(half))
    assert [back(t) for t in range(12)] == pytest.approx([half(t) for t in range(12)])
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        S.from_config({"schedule": "os.system"})
    with pytest.raises(TypeError, match="must be a number"):
        S.from_config({"schedule": "step", "lr": 0.1, "step_size": "3"})


def test_parse_counts_epochs():
    s = S.parse("step:2:0.5", 0.1, steps_per_epoch=3)
    assert [s(t) for t in (0, 5, 6, 12)] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    c = S.parse("warmup:1:cosine", 1.0, steps_per_epoch=4, epochs=5)
    assert c(0) == 0.0 and c(2) == 0.5 and c(4) == 1.0 and c(4 + 16) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        S.parse("sometimes", 0.1)


def _flat_problem(rng, n=37):
    theta = rng.normal(size=n)
    grads = [rng.normal(size=n) for _ in range(25)]
    return theta, grads


def _run_ours(opt, theta, grads):
    state = opt.init(theta)
    for g in grads:
        u, state = opt.update(g, state, theta)
        theta = O.apply_updates(theta, u)
    return theta


def _run_torch(theta, grads, make_opt, make_sched=None, clip=None):
    p = torch.nn.Parameter(torch.tensor(theta, dtype=torch.float64))
    opt = make_opt([p])
    sched = make_sched(opt) if make_sched else None
    for g in grads:
        opt.zero_grad()
        p.grad = torch.tensor(g, dtype=torch.float64)
        if clip is not None:
            torch.nn.utils.clip_grad_norm_([p], clip)
        opt.step()
        if sched is not None:
            sched.step()
    return p.detach().numpy()


def test_adamw_equals_torch_step_for_step(rng):
    theta, grads = _flat_problem(rng)
    p = torch.nn.Parameter(torch.tensor(theta, dtype=torch.float64))
    topt = torch.optim.AdamW([p], lr=0.01, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.3)
    opt = O.adamw(0.01, 0.8, 0.99, 1e-7, weight_decay=0.3)
    ours, state = theta, opt.init(theta)
    for g in grads:  # step for step
        topt.zero_grad()
        p.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
        u, state = opt.update(g, state, ours)
        ours = O.apply_updates(ours, u)
        np.testing.assert_allclose(ours, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_adamw_with_a_schedule_equals_torch(rng):
    theta, grads = _flat_problem(rng)
    ours = _run_ours(O.adamw(S.cosine_decay(0.05, len(grads)), weight_decay=0.1), theta, grads)
    theirs = _run_torch(
        theta,
        grads,
        lambda ps: torch.optim.AdamW(ps, lr=0.05, weight_decay=0.1),
        lambda o: LRS.CosineAnnealingLR(o, len(grads)),
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_adamw_without_decay_is_adam_and_decay_is_not_l2(rng):
    theta, grads = _flat_problem(rng)
    np.testing.assert_array_equal(
        _run_ours(O.adamw(0.01, weight_decay=0.0), theta, grads),
        _run_ours(O.adam(0.01), theta, grads),
    )
    # AdamW shrinks each weight by (1 − αλ) beside Adam's step: with a zero gradient
    # only the decay acts (Adam + L2 would take a full-size step of α towards 0).
    opt = O.adamw(0.1, weight_decay=0.5)
    u, _ = opt.update(np.zeros(3), opt.init(np.ones(3)), np.array([1.0, -2.0, 4.0]))
    np.testing.assert_allclose(u, -0.1 * 0.5 * np.array([1.0, -2.0, 4.0]))


@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_by_global_norm_equals_torch(rng, max_norm):
    theta, grads = _flat_problem(rng)
    grads = [3 * g for g in grads]
    ours = _run_ours(O.clip_by_global_norm(O.sgd(0.1), max_norm), theta, grads)
    theirs = _run_torch(theta, grads, lambda ps: torch.optim.SGD(ps, lr=0.1), clip=max_norm)
    # PyTorch scales by c/(‖g‖ + 1e-6), optax and we by c/‖g‖: equal to ~1e-6/‖g‖.
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9)


def test_clip_wraps_any_optimizer_over_a_tree(rng):
    from mlplab._typing import DenseParams

    params = [DenseParams(rng.normal(size=(2, 3)), rng.normal(size=2))]
    grads = [DenseParams(np.full((2, 3), 4.0), np.full(2, 4.0))]  # ‖g‖ = 4√8
    opt = O.clip_by_global_norm(O.momentum(1.0, beta=0.0), max_norm=1.0)
    u, state = opt.update(grads, opt.init(params), params)
    assert type(state).__name__ == "MomentumState"  # the inner optimizer's state
    assert O.global_norm(u) == pytest.approx(1.0)
    assert opt.hyperparams == {
        "max_norm": 1.0,
        "inner": {"name": "momentum", "hyperparams": {"lr": 1.0, "beta": 0.0}},
    }
    again = O.get(opt.name, **opt.hyperparams)
    u2, _ = again.update(grads, again.init(params), params)
    np.testing.assert_array_equal(u2[0].W, u[0].W)


def test_scheduled_optimizers_round_trip_by_name():
    opt = O.momentum(S.step_decay(0.1, 3), beta=0.5)
    assert opt.hyperparams["lr"] == {"schedule": "step", "lr": 0.1, "step_size": 3, "gamma": 0.1}
    again = O.get("momentum", **opt.hyperparams)
    theta = np.ones(4)
    a = _run_ours(opt, theta, [np.ones(4)] * 7)
    np.testing.assert_array_equal(a, _run_ours(again, theta, [np.ones(4)] * 7))


def test_scale_learning_rate_and_current_learning_rate():
    opt = O.adam(S.exponential_decay(0.1, 0.5))
    half = O.scale_learning_rate(opt, 0.5)
    state = opt.init(np.zeros(2))._replace(count=2)
    assert O.current_learning_rate(opt, state) == pytest.approx(0.025)
    assert O.current_learning_rate(half, state) == pytest.approx(0.0125)
    clipped = O.scale_learning_rate(O.clip_by_global_norm(O.sgd(0.2), 1.0), 0.5)
    assert O.current_learning_rate(clipped, state) == pytest.approx(0.1)
    custom = O.Optimizer(lambda p: O.EmptyState(0), lambda g, s, p: (-g, s))
    u, _ = O.scale_learning_rate(custom, 0.25).update(np.ones(2), O.EmptyState(0), None)
    np.testing.assert_array_equal(u, [-0.25, -0.25])


@pytest.mark.parametrize("make", [O.sgd, O.momentum, O.nesterov, O.rmsprop, O.adam])
@pytest.mark.parametrize("n", [50, 40_000])  # ufunc kernels, and BLAS / in place
def test_fast_step_runs_a_schedule_like_the_pure_update(rng, make, n):
    schedule = S.linear_warmup(0.01, 3, after=S.cosine_decay(0.01, 6))
    opt = make(schedule)
    theta = rng.normal(size=n)
    pure, state_p = theta.copy(), opt.init(theta)
    fast, state_f = theta.copy(), opt.init(theta)
    step = CheckedStep(opt)
    spare = [np.empty_like(theta)]
    for _ in range(10):
        g = rng.normal(size=n)
        u, state_p = opt.update(g, state_p, pure)
        pure = pure + u
        state_f, new, _ = step.step(1.0, g, state_f, fast, lambda: spare[0])
        if new is not fast:
            spare[0], fast = fast, new
    np.testing.assert_allclose(fast, pure, rtol=1e-13, atol=1e-15)
    assert state_f.count == 10


def test_bad_learning_rates_are_named():
    with pytest.raises(ValueError, match="lr must be > 0"):
        O.sgd(-1.0)
    with pytest.raises(TypeError, match="Schedule"):
        S.linear_warmup(0.1, 3, after=0.5)
    assert math.isinf(S.exponential_decay(0.1, 1.5).peak)
