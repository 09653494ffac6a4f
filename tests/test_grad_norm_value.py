"""GradientNormLogger's per-step norm: the same float as ``np.linalg.norm``, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mlplab
from mlplab.train.callbacks import _norm_value

finite = st.floats(-(2.0**50), 2.0**50, allow_nan=False, allow_subnormal=True, width=32)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from([np.float32, np.float64]),
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=40),
        elements=finite,
    ),
    st.sampled_from(["plain", "T", "slice", "Tslice"]),
)
def test_same_bits_as_linalg_norm(a: np.ndarray, view: str) -> None:
    x = {"plain": a, "T": a.T, "slice": a[::2, 1:], "Tslice": a.T[:, ::3]}[view]
    got = _norm_value(x)
    want = float(np.linalg.norm(x))
    assert type(got) is float
    assert np.float64(got).tobytes() == np.float64(want).tobytes()


def test_float32_keeps_float32_square_root() -> None:
    x = np.array([[1.0, 2.0], [3.0, 5.0]], dtype=np.float32)
    assert _norm_value(x) == float(np.sqrt(np.float32(39.0)))
    assert _norm_value(x) != float(np.sqrt(39.0))  # the float64 root differs here


def test_logger_averages_linalg_norms_per_epoch() -> None:
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    seen: list[list[float]] = []

    class Spy(mlplab.Callback):
        def on_epoch_begin(self, epoch, logs):  # type: ignore[no-untyped-def]
            seen.append([0.0, 0.0])

        def on_batch_end(self, batch, logs):  # type: ignore[no-untyped-def]
            for l, g in enumerate(self.trainer.grads):
                seen[-1][l] += float(np.linalg.norm(g.W))

    net = mlplab.Network([3, 4, 1], seed=0)
    logger = mlplab.GradientNormLogger()
    hist = mlplab.fit(net, X, y, epochs=3, batch_size=10, callbacks=[logger, Spy()]).history
    for epoch, sums in enumerate(seen):
        for l, total in enumerate(sums):
            assert hist[f"grad_norm/W{l + 1}"][epoch] == total / 4
