"""The Python and call overhead of the estimators' step (issue 15): one step through the
trainer's call chain against the same NumPy calls written inline in one function.

Digits, ``MLPClassifier(hidden_layer_sizes=(100,), solver="adam", max_iter=12)`` (108
steps: the estimators' step from 100 on, ``_fitting._small_products``): the fit runs with
``Trainer._step`` wrapped to keep its trainer, run and first full batch; then, on one BLAS
thread (as the estimators' fit), it alternates ``--reps`` repeats of

* **chain**: ``trainer._step(run, batch, 0, 1)``, the estimators' step as the fit runs it
  (gather, forward, head, accuracy count, backward, L2, Adam, check, θ swap);
* **inline**: the same NumPy calls on the same buffers, in one function, with every view
  and constant made once beforehand (the fused step's floor);
* **fused step** (where the tree has one): the estimators' step as their fits run it:
  since u15 ``FitStep.step`` (:mod:`mlplab.train.fitstep`, the one fused step, on their
  ``blocks`` workspace), from m15 to u15 ``trainer.fused_step(run, batch, 0, 1)``
  (``mlplab.sklearn._fused``, removed);

and the inline step with one region (the gradient, the L2 term, the optimizer's checked
step) through the trainer's own call; each timed over ``--steps`` steps; µs per step,
median and min of the repeats. The difference to inline is the chain's Python overhead.
(All step the same Adam state, so they run the same numbers; only time is compared.)

    python benchmarks/sklearn_dropin_overhead.py [float32|float64] [--reps 15 --steps 200]
"""

import argparse
import statistics
import time
import warnings
from typing import Any

import numpy as np
from _adam_inline import adam_into
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from mlplab import MLPClassifier
from mlplab.fast.workspace import with_bias_row
from mlplab.train.loop import Trainer
from mlplab.train.step import add_l2


def capture(dtype: str) -> tuple[Any, Any, Any]:
    """(trainer, run, batch) of a short digits fit."""
    seen: list[Any] = []
    original = Trainer._step

    def spy(self: Any, run: Any, batch: Any, b: int, n: int) -> Any:
        if not seen and batch.rows is not None and batch.rows.shape[0] == 200:
            seen.append((self, run, batch))
        return original(self, run, batch, b, n)

    Trainer._step = spy  # type: ignore[method-assign]
    try:
        X, y = load_digits(return_X_y=True)
        extra = {} if dtype == "float64" else {"dtype": dtype}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MLPClassifier((100,), solver="adam", max_iter=12, tol=0.0, random_state=0, **extra).fit(
                X, y
            )
    finally:
        Trainer._step = original  # type: ignore[method-assign]
    return seen[0]


def inline_step(trainer: Any, run: Any, batch: Any, chain: frozenset[str] = frozenset()) -> Any:
    """A closure running one step's NumPy calls, every view made here once; the regions
    named in ``chain`` (``gradient``, ``l2``, ``apply``) through the trainer's own calls."""
    net, ws, stepper = trainer.net, trainer.gradient.workspaces[200], run.stepper
    rows, labels = batch.rows, run.labels
    Xo, Y_T = ws._X_ones[1], ws._Y_columns[1]
    Xb, YT, ZT, dZT, T1, T2 = ws.Xb, ws.YT, ws.ZT, ws.dZT, *ws.TT
    Z0, M0 = ws.Z[0], ws.A[0]
    dA0, tmp0 = ws.dZ[0], ws._dW_tmp[0]
    halves = ws._fwd[0]
    g = trainer._grad_flat
    (gW0, gb0), (gW1, gb1) = trainer.grads
    gWb0 = with_bias_row(gW0, gb0)
    cs = stepper.stepper
    lam, n = net.l2, 200.0
    thetas = {}
    for th, ps in (stepper.thetas.home, stepper.thetas.other):
        (W0, b0), (W1, b1) = ps
        thetas[id(th)] = (th, with_bias_row(W0, b0), W1, b1, W0.T.reshape(-1), W1.T.reshape(-1),
                          W0.T, W1.T)  # fmt: skip
    scratch = [np.empty_like(p.W.T) for p in net._params]
    l2_list = getattr(trainer, "_l2_dot", trainer._l2)  # the trainer's (before k15b: _l2)
    b1_, b2_, lr, eps = 0.9, 0.999, 0.001, 1e-8
    u, (t0,) = cs._tmp[-1], cs._tmp_fixed
    gW0T, gW1T = gW0.T, gW1.T
    inv = 1.0 / 200

    def step() -> None:
        th, Wb0, W1, b1, f0, f1, W0T, W1T = thetas[id(net._theta)]
        if "gradient" in chain:
            J = trainer.gradient(run.X, run.Y, labels, rows, None, batch)[0]
        else:
            Xo.take(rows, axis=0, out=Xb, mode="clip")
            Y_T.take(rows, axis=1, out=YT, mode="clip")
            lab = labels[rows]
            for r in halves:
                Xb[r].dot(Wb0, out=Z0[r])
            np.greater(Z0, 0, out=M0)
            np.multiply(Z0, M0, out=Z0)
            W1.dot(Z0.T, out=ZT)
            ZT.T.__iadd__(b1)
            np.subtract(ZT, ZT.max(axis=0), out=T1)
            np.exp(T1, out=dZT)
            s = dZT.sum(axis=0)
            np.subtract(T1, np.log(s), out=T1)
            np.multiply(YT, T1, out=T2)
            J = -float(T2.sum() / 200)
            np.divide(inv, s, out=s)
            np.multiply(dZT, s, out=dZT)
            np.multiply(YT, inv, out=T2)
            np.subtract(dZT, T2, out=dZT)
            _ = float(np.count_nonzero(ZT.T.argmax(axis=1) == lab))
            dZ = dZT.T
            Z0.T.dot(dZ, out=gW1T)  # dW[2] (one call: 200 × 100 × 10 is small)
            ws.ones.dot(dZ, out=gb1)
            dZ.dot(W1, out=dA0)  # 200 × 10 × 100: one call
            np.multiply(dA0, M0, out=dA0)
            h1, h2 = halves
            Xb[h1].T.dot(dA0[h1], out=gWb0)
            Xb[h2].T.dot(dA0[h2], out=tmp0)
            np.add(gWb0, tmp0, out=gWb0)
        if "l2" in chain:
            J = add_l2(net, trainer.grads, J, n, lam, l2_list, True)
        else:
            J += lam / (2 * n) * (float(f0.dot(f0)) + float(f1.dot(f1)))
            for Wt, gWt, buf in ((W0T, gW0T, scratch[0]), (W1T, gW1T, scratch[1])):
                np.multiply(Wt, lam / n, out=buf)
                np.add(gWt, buf, out=gWt)
        if "apply" in chain:
            new_state = stepper.apply(J, g, trainer.state.opt_state)
            if new_state is None:
                raise FloatingPointError
            trainer.state.opt_state = new_state
            trainer.state.step += 1
            return
        state = trainer.state.opt_state
        v, s2 = state[1:]
        first, second = cs._sets
        v_new, s_new = second if v is first[0] else first
        t = state.count + 1
        lr_t = lr * (1 - b2_**t) ** 0.5 / (1 - b1_**t)
        adam_into(g, v, s2, (v_new, s_new, u, t0), lr_t, b1_, b2_, eps)
        ug = float(u.dot(g))
        out = stepper.thetas.spare()
        np.add(th, u, out=out)
        if not (np.isfinite(J) and np.isfinite(ug)):
            raise FloatingPointError
        stepper.thetas.use(out)
        new = type(state)(t, v_new, s_new)
        cs._returned = trainer.state.opt_state = new
        trainer.state.step += 1

    return step


def _fitstep_for(trainer: Any, run: Any) -> Any:
    """The tree's ``FitStep`` for the estimators' fit, or None (before u15 it did not
    cover them; before m19f there was none)."""
    try:
        from mlplab.train import fitstep
    except ImportError:
        return None
    return fitstep.for_run(trainer, run)


def same_step(trainer: Any, run: Any, batch: Any, fused: Any) -> bool:
    """One chain step and one inline step from the same θ and Adam state: the same bits?"""
    net, st = trainer.net, trainer.state
    theta0, state0 = net._theta.copy(), [a.copy() for a in st.opt_state[1:]]
    count0 = st.opt_state.count
    trainer._step(run, batch, 0, 1)
    g_chain, theta_chain = trainer._grad_flat.copy(), net._theta.copy()
    net._theta[...] = theta0
    for a, a0 in zip(st.opt_state[1:], state0, strict=True):
        a[...] = a0
    st.opt_state = run.stepper.stepper._returned = type(st.opt_state)(count0, *st.opt_state[1:])
    fused()
    return bool((trainer._grad_flat == g_chain).all() and (net._theta == theta_chain).all())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dtype", nargs="?", default="float32")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    trainer, run, batch = capture(args.dtype)
    fused = inline_step(trainer, run, batch)
    runs: dict[str, Any] = {"chain": lambda: trainer._step(run, batch, 0, 1), "inline": fused}
    if getattr(trainer, "fused_step", None) is not None:  # m15 to u15: sklearn/_fused.py
        runs["fused step"] = lambda: trainer.fused_step(run, batch, 0, 1)
    elif (fs := _fitstep_for(trainer, run)) is not None:  # since u15: train/fitstep.py
        runs["fused step"] = lambda: fs.step(batch.rows, batch.size, 0, 1)
    for part in ("gradient", "l2", "apply"):
        runs[f"inline, {part} chained"] = inline_step(trainer, run, batch, frozenset({part}))
    T: dict[str, list[float]] = {k: [] for k in runs}
    with threadpool_limits(limits=1, user_api="blas"):
        print(
            f"{args.dtype}: the same gradient and θ bit for bit:",
            same_step(trainer, run, batch, fused),
        )
        for _ in range(args.reps):
            for k, f in runs.items():
                t = time.perf_counter()
                for _ in range(args.steps):
                    f()
                T[k].append((time.perf_counter() - t) / args.steps * 1e6)
    med = {k: statistics.median(v) for k, v in T.items()}
    for k, v in T.items():
        extra = "" if k == "inline" else f"; − inline: {med[k] - med['inline']:.1f} µs"
        print(f"{args.dtype} {k}: median {med[k]:.1f} µs, min {min(v):.1f} µs a step{extra}")


if __name__ == "__main__":
    main()
