"""Exact tests of ``core/schedules.py`` that mutation testing asked for (issue 21).

Values at chosen steps (boundaries of every piece), the ``peak`` bound, the descriptions
written to files, and every error message of the parsers.
"""

import math

import pytest

from mlplab.core import schedules as S


def test_constant_and_step_decay_exact():
    c = S.constant(0.5)
    assert [c(t) for t in (0, 7)] == [0.5, 0.5]
    assert (c.name, c.hyperparams, c.peak, repr(c)) == (
        "constant",
        {"lr": 0.5},
        0.5,
        "constant(lr=0.5)",
    )
    s = S.step_decay(1.0, 3, 0.5)
    assert [s(t) for t in (0, 2, 3, 5, 6)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert s.name == "step" and s.hyperparams == {"lr": 1.0, "step_size": 3, "gamma": 0.5}
    assert s.peak == 1.0 and S.step_decay(1.0, 3).hyperparams["gamma"] == 0.1
    assert S.step_decay(2.0, 1, 1.0).peak == 2.0  # γ = 1: constant, bounded
    assert S.step_decay(2.0, 1, 1.5).peak == math.inf


def test_exponential_and_inverse_time_exact():
    e = S.exponential_decay(2.0, 0.25, every=2)
    assert [e(t) for t in (0, 1, 2, 4)] == [2.0, 2.0 * 0.25**0.5, 0.5, 0.125]
    assert e.name == "exponential" and e.hyperparams == {"lr": 2.0, "gamma": 0.25, "every": 2}
    assert e.peak == 2.0 and S.exponential_decay(2.0, 1.0).peak == 2.0
    assert S.exponential_decay(2.0, 1.01).peak == math.inf
    assert S.exponential_decay(1.0, 0.5)(3) == 0.125  # every = 1 by default
    i = S.inverse_time_decay(1.0, 0.5, every=2)
    assert [i(t) for t in (0, 1, 2, 3, 4)] == [1.0, 1.0, 1 / 1.5, 1 / 1.5, 0.5]
    assert i.name == "inverse_time" and i.hyperparams == {"lr": 1.0, "decay": 0.5, "every": 2}
    assert i.peak == 1.0
    assert S.inverse_time_decay(1.0, 0.0)(5) == 1.0  # decay 0 is allowed
    assert S.inverse_time_decay(1.0, 1.0)(1) == 0.5


def test_cosine_decay_exact():
    c = S.cosine_decay(1.0, 4, final_lr=0.2)
    assert c(0) == 1.0
    assert c(2) == pytest.approx(0.6, abs=1e-15)  # halfway: the mean of α₀ and α_min
    assert c(1) == pytest.approx(0.2 + 0.4 * (1 + math.cos(math.pi / 4)), abs=1e-15)
    assert c(4) == pytest.approx(0.2, abs=1e-15) and c(9) == c(4)  # then stays at α_min
    assert c.name == "cosine" and c.hyperparams == {"lr": 1.0, "decay_steps": 4, "final_lr": 0.2}
    assert c.peak == 1.0 and S.cosine_decay(0.1, 4, final_lr=0.3).peak == 0.3
    assert S.cosine_decay(1.0, 2)(2) == pytest.approx(0.0, abs=1e-16)


def test_linear_warmup_exact():
    w = S.linear_warmup(1.0, 4, start_factor=0.2)
    assert [w(t) for t in (0, 2, 4, 10)] == [0.2, 0.2 + 0.8 * 0.5, 1.0, 1.0]
    assert w(3) == pytest.approx(0.8, abs=1e-15)
    assert w.name == "warmup" and w.peak == 1.0
    assert w.hyperparams == {"lr": 1.0, "warmup_steps": 4, "start_factor": 0.2, "after": None}
    assert S.linear_warmup(1.0, 2)(1) == 0.5  # from 0 by default
    after = S.step_decay(3.0, 1, 0.5)
    w = S.linear_warmup(2.0, 2, after=after)
    assert [w(t) for t in (0, 1, 2, 3)] == [0.0, 1.0, 3.0, 1.5]
    assert w.peak == 3.0 and w.hyperparams["after"] == S.to_config(after)
    assert S.linear_warmup(1.0, 1, start_factor=1.0)(0) == 1.0
    with pytest.raises(ValueError, match=r"^start_factor must lie in \[0, 1\], got 1.5$"):
        S.linear_warmup(1.0, 2, start_factor=1.5)
    with pytest.raises(TypeError, match="^after must be a Schedule, got 0.1$"):
        S.linear_warmup(1.0, 2, after=0.1)


def test_scaled_exact():
    assert S.scaled(0.5, 0.1) == 0.05 and isinstance(S.scaled(1, 2.0), float)
    s = S.scaled(S.step_decay(1.0, 2, 0.5), 0.5)
    assert [s(t) for t in (0, 2)] == [0.5, 0.25]
    assert s.name == "step" and s.peak == 0.5 and s.hyperparams["scale"] == 0.5
    assert S.scaled(s, 0.5).hyperparams["scale"] == 0.25  # factors multiply
    assert S.from_config(S.to_config(S.scaled(s, 0.5)))(0) == 0.25


def test_from_config_checks_every_value():
    assert S.to_config(S.constant(0.5)) == {"schedule": "constant", "lr": 0.5}
    for bad in ({"schedule": "sine"}, {"lr": 1.0}, ["constant"]):
        with pytest.raises(ValueError, match="^unknown learning-rate schedule .*; choose one of"):
            S.from_config(bad)
    with pytest.raises(TypeError, match="^schedule parameter 'lr' must be a number, got '1'$"):
        S.from_config({"schedule": "constant", "lr": "1"})
    with pytest.raises(TypeError, match="^schedule parameter 'lr' must be a number, got True$"):
        S.from_config({"schedule": "constant", "lr": True})
    with pytest.raises(TypeError, match="^schedule 'constant': "):
        S.from_config({"schedule": "constant", "lr": 1.0, "gamma": 0.5})
    w = S.from_config({"schedule": "warmup", "lr": 1.0, "warmup_steps": 2, "after": None})
    assert w(5) == 1.0 and w.hyperparams["after"] is None
    with pytest.raises(ValueError, match="scale must be > 0"):
        S.from_config({"schedule": "constant", "lr": 1.0, "scale": 0.0})


def test_learning_rate_and_value():
    s = S.constant(0.5)
    assert S.learning_rate(s) is s
    assert S.learning_rate({"schedule": "constant", "lr": 0.25})(0) == 0.25
    assert S.learning_rate(2) == 2.0 and isinstance(S.learning_rate(2), float)
    with pytest.raises(ValueError, match="^alpha must be > 0, got 0$"):
        S.learning_rate(0, "alpha")
    with pytest.raises(ValueError, match="^lr must be > 0"):
        S.learning_rate(-1.0)
    assert S.value(0.3, 10) == 0.3 and S.value(S.step_decay(1.0, 1, 0.5), 2) == 0.25


def test_parse_every_form_exactly():
    assert S.parse(" Constant ", 0.5)(100) == 0.5
    s = S.parse("step:2", 1.0, steps_per_epoch=3)
    assert s.hyperparams == {"lr": 1.0, "step_size": 6, "gamma": 0.1}
    assert S.parse("step:2:0.5", 1.0).hyperparams["gamma"] == 0.5
    assert S.parse("exponential:0.5", 1.0, 4).hyperparams == {"lr": 1.0, "gamma": 0.5, "every": 4}
    assert S.parse("inverse_time:0.5", 1.0, 4).hyperparams["every"] == 4
    assert S.parse("cosine:3", 1.0, 2).hyperparams["decay_steps"] == 6
    assert S.parse("cosine", 1.0, 2, epochs=5).hyperparams["decay_steps"] == 10
    w = S.parse("warmup:2:cosine", 1.0, 3, epochs=10)
    assert w.hyperparams["warmup_steps"] == 6
    assert w.hyperparams["after"]["decay_steps"] == 24  # the 8 remaining epochs
    w = S.parse("warmup:3:cosine", 1.0, 1, epochs=3)
    assert w.hyperparams["after"]["decay_steps"] == 1  # at least one epoch left
    assert S.parse("warmup:2", 1.0).hyperparams["after"] is None
    with pytest.raises(ValueError, match="bad learning-rate schedule 'warmup:2:cosine'"):
        S.parse("warmup:2:cosine", 1.0)  # cosine then has no number of epochs
    with pytest.raises(
        ValueError,
        match=r"^bad learning-rate schedule 'cosine': cosine needs its number of epochs: cosine:E$",
    ):
        S.parse("cosine", 1.0)
    for bad in ("step", "exponential", "step:x", "exponential:0.9:y"):
        with pytest.raises(ValueError, match=f"^bad learning-rate schedule '{bad}': "):
            S.parse(bad, 1.0)
    with pytest.raises(ValueError, match=r"^unknown learning-rate schedule 'sine'; use constant"):
        S.parse("sine", 1.0)
    with pytest.raises(ValueError, match="steps_per_epoch must be > 0"):
        S.parse("constant", 1.0, 0)


@pytest.mark.parametrize(
    ("make", "kwargs", "name"),
    [
        (S.constant, {"lr": 0.0}, "lr"),
        (S.step_decay, {"lr": 0.0, "step_size": 1}, "lr"),
        (S.step_decay, {"lr": 1.0, "step_size": 0}, "step_size"),
        (S.step_decay, {"lr": 1.0, "step_size": 1, "gamma": 0.0}, "gamma"),
        (S.exponential_decay, {"lr": 0.0, "gamma": 0.5}, "lr"),
        (S.exponential_decay, {"lr": 1.0, "gamma": 0.0}, "gamma"),
        (S.exponential_decay, {"lr": 1.0, "gamma": 0.5, "every": 0}, "every"),
        (S.inverse_time_decay, {"lr": 0.0, "decay": 0.5}, "lr"),
        (S.inverse_time_decay, {"lr": 1.0, "decay": -0.5}, "decay"),
        (S.inverse_time_decay, {"lr": 1.0, "decay": 0.5, "every": 0}, "every"),
        (S.cosine_decay, {"lr": 0.0, "decay_steps": 2}, "lr"),
        (S.cosine_decay, {"lr": 1.0, "decay_steps": 0}, "decay_steps"),
        (S.cosine_decay, {"lr": 1.0, "decay_steps": 2, "final_lr": -0.1}, "final_lr"),
        (S.linear_warmup, {"lr": 0.0, "warmup_steps": 2}, "lr"),
        (S.linear_warmup, {"lr": 1.0, "warmup_steps": 0}, "warmup_steps"),
        (S.linear_warmup, {"lr": 1.0, "warmup_steps": 2, "start_factor": -0.1}, "start_factor"),
    ],
)
def test_every_bad_hyperparameter_is_named(make, kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} must be "):
        make(**kwargs)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: S.step_decay(1.0, 2.0), "step_size"),
        (lambda: S.exponential_decay(1.0, 0.5, every=1.0), "every"),
        (lambda: S.inverse_time_decay(1.0, 0.5, every=1.0), "every"),
        (lambda: S.cosine_decay(1.0, 2.0), "decay_steps"),
        (lambda: S.linear_warmup(1.0, 2.0), "warmup_steps"),
    ],
)
def test_step_counts_must_be_integers(make, name):
    with pytest.raises(
        TypeError,
        match=f"^{name} must be an integer, got 2.0$|^{name} must be an integer, got 1.0$",
    ):
        make()


def test_repr_config_keys_and_parse_defaults():
    assert repr(S.step_decay(1.0, 3, 0.5)) == "step(lr=1.0, step_size=3, gamma=0.5)"
    with pytest.raises(ValueError, match=r"choose one of \['constant', 'cosine', 'exponential'"):
        S.from_config({"schedule": "sine"})
    c = S.from_config({"schedule": "constant", "lr": 0.5, "after": None})  # after: None dropped
    assert c(0) == 0.5 and c.hyperparams == {"lr": 0.5}
    assert S.parse("step:2", 1.0).hyperparams["step_size"] == 2  # one step per epoch
    with pytest.raises(
        ValueError,
        match=r"use constant, step:S\[:gamma\], exponential:gamma, inverse_time:decay, "
        r"cosine\[:E\] or warmup:W\[:then\]$",
    ):
        S.parse("sine", 1.0)
