"""Experiment 4: vanishing and exploding signals with depth, and the initialization rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from mlplab.core.network import Network
from mlplab.experiments._common import (
    COLORS,
    Claim,
    ExperimentResult,
    Table,
    experiment,
    new_figure,
    timer,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

X_DEMO = np.array([[1.0, 2.0], [-0.5, 3.0], [2.0, -1.0]])
"""Three inputs x (rows) for the identity-network example."""

TANH_GAIN = (5.0 / 3.0) ** 2
"""Var(W) = (5/3)²/n[l-1]: the tanh gain of LeCun (1998) and PyTorch's calculate_gain."""


def _identity_part(L_max: int) -> dict[str, Any]:
    """ŷ = W[L]⋯W[1]x for W[l] = 1.5·I and 0.5·I, L = 1..L_max; per-layer ‖dW[l]‖."""
    from mlplab.core import initializers
    from mlplab.core.diagnostics import gradient_norms, identity_network

    X = X_DEMO
    out: dict[str, Any] = {"L": list(range(1, L_max + 1))}
    for scale in (1.5, 0.5):
        key = f"{scale:g}"
        ratio, rel_err, rel_err_1x2, dW1 = [], [], [], []
        per_layer = {}
        for L in range(1, L_max + 1):
            net = identity_network(L, scale, dtype="float64")
            y_hat = net.forward(X)
            expected = scale**L * X
            rel_err.append(float(np.max(np.abs(y_hat - expected) / np.abs(expected))))
            ratio.append(float(y_hat[0, 0] / X[0, 0]))
            # Target y = x: the identity map is the "right" answer, so the gradient
            # measures how far scale^L is from 1.
            norms = gradient_norms(net, X, X)
            dW1.append(norms[0])
            if L in (10, 25, L_max):
                per_layer[str(L)] = norms
            # The notes' picture with a 1×2 output layer w[L] = [1, 1]: ŷ = s^(L-1)(x1 + x2).
            net12 = Network(
                [2] * L + [1],
                hidden="identity",
                output="regression",
                init=[initializers.identity(scale)] * (L - 1) + [initializers.constant(1.0)],
                dtype="float64",
            )
            exp12 = scale ** (L - 1) * X.sum(axis=1)
            y12 = net12.forward(X)[:, 0]
            rel_err_1x2.append(float(np.max(np.abs(y12 - exp12) / np.abs(exp12))))
        out[key] = {
            "y_over_x": ratio,
            "rel_err": rel_err,
            "rel_err_1x2_output": rel_err_1x2,
            "dW1_norm": dW1,
            "dW_norms_per_layer": per_layer,
        }
    return out


def _signal_part(
    width: int, depth: int, n_nets: int, n_samples: int, seed: int
) -> dict[str, dict[str, Any]]:
    """std of a[l] per layer, pooled over ``n_nets`` random networks, for each rule."""
    from mlplab.core import initializers
    from mlplab.core.diagnostics import gradient_norms

    configs: dict[str, tuple[str, str | Callable[..., Any]]] = {
        "tanh, N(0, 1)": ("tanh", "normal"),
        "tanh, 1/n (Xavier)": ("tanh", "xavier"),
        "tanh, (5/3)²/n (gain)": (
            "tanh",
            initializers.variance_scaling(TANH_GAIN, "fan_in", "normal", "tanh_gain"),
        ),
        "ReLU, N(0, 1)": ("relu", "normal"),
        "ReLU, 2/n (He)": ("relu", "he"),
    }
    rng = np.random.default_rng(seed)
    results = {}
    for label, (act, init) in configs.items():
        s1 = np.zeros(depth)  # Σ a, Σ a² per layer over nets, samples and units
        s2 = np.zeros(depth)
        count = 0
        sat = np.zeros(depth)
        log_g = np.zeros(depth + 1)
        for _ in range(n_nets):
            net = Network(
                [width] * (depth + 1) + [1],
                hidden=act,
                output="regression",
                init=init,
                seed=rng,
                dtype="float64",
            )
            X = rng.standard_normal((n_samples, width))
            caches = net.forward_cache(X)[:-1]
            for l, c in enumerate(caches):
                s1[l] += c.A.sum()
                s2[l] += (c.A * c.A).sum()
                if act == "tanh":
                    sat[l] += ((1.0 - c.A * c.A) < 0.01).mean()
            count += caches[0].A.size
            y = rng.standard_normal(n_samples)
            log_g += np.log10(gradient_norms(net, X, y))
        mean = s1 / count
        std = np.sqrt(np.maximum(s2 / count - mean**2, 0.0))
        ratio = std / std[0]
        results[label] = {
            "activation": act,
            "std": std.tolist(),
            "ratio_to_layer1": ratio.tolist(),
            "max_factor": float(max(ratio.max(), 1.0 / ratio.min())),
            "last_ratio": float(ratio[-1]),
            "saturated": (sat / n_nets).tolist() if act == "tanh" else None,
            # geometric mean over the networks of ‖dW[l]‖, l = 1..depth+1
            "dW_norm": (10 ** (log_g / n_nets)).tolist(),
        }
    return results


@experiment
def depth(
    *,
    quick: bool = False,
    seed: int = 0,
    L_max: int = 50,
    width: int = 128,
    signal_depth: int = 50,
    n_nets: int | None = None,
    n_samples: int = 50,
) -> ExperimentResult:
    r"""Vanishing/exploding: the notes' 2×2 identity network, then deep tanh/ReLU nets.

    Part 1 — identity activations, b = 0, every layer 2×2 (output included),
    W[l] = 1.5·I or 0.5·I: ŷ = W[L]⋯W[1]x = 1.5^L x or 0.5^L x, for L = 1..``L_max``,
    and the per-layer gradient norms ‖dW[l]‖.

    Part 2 — ``signal_depth`` hidden layers of ``width`` units, tanh or ReLU, weights
    N(0, 1) or by the matching rule (1/n for tanh, 2/n for ReLU): the standard deviation
    of a[l] per layer, measured over ``n_nets`` independent networks pooled together
    (one finite-width network fluctuates around this by a factor that grows like
    √(depth/width)).

    Parameters
    ----------
    quick : bool, default=False
        Fewer networks in part 2 (8 instead of 16).
    seed : int, default=0
    L_max, width, signal_depth, n_nets, n_samples : int
        Sizes; see above.

    Returns
    -------
    ExperimentResult
        ``numbers["identity"]["1.5"]["rel_err"]`` etc., ``numbers["signal"][config]``.
    """
    elapsed = timer()
    if n_nets is None:
        n_nets = 8 if quick else 16
    ident = _identity_part(L_max)
    with np.errstate(over="raise", invalid="raise"):
        signal = _signal_part(width, signal_depth, n_nets, n_samples, seed)

    err_max = max(max(ident[k]["rel_err"]) for k in ("1.5", "0.5"))
    err_12 = max(max(ident[k]["rel_err_1x2_output"]) for k in ("1.5", "0.5"))
    g_up = ident["1.5"]["dW1_norm"][-1] / ident["1.5"]["dW1_norm"][0]
    g_down = ident["0.5"]["dW1_norm"][-1] / ident["0.5"]["dW1_norm"][0]
    per = ident["1.5"]["dW_norms_per_layer"][str(L_max)]
    per_spread = max(per) / min(per)
    he, relu_n = signal["ReLU, 2/n (He)"], signal["ReLU, N(0, 1)"]
    xav, tanh_n = signal["tanh, 1/n (Xavier)"], signal["tanh, N(0, 1)"]
    gain = signal["tanh, (5/3)²/n (gain)"]
    D = signal_depth
    claims = [
        Claim(
            f"With identity activations, b = 0 and W[l] = 1.5·I (0.5·I) in every 2×2 layer, "
            f"ŷ = 1.5^L x (0.5^L x): checked for L = 1…{L_max} to 1e-9 relative (float64).",
            err_max < 1e-9,
            f"largest relative error {err_max:.1e}; at L = {L_max}, ŷ/x = "
            f"{ident['1.5']['y_over_x'][-1]:.3e} and {ident['0.5']['y_over_x'][-1]:.3e}. "
            f"With a 1×2 output layer w[L] = [1, 1], ŷ = s^(L−1)(x₁ + x₂) "
            f"(largest error {err_12:.1e}).",
        ),
        Claim(
            "The gradients ‖dW[l]‖ explode (1.5·I) or vanish (0.5·I) exponentially with depth L.",
            g_up > 1e10 and g_down < 1e-10,
            f"‖dW[1]‖ at L = {L_max} over ‖dW[1]‖ at L = 1: {g_up:.1e} (1.5·I) and "
            f"{g_down:.1e} (0.5·I); within one network all layers share the factor "
            f"(spread {per_spread:.2f}× across the {L_max} layers at 1.5·I).",
        ),
        Claim(
            f"ReLU, {D} layers: with the 2/n rule the std of a[l] stays within a factor 2 "
            "of layer 1's; with N(0, 1) weights it explodes by orders of magnitude.",
            he["max_factor"] < 2 and relu_n["last_ratio"] > 1e3,
            f"2/n: largest factor {he['max_factor']:.2f}; N(0, 1): a[{D}] is "
            f"{relu_n['last_ratio']:.1e}× layer 1's.",
        ),
        Claim(
            f"tanh, {D} layers: with the 1/n rule the std of a[l] stays within a factor 2 "
            "of layer 1's.",
            xav["max_factor"] < 2,
            f"it does not: the std falls slowly, to {xav['last_ratio']:.2f}× layer 1's at "
            f"layer {D} (a factor {xav['max_factor']:.1f}; for tanh with Var = 1/n the "
            "variance shrinks like 1/(2l), since |tanh z| < |z|). The gain (5/3)²/n keeps it "
            f"within {gain['max_factor']:.2f}×.",
        ),
        Claim(
            f"tanh, {D} layers: with N(0, 1) weights the std of a[l] collapses or explodes "
            "by orders of magnitude.",
            not (0.01 < tanh_n["last_ratio"] < 100),
            f"it does neither: tanh is bounded, so a[l] saturates at ±1 (std "
            f"{tanh_n['std'][-1]:.2f}, {100 * tanh_n['saturated'][-1]:.0f}% of units with "
            f"tanh'(z) < 0.01). What explodes is the gradient: ‖dW[1]‖/‖dW[{D + 1}]‖ = "
            f"{tanh_n['dW_norm'][0] / tanh_n['dW_norm'][-1]:.1e}.",
        ),
    ]
    layers_shown = [l for l in (1, 10, 20, D) if l <= D]
    rows = []
    for label, r in signal.items():
        rows.append(
            [
                label,
                *[r["std"][l - 1] for l in layers_shown],
                r["max_factor"],
                r["dW_norm"][0],
                r["dW_norm"][-1],
            ]
        )
    table = Table(
        [
            "activation, weights",
            *[f"std a[{l}]" for l in layers_shown],
            "max factor vs a[1]",
            "‖dW[1]‖",
            f"‖dW[{D + 1}]‖",
        ],
        rows,
        caption=f"Deep networks: {D} hidden layers of {width} units, pooled over {n_nets} "
        "networks (‖dW‖: geometric mean).",
    )
    shown_L = sorted({1, 5, 10, 20, 30, 40, L_max})
    table_id = Table(
        ["L", "ŷ/x, 1.5·I", "1.5^L", "ŷ/x, 0.5·I", "0.5^L", "‖dW[1]‖, 1.5·I", "‖dW[1]‖, 0.5·I"],
        [
            [
                L,
                ident["1.5"]["y_over_x"][L - 1],
                1.5**L,
                ident["0.5"]["y_over_x"][L - 1],
                0.5**L,
                ident["1.5"]["dW1_norm"][L - 1],
                ident["0.5"]["dW1_norm"][L - 1],
            ]
            for L in shown_L
        ],
        caption="The notes' example: 2×2 identity layers, target y = x for the gradients.",
    )
    numbers = {
        "identity": ident,
        "signal": signal,
        "width": width,
        "signal_depth": D,
        "n_nets": n_nets,
        "n_samples": n_samples,
        "identity_max_rel_err": err_max,
        "identity_1x2_max_rel_err": err_12,
    }
    return ExperimentResult(
        name="depth",
        title="4. Vanishing and exploding gradients, and the initialization rules",
        claim=(
            "With identity activations and b = 0, ŷ = W[L]W[L−1]⋯W[1]x: weights a little "
            "above 1 (1.5·I) make ŷ and the gradients grow like 1.5^L, weights below 1 "
            "(0.5·I) make them vanish like 0.5^L. The remedy in the notes is to scale the "
            "random weights by the layer width: Var(W[l]) = 1/n[l−1] for tanh (Xavier), "
            "2/n[l−1] for ReLU (He), so that the signal keeps its size through the layers."
        ),
        setup=(
            f"Part 1: `diagnostics.identity_network(L, s)` — every layer 2×2 "
            f"(output layer included), W[l] = s·I, b = 0, identity activations, regression "
            f"head, float64 — for L = 1…{L_max}, on three inputs x; gradients ‖dW[l]‖ with "
            "target y = x. (With a 1×2 output layer, as in the notes' backprop example, "
            "the factor is s^(L−1) instead of s^L.) "
            f"Part 2: {D} hidden layers of {width} units, inputs x ~ N(0, I), b = 0, weights "
            "N(0, 1) or by the rule; the std of a[l] is pooled over "
            f"{n_nets} independently drawn networks × {n_samples} inputs (a single "
            "finite-width network fluctuates around it by a factor that grows like "
            "√(depth/width))."
        ),
        result=(
            f"ŷ = 1.5^L x and 0.5^L x hold to {err_max:.0e}; at L = {L_max} the output is "
            f"{ident['1.5']['y_over_x'][-1]:.1e}× or {ident['0.5']['y_over_x'][-1]:.1e}× the "
            f"input, and ‖dW[l]‖ is {ident['1.5']['dW1_norm'][-1]:.0e} or "
            f"{ident['0.5']['dW1_norm'][-1]:.0e} in every layer. For ReLU the He rule keeps "
            f"the std of a[l] within {he['max_factor']:.2f}× of layer 1 over {D} layers while "
            f"N(0, 1) blows it up by {relu_n['last_ratio']:.0e}. For tanh the notes' claim "
            "needs a correction: with 1/n the std still decays (slowly, "
            f"{xav['max_factor']:.1f}× over {D} layers), and with N(0, 1) the units saturate "
            "instead of exploding — the damage shows in the gradients, which grow by "
            f"{tanh_n['dW_norm'][0] / tanh_n['dW_norm'][-1]:.0e} from the last layer back to "
            "the first."
        ),
        claims=claims,
        numbers=numbers,
        tables=[table_id, table],
        plot=_plot,
        seconds=elapsed(),
        quick=quick,
    )


def _plot(r: ExperimentResult) -> Figure:
    n = r.numbers
    ident, signal = n["identity"], n["signal"]
    fig = new_figure(12.0, 8.0)
    (a1, a2), (a3, a4) = fig.subplots(2, 2)
    L = np.asarray(ident["L"])
    for i, s in enumerate(("1.5", "0.5")):
        a1.semilogy(
            L, np.abs(ident[s]["y_over_x"]), "o", ms=4, color=COLORS[i], label=f"ŷ/x, W = {s}·I"
        )
        a1.semilogy(L, float(s) ** L, "-", lw=1, color=COLORS[i], label=f"{s}^L")
    a1.set_xlabel("number of layers L")
    a1.set_ylabel("ŷ / x (log scale)")
    a1.set_title("Identity activations: ŷ = W[L]⋯W[1]x")
    a1.legend()

    styles = {"10": ":", "25": "--", str(L.max()): "-"}
    for i, s in enumerate(("1.5", "0.5")):
        for Lk, norms in ident[s]["dW_norms_per_layer"].items():
            layers = np.arange(1, len(norms) + 1)
            a2.semilogy(
                layers,
                norms,
                styles.get(Lk, "-"),
                color=COLORS[i],
                lw=1.6,
                label=f"{s}·I, L = {Lk}",
            )
    a2.set_xlabel("layer l")
    a2.set_ylabel("‖dW[l]‖ (log scale)")
    a2.set_title("‖dW[l]‖: the same in every layer, exponential in L")
    a2.legend(ncol=2, fontsize=8)

    for ax, act, title in ((a3, "tanh", "tanh"), (a4, "relu", "ReLU")):
        for label, res in signal.items():
            if res["activation"] != act:
                continue
            std = np.asarray(res["std"])
            color = COLORS[1] if "N(0" in label else COLORS[4] if "gain" in label else COLORS[0]
            ax.semilogy(np.arange(1, len(std) + 1), std, lw=2, color=color, label=label)
        rule = "tanh, 1/n (Xavier)" if act == "tanh" else "ReLU, 2/n (He)"
        s1 = signal[rule]["std"][0]
        ax.axhspan(s1 / 2, s1 * 2, color="0.88", zorder=0, label="std of a[1] ÷ 2 … × 2")
        ax.set_xlabel("layer l")
        ax.set_ylabel("std of a[l] (log scale)")
        ax.set_title(f"{title}: {n['signal_depth']} layers × {n['width']} units")
        ax.legend(loc="best")
    return fig
