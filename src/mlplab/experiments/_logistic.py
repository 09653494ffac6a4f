"""Experiment 1: logistic regression is a one-neuron network trained by batch GD."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlplab.core import optimizers
from mlplab.core.network import Network
from mlplab.experiments._common import (
    COLORS,
    Claim,
    ExperimentResult,
    Table,
    experiment,
    is_monotone,
    new_figure,
    subsample,
    timer,
)
from mlplab.train.api import fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FEATURES = ("worst radius", "worst texture", "worst smoothness", "worst concave points")
"""Four breast-cancer features on which the classes overlap (see the setup text)."""

ALPHAS = (0.1, 1.0, 100.0)
"""Learning rates drawn for comparison besides the main one: smaller, and too large."""


def _sklearn_unpenalized(
    X: np.ndarray, y: np.ndarray, tol: float = 1e-12, converges: bool = True
) -> Any:
    """scikit-learn's LogisticRegression without penalty (lbfgs, tolerance ``tol``).

    scikit-learn 1.8 deprecated ``penalty=None`` in favour of ``C=np.inf``; both mean
    the plain maximum-likelihood fit. Use whichever this version accepts silently.
    ``converges=False`` silences the ConvergenceWarning of a fit that has no optimum.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    kwargs = {"max_iter": 100_000 if converges else 1000, "tol": tol}
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        if not converges:
            warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            model = LogisticRegression(penalty=None, **kwargs)
            model.fit(X, y)
        except FutureWarning:
            model = LogisticRegression(C=np.inf, **kwargs).fit(X, y)
    return model


@experiment
def logistic(
    *,
    quick: bool = False,
    seed: int = 0,
    lr: float = 8.0,
    epochs: int | None = None,
    features: Sequence[str] = FEATURES,
) -> ExperimentResult:
    r"""Logistic regression as a [n0, 1] network vs scikit-learn's unpenalized fit.

    Trains ``Network([n0, 1], output="binary", dtype="float64")`` from W = 0 by batch
    gradient descent (W ← W − α ∂J/∂W on all 569 samples per step) on standardized
    breast-cancer features, then compares a = σ(wᵀx + b) with scikit-learn's
    ``LogisticRegression`` without penalty on the same standardized data.

    Parameters
    ----------
    quick : bool, default=False
        1000 epochs instead of 2000 and fewer comparison runs.
    seed : int, default=0
        Unused (the run is deterministic: W starts at 0, batch GD does not shuffle);
        accepted so every experiment takes the same arguments.
    lr : float, default=8.0
        α of the main run.
    epochs : int, optional
        Epochs of batch GD (default 2000; quick: 1000).
    features : sequence of str
        Breast-cancer feature names to use.

    Returns
    -------
    ExperimentResult
        ``numbers``: ``max_abs_diff`` (max |a − a_sklearn| over the samples),
        ``monotone`` (J never rose), ``cost``, ``cost_sklearn``, ``w``, ``w_sklearn``,
        ``all_features_separable`` ...
    """
    from mlplab.core.data import Standardizer

    del seed  # deterministic
    elapsed = timer()
    epochs = (1000 if quick else 2000) if epochs is None else int(epochs)
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = list(data.feature_names)
    unknown = [f for f in features if f not in names]
    if unknown:
        raise ValueError(f"unknown breast-cancer features {unknown}; choose from {names}")
    cols = [names.index(f) for f in features]
    X_all = data.data.astype(np.float64)
    y = data.target.astype(np.int64)
    X = Standardizer().fit_transform(X_all[:, cols])
    n0 = X.shape[1]

    def train(alpha: float, n_epochs: int) -> tuple[Network, list[float]]:
        net = Network([n0, 1], output="binary", init="zeros", dtype="float64")
        hist = fit(net, X, y, optimizer=optimizers.sgd(alpha), epochs=n_epochs, batch_size=None)
        # History keeps J before each epoch's step; append J after the last one.
        return net, [*hist.history["loss"], net.loss(X, y)]

    net, costs = train(lr, epochs)
    p_ours = net.predict_proba(X)[:, 0]
    sk = _sklearn_unpenalized(X, y)
    p_sk = sk.predict_proba(X)[:, 1]
    eps = np.finfo(np.float64).eps
    p_clip = np.clip(p_sk, eps, 1 - eps)
    cost_sk = float(-np.mean(y * np.log(p_clip) + (1 - y) * np.log(1 - p_clip)))
    max_diff = float(np.abs(p_ours - p_sk).max())
    monotone = is_monotone(costs)

    others = [a for a in ALPHAS if not quick or a in (1.0, 100.0)]
    curves = {}
    for a in others:
        _, c = train(a, min(epochs, 300 if a >= 100 else epochs))
        curves[a] = c

    # Why a subset of the features: all 30 standardized features separate the two
    # classes perfectly, and then the unpenalized cost has no minimum (‖w‖ → ∞).
    X_std_all = Standardizer().fit_transform(X_all)
    sk_all = _sklearn_unpenalized(X_std_all, y, tol=1e-4, converges=False)
    separable = bool(sk_all.score(X_std_all, y) == 1.0)
    w_norm_all = float(np.linalg.norm(sk_all.coef_))

    w = net.weights[0][0].tolist()
    dw = float(np.max(np.abs(net.weights[0][0] - sk.coef_[0])))
    b = float(net.biases[0][0])
    numbers = {
        "features": list(features),
        "lr": lr,
        "epochs": epochs,
        "max_abs_diff": max_diff,
        "mean_abs_diff": float(np.abs(p_ours - p_sk).mean()),
        "monotone": monotone,
        "cost_first": costs[0],
        "cost": costs[-1],
        "cost_sklearn": cost_sk,
        "w": w,
        "b": b,
        "w_sklearn": sk.coef_[0].tolist(),
        "max_abs_w_diff": dw,
        "b_sklearn": float(sk.intercept_[0]),
        "accuracy": float(net.score(X, y)),
        "accuracy_sklearn": float(sk.score(X, y)),
        "cost_curve": subsample(costs),
        "other_lr": {
            str(a): {"cost_curve": subsample(c), "monotone": is_monotone(c)}
            for a, c in curves.items()
        },
        "all_features_separable": separable,
        "all_features_sklearn_w_norm": w_norm_all,
    }
    rows = [
        ["ours (batch GD)", *[round(v, 4) for v in w], round(b, 4), costs[-1], numbers["accuracy"]],
        [
            "scikit-learn",
            *[round(v, 4) for v in sk.coef_[0]],
            round(float(sk.intercept_[0]), 4),
            cost_sk,
            numbers["accuracy_sklearn"],
        ],
    ]
    table = Table(
        ["model", *[f"w: {f}" for f in features], "b", "cost J", "accuracy"],
        rows,
    )
    mono_text = ", ".join(
        f"α = {a:g}: {'monotone' if is_monotone(c) else 'rises'}" for a, c in curves.items()
    )
    claims = [
        Claim(
            f"With α = {lr:g}, batch GD lowers the cost J at every epoch.",
            monotone,
            f"J went from {costs[0]:.4f} to {costs[-1]:.6f} in {epochs} epochs and "
            f"{'never rose' if monotone else 'rose at least once'}. Other α: {mono_text}.",
        ),
        Claim(
            "After convergence (float64) the predicted probabilities match scikit-learn's "
            "unpenalized LogisticRegression on the same standardized data to within 1e-3.",
            max_diff < 1e-3,
            f"max |a − a_sklearn| over all 569 samples = {max_diff:.2e}; "
            f"cost {costs[-1]:.8f} vs {cost_sk:.8f}.",
        ),
    ]
    return ExperimentResult(
        name="logistic",
        title="1. Logistic regression is a one-neuron network",
        claim=(
            "Logistic regression is the smallest neural network: one sigmoid unit, "
            "a = σ(wᵀx + b), trained on the cross-entropy cost J by gradient descent. "
            "For a small enough α the cost falls at every step, and the fit converges to "
            "the same maximum-likelihood solution that scikit-learn's solver finds."
        ),
        setup=(
            f"Breast-cancer data (569 samples), {n0} features ({', '.join(features)}), "
            "standardized over all samples. `Network([4, 1], output='binary', "
            f"init='zeros', dtype='float64')`, batch gradient descent with α = {lr:g} for "
            f"{epochs} epochs. Reference: scikit-learn `LogisticRegression` without penalty "
            "(`C=np.inf`; `penalty=None` before 1.8) on the same standardized matrix. "
            "Why 4 features and not 30: with all 30 the two classes are linearly "
            f"separable (scikit-learn reaches training accuracy 1.0 with ‖w‖ ≈ "
            f"{w_norm_all:.0f}), so the unpenalized cost has no minimum and neither solver "
            "converges; with these 4 the classes overlap and the optimum is unique."
        ),
        result=(
            f"The cost fell monotonically from {costs[0]:.4f} to {costs[-1]:.6f} "
            f"(scikit-learn: {cost_sk:.6f}); the largest difference between the two models' "
            f"probabilities is {max_diff:.1e}, and the weights differ by at most {dw:.0e}."
        ),
        claims=claims,
        numbers=numbers,
        tables=[table],
        arrays={"p_ours": p_ours, "p_sklearn": p_sk, "y": y, "costs": {lr: costs, **curves}},
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult) -> Figure:
    n = r.numbers
    fig = new_figure(12.5, 3.9)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    curves = r.arrays["costs"]
    for i, (a, c) in enumerate(sorted(curves.items())):
        main = a == n["lr"]
        epochs = np.arange(len(c))
        ax1.plot(
            epochs + 1,
            c,
            color=COLORS[i],
            lw=2.2 if main else 1.4,
            label=f"α = {a:g}"
            + (" (main run)" if main else "")
            + ("" if n["other_lr"].get(str(a), {}).get("monotone", True) else " (J rises)"),
        )
    ax1.axhline(n["cost_sklearn"], color="k", ls="--", lw=1, label="scikit-learn optimum")
    ax1.set_xscale("log")
    ax1.set_xlabel("epoch (log scale)")
    ax1.set_ylabel("cost J")
    ax1.set_title("Cost per epoch of batch GD")
    ax1.legend()

    gap = np.asarray(curves[n["lr"]]) - n["cost_sklearn"]
    ax2.semilogy(np.arange(1, len(gap) + 1), np.maximum(np.abs(gap), 1e-16), color=COLORS[0])
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("|J − J_sklearn| (log scale)")
    ax2.set_title(f"Distance to scikit-learn's cost (α = {n['lr']:g})")

    p, q, y = r.arrays["p_sklearn"], r.arrays["p_ours"], r.arrays["y"]
    ax3.plot([0, 1], [0, 1], color="0.6", lw=1, zorder=1)
    ax3.scatter(p[y == 0], q[y == 0], s=10, c=COLORS[1], label="malignant (y = 0)", zorder=2)
    ax3.scatter(p[y == 1], q[y == 1], s=10, c=COLORS[0], label="benign (y = 1)", zorder=2)
    ax3.set_xlabel("scikit-learn P(y = 1)")
    ax3.set_ylabel("mlplab P(y = 1)")
    ax3.set_title(f"Same probabilities: max |Δ| = {n['max_abs_diff']:.1e}")
    ax3.legend(loc="upper left")
    return fig
