"""Exact tests of ``core/optimizers.py`` that mutation testing asked for (issue 21).

Two steps of every optimizer on a small tree of arrays, computed here from the equations
in the docstrings with numbers chosen so that each term matters; the defaults; the
wrappers' paths.
"""

import math

import numpy as np
import pytest

from mlplab.core import optimizers as O
from mlplab.core import schedules as S

P = {"W": np.array([[1.0, -2.0]]), "b": np.array([0.5])}
G1 = {"W": np.array([[0.3, -0.6]]), "b": np.array([2.0])}
G2 = {"W": np.array([[-0.1, 0.4]]), "b": np.array([1.0])}


def _two_steps(opt):
    state = opt.init(P)
    u1, state = opt.update(G1, state, P)
    P1 = O.apply_updates(P, u1)
    u2, state = opt.update(G2, state, P1)
    return u1, u2, state


def _close(a, b):
    for key in ("W", "b"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-13, atol=0)


def _map(f, *trees):
    return {k: f(*(t[k] for t in trees)) for k in ("W", "b")}


def test_defaults_are_the_documented_ones():
    assert O.sgd().hyperparams == {"lr": 0.01}
    assert O.momentum().hyperparams == {"lr": 0.01, "beta": 0.9}
    assert O.nesterov().hyperparams == {"lr": 0.01, "beta": 0.9}
    assert O.rmsprop().hyperparams == {"lr": 0.001, "rho": 0.9, "eps": 1e-8}
    assert O.adam().hyperparams == {"lr": 0.001, "b1": 0.9, "b2": 0.999, "eps": 1e-8}
    assert O.adamw().hyperparams == {
        "lr": 0.001, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.01
    }  # fmt: skip
    names = [O.get(n).name for n in ("sgd", "gd", "momentum", "nesterov", "rmsprop", "adam")]
    assert names == ["sgd", "sgd", "momentum", "nesterov", "rmsprop", "adam"]
    assert O.get(" AdamW ").name == "adamw"


def test_sgd_and_momentum_two_steps_exact():
    u1, u2, state = _two_steps(O.sgd(0.5))
    _close(u1, _map(lambda g: -0.5 * g, G1))
    _close(u2, _map(lambda g: -0.5 * g, G2))
    assert state.count == 2
    u1, u2, state = _two_steps(O.momentum(0.5, beta=0.8))
    v1 = _map(lambda g: 0.2 * g, G1)
    v2 = _map(lambda v, g: 0.8 * v + 0.2 * g, v1, G2)
    _close(u1, _map(lambda v: -0.5 * v, v1))
    _close(u2, _map(lambda v: -0.5 * v, v2))
    _close(state.v, v2)
    assert state.count == 2


def test_nesterov_two_steps_exact():
    u1, u2, state = _two_steps(O.nesterov(0.5, beta=0.8))
    v1 = _map(lambda g: 0.2 * g, G1)
    v2 = _map(lambda v, g: 0.8 * v + 0.2 * g, v1, G2)
    _close(u1, _map(lambda v, g: -0.5 * (0.8 * v + 0.2 * g), v1, G1))
    _close(u2, _map(lambda v, g: -0.5 * (0.8 * v + 0.2 * g), v2, G2))
    _close(state.v, v2)
    assert state.count == 2


def test_rmsprop_two_steps_exact():
    eps = 0.01  # large enough to matter
    u1, u2, state = _two_steps(O.rmsprop(0.5, rho=0.7, eps=eps))
    s1 = _map(lambda g: 0.3 * g * g, G1)
    s2 = _map(lambda s, g: 0.7 * s + 0.3 * g * g, s1, G2)
    _close(u1, _map(lambda g, s: -0.5 * g / (np.sqrt(s) + eps), G1, s1))
    _close(u2, _map(lambda g, s: -0.5 * g / (np.sqrt(s) + eps), G2, s2))
    _close(state.s, s2)
    assert state.count == 2


def _adam_steps(b1, b2, eps, lr, decay=0.0):
    v = _map(lambda g: (1 - b1) * g, G1)
    s = _map(lambda g: (1 - b2) * g * g, G1)
    c1, c2 = 1 - b1, 1 - b2
    u1 = _map(lambda v, s, p: -lr * (v / c1) / (np.sqrt(s / c2) + eps) - lr * decay * p, v, s, P)
    P1 = O.apply_updates(P, u1)
    v = _map(lambda v, g: b1 * v + (1 - b1) * g, v, G2)
    s = _map(lambda s, g: b2 * s + (1 - b2) * g * g, s, G2)
    c1, c2 = 1 - b1**2, 1 - b2**2
    u2 = _map(lambda v, s, p: -lr * (v / c1) / (np.sqrt(s / c2) + eps) - lr * decay * p, v, s, P1)
    return u1, u2, v, s


def test_adam_and_adamw_two_steps_exact():
    u1, u2, state = _two_steps(O.adam(0.5, b1=0.6, b2=0.7, eps=0.01))
    w1, w2, v, s = _adam_steps(0.6, 0.7, 0.01, 0.5)
    _close(u1, w1)
    _close(u2, w2)
    _close(state.v, v)
    _close(state.s, s)
    assert state.count == 2
    u1, u2, state = _two_steps(O.adamw(0.5, b1=0.6, b2=0.7, eps=0.01, weight_decay=0.3))
    w1, w2, v, s = _adam_steps(0.6, 0.7, 0.01, 0.5, decay=0.3)
    _close(u1, w1)
    _close(u2, w2)
    assert state.count == 2
    with pytest.raises(ValueError, match=r"^adamw's update needs the parameters \(its decay"):
        O.adamw().update(G1, O.adamw().init(P))


def test_schedules_use_the_count_before_the_step():
    opt = O.sgd(S.step_decay(1.0, 1, 0.5))
    assert opt.hyperparams == {"lr": S.to_config(S.step_decay(1.0, 1, 0.5))}
    u1, u2, _ = _two_steps(opt)
    _close(u1, _map(lambda g: -1.0 * g, G1))
    _close(u2, _map(lambda g: -0.5 * g, G2))
    u1, u2, _ = _two_steps(O.adamw(S.step_decay(1.0, 1, 0.5), weight_decay=0.3))
    w1, w2, _, _ = _adam_steps(0.9, 0.999, 1e-8, 1.0, decay=0.3)
    _close(u1, w1)
    assert O.current_learning_rate(O.adam(S.step_decay(1.0, 1, 0.5)), O.AdamState(2, 0, 0)) == 0.25


def test_global_norm_and_clipping_exact():
    assert O.global_norm(G1) == pytest.approx(math.sqrt(0.09 + 0.36 + 4.0), rel=1e-15)
    norm = O.global_norm(G1)
    clipped = O.clip_by_global_norm(O.sgd(1.0), max_norm=1.0)
    u, _ = clipped.update(G1, clipped.init(P), P)
    _close(u, _map(lambda g: -g / norm, G1))
    u, _ = O.clip_by_global_norm(O.sgd(1.0), max_norm=10.0).update(G1, O.EmptyState(0), P)
    _close(u, _map(lambda g: -g, G1))  # below the bound: unchanged
    assert clipped.name == "clip_by_global_norm"
    assert clipped.hyperparams == {
        "max_norm": 1.0,
        "inner": {"name": "sgd", "hyperparams": {"lr": 1.0}},
    }
    again = O.clip_by_global_norm({"name": "momentum", "hyperparams": {"lr": 0.5}}, 2.0)
    assert again.hyperparams["inner"] == {
        "name": "momentum",
        "hyperparams": {"lr": 0.5, "beta": 0.9},
    }
    assert O.get("clip_by_global_norm", inner=O.sgd(), max_norm=1.0).hyperparams["max_norm"] == 1.0
    with pytest.raises(TypeError, match="^inner must be an Optimizer, got 3$"):
        O.clip_by_global_norm(3, 1.0)
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        O.clip_by_global_norm(O.sgd(), 0.0)


def test_scale_learning_rate_every_path():
    opt = O.momentum(0.5, beta=0.8)
    assert O.scale_learning_rate(opt, 1) is opt
    half = O.scale_learning_rate(opt, 0.5)
    assert (
        half.update.keywords == {"lr": 0.25, "beta": 0.8} and half.update.func is O.momentum_update
    )
    clipped = O.scale_learning_rate(O.clip_by_global_norm(O.sgd(1.0), 10.0), 0.5)
    assert O.current_learning_rate(clipped, O.EmptyState(0)) == 0.5
    u, _ = clipped.update(G1, O.EmptyState(0), P)
    _close(u, _map(lambda g: -0.5 * g, G1))

    def update(grads, state, params=None):
        return _map(lambda g: -2.0 * g, grads), state

    mine = O.Optimizer(O.sgd_init, update, "mine", {})
    u, state = O.scale_learning_rate(mine, 0.25).update(G1, O.EmptyState(3), P)
    _close(u, _map(lambda g: -0.5 * g, G1))
    assert state == O.EmptyState(3)
    assert O.current_learning_rate(mine, O.EmptyState(0)) is None
    assert O.current_learning_rate(O.sgd(0.5), object()) == 0.5  # no count: step 0


def test_get_messages_name_the_problem():
    adam = O.adam()
    assert O.get(adam) is adam
    with pytest.raises(TypeError, match="^optimizer must be a name or an Optimizer, got 3$"):
        O.get(3)
    with pytest.raises(ValueError, match=r"^unknown optimizer 'lbfgs'; choose one of \['adam'"):
        O.get("lbfgs")
    with pytest.raises(TypeError, match="^optimizer 'sgd': "):
        O.get("sgd", beta=0.9)


def test_zeros_like_state_and_apply_updates_keep_inputs():
    state = O.adam().init(P)
    assert state.count == 0 and state.v["W"].shape == (1, 2) and not state.v["W"].any()
    assert not state.s["b"].any() and state.s["b"].dtype == P["b"].dtype
    new = O.apply_updates(P, G1)
    _close(new, _map(lambda p, g: p + g, P, G1))
    assert P["W"].tolist() == [[1.0, -2.0]]


@pytest.mark.parametrize(
    ("make", "kwargs", "name"),
    [
        (O.nesterov, {"beta": 1.0}, "beta"),
        (O.rmsprop, {"rho": 1.0}, "rho"),
        (O.rmsprop, {"eps": 0.0}, "eps"),
        (O.adam, {"b1": 1.0}, "b1"),
        (O.adam, {"b2": -0.1}, "b2"),
        (O.adam, {"eps": 0.0}, "eps"),
        (O.adamw, {"b1": 1.0}, "b1"),
        (O.adamw, {"b2": 1.0}, "b2"),
        (O.adamw, {"eps": 0.0}, "eps"),
        (O.adamw, {"weight_decay": -0.1}, "weight_decay"),
    ],
)
def test_every_bad_hyperparameter_is_named(make, kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} must "):
        make(**kwargs)


def test_scheduled_updates_and_params_reach_every_path():
    sched = S.step_decay(1.0, 1, 0.5)
    for make in (O.momentum, O.nesterov, O.rmsprop):
        u1, u2, _ = _two_steps(make(sched))
        ref1, ref2, _ = _two_steps(make(1.0))
        _close(u1, ref1)
        assert not np.allclose(u2["W"], ref2["W"])  # the second step at α = 0.5
    assert O.adamw(weight_decay=0.0).hyperparams["weight_decay"] == 0.0
    with pytest.raises(ValueError, match=r"needs the parameters \(its decay is λW\)$"):
        O.adamw().update(G1, O.adamw().init(P))
    clipped = O.clip_by_global_norm(O.adamw(0.5, weight_decay=0.3), 100.0)  # params reach adamw
    u, _ = clipped.update(G1, clipped.init(P), P)
    w, _, _, _ = _adam_steps(0.9, 0.999, 1e-8, 0.5, decay=0.3)
    _close(u, w)

    def update(grads, state, params):
        return _map(lambda g, p: -g * p, grads, params), state  # uses params

    mine = O.scale_learning_rate(O.Optimizer(O.sgd_init, update, "mine", {}), 0.5)
    u, _ = mine.update(G1, O.EmptyState(0), P)
    _close(u, _map(lambda g, p: -0.5 * g * p, G1, P))
    wrapped = O.clip_by_global_norm(O.sgd(sched), 10.0)
    assert O.current_learning_rate(wrapped, O.EmptyState(2)) == 0.25
    assert O.current_learning_rate(O.sgd(sched), object()) == 1.0  # no count: step 0


def test_optimizer_state_in_another_array_library():
    xps = pytest.importorskip("array_api_strict")
    pytest.importorskip("array_api_compat")
    Ps = {k: xps.asarray(v) for k, v in P.items()}
    Gs = {k: xps.asarray(v) for k, v in G1.items()}
    opt = O.adam(0.5)
    state = opt.init(Ps)
    assert type(state.v["W"]) is type(Ps["W"])
    u, state = opt.update(Gs, state, Ps)
    want, _ = opt.update(G1, opt.init(P), P)
    for key in ("W", "b"):
        assert type(u[key]) is type(Ps["W"])
        np.testing.assert_allclose(np.asarray(u[key]), want[key], rtol=1e-14)
