"""Shared fixtures and hypothesis profiles."""

from __future__ import annotations

import contextlib
import os
import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def python_sigint_handler():
    """Ctrl-C needs Python's SIGINT handler. A shell that starts the tests in the background
    (``make test &``, ``nohup``) hands them SIGINT ignored, and Python then installs no
    handler; put it back for the test (the CLI processes it starts then get the default
    too)."""
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def counted_steps(monkeypatch):
    """``counted_steps(fused, cls, name)``: a context in which ``fitstep.ENABLED`` is
    ``fused`` and the steps are counted, yielding ``{"chain": n, "fused": m}``: the
    trainer's general chain (``Trainer._step``) and the fused step's method ``cls.name``
    (tests/test_fit_step.py, tests/test_sklearn_fused.py)."""
    from mlplab.train import fitstep
    from mlplab.train.loop import Trainer

    @contextlib.contextmanager
    def counting(fused, cls, name):
        counts = {"chain": 0, "fused": 0}
        chain, fused_call = Trainer._step, getattr(cls, name)

        def count_chain(self, *args):
            counts["chain"] += 1
            return chain(self, *args)

        def count_fused(self, *args):
            counts["fused"] += 1
            return fused_call(self, *args)

        with monkeypatch.context() as m:
            m.setattr(Trainer, "_step", count_chain)
            m.setattr(cls, name, count_fused)
            m.setattr(fitstep, "ENABLED", fused)
            yield counts

    return counting
