"""Experiment 2: backprop agrees with two-sided differences, for every activation × head."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlplab._typing import Array
from mlplab.core.diagnostics import gradcheck
from mlplab.core.network import Network
from mlplab.experiments._common import Claim, ExperimentResult, Table, experiment, new_figure, timer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
HEADS = {"binary": 1, "multiclass": 3, "regression": 2}
"""Each head and its number of outputs n[L] (regression: two outputs, summed loss)."""

THRESHOLD = 1e-7
"""‖g − ĝ‖ / (‖g‖ + ‖ĝ‖) below this (float64, ε = 1e-7) means backprop is right."""


def _targets(head: str, n_out: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    if head == "binary":
        return rng.integers(0, 2, size=n_samples)
    if head == "multiclass":
        return np.arange(n_samples) % n_out  # every class present
    return rng.normal(size=(n_samples, n_out))


@experiment
def backprop(
    *,
    quick: bool = False,
    seed: int = 0,
    hidden_sizes: tuple[int, ...] = (5, 4),
    n_samples: int = 12,
) -> ExperimentResult:
    r"""The gradient-check table: backprop vs two-sided differences.

    For every hidden activation × output head, a float64 network
    ``[4, *hidden_sizes, n[L]]`` with random weights on random data: backprop's
    gradient g = dJ/dθ against

    .. math::
        \hat g_i = \frac{J(\theta + \varepsilon e_i) - J(\theta - \varepsilon e_i)}
                        {2\varepsilon}

    for every weight and bias, reported as ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖). Two controls show the
    check can fail: a sigmoid whose derivative is wrongly taken as 1, and a head whose
    gradient forgets the 1/n factor.

    Parameters
    ----------
    quick : bool, default=False
        Same sizes (the check is cheap); accepted for a uniform interface.
    seed : int, default=0
        Seed of the weights and data.
    hidden_sizes : tuple of int, default=(5, 4)
    n_samples : int, default=12

    Returns
    -------
    ExperimentResult
        ``numbers["errors"][activation][head]`` and ``numbers["controls"]``.
    """
    from mlplab.core.activations import Activation
    from mlplab.core.activations import get as get_activation
    from mlplab.core.heads import Head
    from mlplab.core.heads import get as get_head

    elapsed = timer()
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 4))
    errors: dict[str, dict[str, float]] = {}
    n_params: dict[str, int] = {}
    rows = []
    for act in ACTIVATIONS:
        errors[act] = {}
        for head, n_out in HEADS.items():
            net = Network(
                [4, *hidden_sizes, n_out],
                hidden=act,
                output=head,
                init="xavier",
                seed=rng,
                dtype="float64",
            )
            # Non-zero biases, so that the db[l] terms are checked on general values too.
            net.biases = [rng.normal(scale=0.5, size=b.shape) for b in net.biases]
            y = _targets(head, n_out, n_samples, rng)
            errors[act][head] = gradcheck(net, X, y)
            n_params[head] = net.n_params
        rows.append([act, *[errors[act][h] for h in HEADS]])

    # Controls: deliberately wrong gradients must be caught.
    sig = get_activation("sigmoid")
    wrong_act = Activation("sigmoid, g' = 1", sig.forward, lambda Z, A: np.ones_like(Z))
    net = Network([4, *hidden_sizes, 1], hidden=wrong_act, seed=rng, dtype="float64")
    y = _targets("binary", 1, n_samples, rng)
    err_wrong_derivative = gradcheck(net, X, y)

    binary = get_head("binary")

    def _no_mean(Z: Array, Y: Array) -> tuple[float, Array]:
        J, dZ = binary.loss_and_grad(Z, Y)
        return J, dZ * Z.shape[0]  # forgets the 1/n of J = (1/n) Σ L(i)

    wrong_head = Head("binary, dZ without 1/n", binary.link, _no_mean, binary.loss)
    net = Network([4, *hidden_sizes, 1], hidden="tanh", seed=rng, dtype="float64")
    net.head = wrong_head
    err_wrong_head = gradcheck(net, X, y)
    controls = {
        "sigmoid with g'(z) = 1 (wrong)": err_wrong_derivative,
        "dZ[L] = a − y, without 1/n (wrong)": err_wrong_head,
    }

    worst = max(max(v.values()) for v in errors.values())
    caught = min(controls.values())
    numbers = {
        "threshold": THRESHOLD,
        "layer_sizes": [4, *hidden_sizes, "n[L]"],
        "n_samples": n_samples,
        "n_params": n_params,
        "errors": errors,
        "worst": worst,
        "controls": controls,
    }
    table = Table(
        ["hidden g", *[f"{h} (n[L]={k})" for h, k in HEADS.items()]],
        [*rows, *[[name, err, "", ""] for name, err in controls.items()]],
    )
    claims = [
        Claim(
            "Backprop's gradient equals the two-sided difference estimate for every hidden "
            "activation and every output head (relative error < 1e-7 in float64).",
            worst < THRESHOLD,
            f"worst relative error over {len(ACTIVATIONS)} × {len(HEADS)} networks: {worst:.1e}.",
        ),
        Claim(
            "The check detects wrong gradients (so the small errors above mean something).",
            caught > 1e-3,
            "a wrong derivative g' gives "
            f"{err_wrong_derivative:.2f}, a head that forgets 1/n gives {err_wrong_head:.2f}.",
        ),
    ]
    return ExperimentResult(
        name="backprop",
        title="2. Backprop is the chain rule: the gradient check",
        claim=(
            "Backpropagation computes ∂J/∂W[l] and ∂J/∂b[l] exactly, by the chain rule "
            "(dZ[l-1] = (dZ[l] W[l]) ⊙ g'(z[l-1]), dW[l] = dZ[l]ᵀ A[l-1]). Two-sided "
            "differences (J(θ + εeᵢ) − J(θ − εeᵢ)) / 2ε are an independent estimate that "
            "must agree with it up to O(ε²) truncation and rounding."
        ),
        setup=(
            f"float64 networks [4, {', '.join(map(str, hidden_sizes))}, n[L]] (Xavier "
            "weights, random non-zero biases) on "
            f"{n_samples} random samples; each of {len(ACTIVATIONS)} hidden activations "
            f"with each output head: binary (σ + cross-entropy, n[L] = 1), multiclass "
            "(softmax + cross-entropy, n[L] = 3), regression (identity + squared error "
            "summed over n[L] = 2 outputs). `gradcheck` with ε = 1e-7 over every "
            "parameter. Two deliberately broken gradients serve as controls."
        ),
        result=(
            f"All {len(ACTIVATIONS) * len(HEADS)} combinations agree to {worst:.0e} or better; "
            f"the broken controls are off by {caught:.2f} or more — about "
            f"{np.log10(caught / worst):.0f} orders of magnitude apart."
        ),
        claims=claims,
        numbers=numbers,
        tables=[table],
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult) -> Figure:
    n = r.numbers
    acts = list(n["errors"])
    heads = list(HEADS)
    M = np.array([[n["errors"][a][h] for h in heads] for a in acts])
    fig = new_figure(11.0, 3.9)
    ax, axc = fig.subplots(1, 2, width_ratios=[1.5, 1])
    logM = np.log10(np.maximum(M, 1e-16))
    im = ax.imshow(logM, cmap="viridis_r", vmin=-12, vmax=0, aspect="auto")
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            ax.text(j, i, f"{M[i, j]:.1e}", ha="center", va="center", color="k", fontsize=10)
    ax.set_xticks(range(len(heads)), heads)
    ax.set_yticks(range(len(acts)), acts)
    ax.set_xlabel("output head")
    ax.set_ylabel("hidden activation g")
    ax.set_title("Backprop vs two-sided differences: ‖g − ĝ‖/(‖g‖+‖ĝ‖)")
    ax.grid(False)
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("log10 relative error")

    labels = ["worst correct", *n["controls"]]
    values = [n["worst"], *n["controls"].values()]
    colors = ["#2ca02c", "#d62728", "#d62728"]
    axc.barh(range(len(values)), values, color=colors)
    axc.set_xscale("log")
    axc.set_xlim(1e-12, 10)
    axc.axvline(n["threshold"], color="k", ls="--", lw=1)
    axc.text(n["threshold"] * 1.5, 0.5, "threshold 1e-7", va="center", fontsize=9)
    axc.set_yticks(range(len(values)), [lbl.replace(" (wrong)", "\n(wrong)") for lbl in labels])
    axc.invert_yaxis()
    axc.set_xlabel("relative error (log scale)")
    axc.set_title("The check catches broken gradients")
    return fig
