"""Plots with matplotlib (imported inside each function, so ``import mlplab`` stays light).

Every function takes ``ax=None`` (a new figure is made when None, with the Agg backend
when there is no display) and returns the Axes; none calls ``plt.show()``.

* :func:`plot_loss` — the cost J per epoch, training and validation;
* :func:`plot_decision_boundary` — class regions of a 2-D classifier, with the data;
* :func:`plot_gradient_norms` — ‖dW[l]‖ per layer across training (vanishing/exploding);
* :func:`plot_activations` — percentile bands of a[l] per layer across training;
* :func:`plot_activation_histograms` — the distribution of a[l] per layer on some data;
* :func:`plot_confusion_matrix` — counts of true vs predicted classes.

The per-epoch values come from a History (or its dict) recorded with
:class:`~mlplab.callbacks.GradientNormLogger` and :class:`~mlplab.callbacks.ActivationLogger`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np


def _axes(ax: Any, figsize: tuple[float, float] = (6, 4)) -> Any:
    if ax is not None:
        return ax
    import matplotlib

    if matplotlib.get_backend().lower() not in (
        "agg",
        "module://matplotlib_inline.backend_inline",
    ):
        import os

        if not os.environ.get("DISPLAY"):
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _history(history: Any) -> dict[str, list[float]]:
    hist = getattr(history, "history", history)
    if not isinstance(hist, dict):
        raise TypeError(f"history must be a History or a dict of lists, got {type(hist).__name__}")
    return hist


def plot_loss(
    history: Any, ax: Any = None, log: bool | None = None, title: str = "Learning curve"
) -> Any:
    """The cost J per epoch (and validation cost when present).

    ``history`` is a History or its ``.history`` dict. ``log`` puts J on a log scale
    (default: when J spans more than two orders of magnitude).
    """
    hist = _history(history)
    if not hist.get("loss"):
        raise ValueError("history has no 'loss' values to plot")
    ax = _axes(ax)
    epochs = np.arange(1, len(hist["loss"]) + 1)
    ax.plot(epochs, hist["loss"], label="training cost J")
    if hist.get("val_loss"):
        ax.plot(epochs[: len(hist["val_loss"])], hist["val_loss"], label="validation cost")
    values = np.asarray(list(hist["loss"]) + list(hist.get("val_loss", [])), dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if log is None:
        log = values.size > 0 and values.max() / max(values.min(), 1e-300) > 100
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost J")
    ax.set_title(title)
    ax.legend()
    ax.grid(True, alpha=0.3)
    return ax


def _layer_keys(hist: dict[str, Any], pattern: str) -> list[tuple[int, str]]:
    rx = re.compile(pattern)
    found = [(int(m.group(1)), k) for k in hist if (m := rx.fullmatch(k))]
    return sorted(found)


def plot_gradient_norms(
    history: Any, ax: Any = None, log: bool = True, title: str = "Gradient norms per layer"
) -> Any:
    """‖dW[l]‖_F per layer and epoch (mean over the epoch's mini-batches).

    Needs the ``grad_norm/W{l}`` values that :class:`~mlplab.callbacks.GradientNormLogger`
    logs. Lines that fan out by orders of magnitude from layer L down to layer 1 are the
    lecture's vanishing (or, reversed, exploding) gradients.
    """
    hist = _history(history)
    keys = _layer_keys(hist, r"grad_norm/W(\d+)")
    if not keys:
        raise ValueError(
            "history has no gradient norms (train with mlplab.GradientNormLogger() to record them)"
        )
    ax = _axes(ax)
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    for i, (l, key) in enumerate(keys):
        values = np.asarray(hist[key], dtype=float)
        color = cmap(i / max(len(keys) - 1, 1))
        ax.plot(np.arange(1, values.size + 1), values, color=color, label=f"‖dW[{l}]‖")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm ‖dW[l]‖_F")
    ax.set_title(title)
    ax.legend(fontsize="small", ncol=1 + len(keys) // 6)
    ax.grid(True, alpha=0.3, which="both")
    return ax


def plot_activations(
    history: Any, ax: Any = None, title: str = "Hidden activations across training"
) -> Any:
    """Per hidden layer: the median of a[l] per epoch with its 25–75 % and 5–95 % bands.

    Needs the ``act/a{l}/p..`` values that :class:`~mlplab.callbacks.ActivationLogger`
    logs. Bands shrinking to 0 (dead ReLUs, vanishing signals) or pressed against ±1
    (saturated tanh/σ) are the lecture's pictures; the legend gives each layer's final
    fraction of saturated units.
    """
    hist = _history(history)
    layers = [l for l, _ in _layer_keys(hist, r"act/a(\d+)/p50")]
    if not layers:
        raise ValueError(
            "history has no activation statistics (train with mlplab.callbacks."
            "ActivationLogger(X) to record them, or plot histograms on data)"
        )
    ax = _axes(ax, figsize=(7, 4))
    colors = [f"C{i % 10}" for i in range(len(layers))]
    for l, color in zip(layers, colors, strict=True):
        p = {q: np.asarray(hist[f"act/a{l}/p{q:02d}"], dtype=float) for q in (5, 25, 50, 75, 95)}
        epochs = np.arange(1, p[50].size + 1)
        ax.fill_between(epochs, p[25], p[75], color=color, alpha=0.25, linewidth=0)
        ax.plot(epochs, p[5], color=color, linewidth=0.8, linestyle=":")
        ax.plot(epochs, p[95], color=color, linewidth=0.8, linestyle=":")
        sat = hist.get(f"act/a{l}/saturated")
        label = f"a[{l}] median" + (f" ({sat[-1]:.0%} saturated)" if sat else "")
        ax.plot(epochs, p[50], color=color, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("a[l]: median, 25–75 % band, 5 % and 95 % (dotted)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return ax


def plot_activation_histograms(
    net: Any, X: Any, ax: Any = None, bins: int = 50, title: str = "Hidden activations"
) -> Any:
    """Histograms of every hidden layer's a[l] over the rows of X (one color per layer).

    ``net`` is a Network or a fitted estimator (its ``network_``).
    """
    net = getattr(net, "network_", net)
    caches = net.forward_cache(X)[:-1]
    if not caches:
        raise ValueError("the network has no hidden layer (L = 1): no activations to show")
    ax = _axes(ax)
    for l, cache in enumerate(caches, start=1):
        ax.hist(
            np.ravel(cache.A),
            bins=bins,
            histtype="stepfilled",
            alpha=0.45,
            label=f"a[{l}] ({net.hidden[l - 1].name})",
        )
    ax.set_xlabel("activation value")
    ax.set_ylabel("count (units × samples)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def _proba(model: Any, X: np.ndarray) -> np.ndarray:
    P = np.asarray(model.predict_proba(X), dtype=float)
    if P.ndim == 1:
        P = P[:, None]
    if P.shape[1] == 1:
        P = np.hstack([1 - P, P])
    return P


def plot_decision_boundary(
    model: Any,
    X: Any = None,
    y: Any = None,
    ax: Any = None,
    bounds: tuple[float, float, float, float] | None = None,
    resolution: int = 200,
    classes: Any = None,
    title: str = "Decision boundary",
) -> Any:
    """Class regions of a classifier with two inputs, and the points (X, y) on top.

    Parameters
    ----------
    model : Network or MLPClassifier
        Anything with ``predict_proba``; n[0] must be 2.
    X : array-like of shape (n_samples, 2), optional
        Points to draw; they also set the plotted area.
    y : array-like of shape (n_samples,), optional
        Their classes, as indices 0..K−1 (color of each point).
    bounds : (x_min, x_max, y_min, y_max), optional
        The area when X is not given.
    classes : list, optional
        Class names for the legend.

    Notes
    -----
    Two classes: P(class 1) as a color gradient with the 0.5 contour. More: each
    region in its class color, lighter where the network is less sure.
    """
    _check_two_inputs(model)
    X, lo, hi = _boundary_area(X, bounds)
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    P = _proba(model, np.c_[gx.ravel(), gy.ravel()])
    ax = _axes(ax, figsize=(5.5, 5))
    if P.shape[1] == 2:
        point_colors = _draw_probability(ax, gx, gy, P[:, 1])
    else:
        point_colors = _draw_regions(ax, P, gx.shape, lo, hi)
    if X is not None:
        _draw_points(ax, X, y, classes, point_colors)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title)
    return ax


def _check_two_inputs(model: Any) -> None:
    """A decision boundary is drawn in the plane: the model must take n[0] = 2 inputs."""
    n_in = getattr(getattr(model, "network_", model), "layer_sizes", [2])[0]
    if n_in != 2:
        raise ValueError(f"a decision boundary needs 2 input features, the model has n[0]={n_in}")


def _boundary_area(
    X: Any, bounds: tuple[float, float, float, float] | None
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """X as floats (or None) and the plotted area's corners ``lo``, ``hi``.

    The area is X's range padded by 10 %, else ``bounds``; one of them is required.
    """
    if X is not None:
        X = np.asarray(X, dtype=float)
        pad = 0.1 * (X.max(axis=0) - X.min(axis=0) + 1e-9)
        lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    elif bounds is not None:
        lo, hi = np.array(bounds[::2], dtype=float), np.array(bounds[1::2], dtype=float)
    else:
        raise ValueError("give X or bounds=(x_min, x_max, y_min, y_max)")
    return X, lo, hi


def _draw_probability(ax: Any, gx: np.ndarray, gy: np.ndarray, P1: np.ndarray) -> Any:
    """Two classes: P(class 1) as a color gradient with the 0.5 contour; the point colors."""
    import matplotlib as mpl

    cs = ax.contourf(
        gx,
        gy,
        P1.reshape(gx.shape),
        levels=np.linspace(0, 1, 21),
        cmap="RdBu_r",
        alpha=0.75,
    )
    ax.contour(gx, gy, P1.reshape(gx.shape), levels=[0.5], colors="k", linewidths=1.2)
    ax.figure.colorbar(cs, ax=ax, label="P(class 1)")
    return mpl.colormaps["RdBu_r"]([0.05, 0.95])


def _draw_regions(
    ax: Any, P: np.ndarray, shape: tuple[int, ...], lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """K > 2 classes: each region in its class color, lighter where the network is unsure.

    Returns the class colors (for the points).
    """
    import matplotlib as mpl

    K = P.shape[1]
    base = np.array([mpl.colors.to_rgb(f"C{k % 10}") for k in range(K)])
    k = P.argmax(axis=1)
    conf = (P.max(axis=1) - 1 / K) / (1 - 1 / K)  # 0 at chance, 1 when sure
    rgb = 1 - (1 - base[k]) * (0.25 + 0.5 * conf[:, None])  # lighter where unsure
    ax.imshow(
        rgb.reshape(*shape, 3),
        origin="lower",
        aspect="auto",
        extent=(lo[0], hi[0], lo[1], hi[1]),
        interpolation="nearest",
    )
    return base


def _draw_points(ax: Any, X: np.ndarray, y: Any, classes: Any, point_colors: Any) -> None:
    """The points X on top: black without y, else one color and legend entry per class."""
    if y is None:
        ax.scatter(X[:, 0], X[:, 1], s=14, c="k", alpha=0.6)
        return
    y = np.asarray(y).astype(int)
    for c in np.unique(y):
        name = classes[c] if classes is not None else c
        ax.scatter(
            *X[y == c].T,
            s=16,
            color=point_colors[c % len(point_colors)],
            edgecolors="k",
            linewidths=0.4,
            label=str(name),
        )
    ax.legend(fontsize="small", loc="best")


def plot_confusion_matrix(
    y_true: Any = None,
    y_pred: Any = None,
    labels: Any = None,
    ax: Any = None,
    matrix: Any = None,
    normalize: bool = False,
    title: str = "Confusion matrix",
) -> Any:
    """Counts of (true class, predicted class); rows are true classes.

    Give ``y_true`` and ``y_pred`` (class indices or labels; ``labels`` fixes the order)
    or a ready ``matrix``. ``normalize=True`` shows each row as fractions.
    """
    if matrix is None:
        if y_true is None or y_pred is None:
            raise ValueError("give y_true and y_pred, or matrix=")
        from sklearn.metrics import confusion_matrix

        matrix = confusion_matrix(y_true, y_pred, labels=labels)
    M = np.asarray(matrix, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {M.shape}")
    names = [str(v) for v in (labels if labels is not None else range(M.shape[0]))]
    if normalize:
        M = M / np.maximum(M.sum(axis=1, keepdims=True), 1)
    k = len(names)
    ax = _axes(ax, figsize=(max(4.5, 1.5 + 0.6 * k), max(4.0, 1.2 + 0.55 * k)))
    im = ax.imshow(M, cmap="Blues", vmin=0)
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    thresh = M.max() / 2 if M.size else 0
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            text = f"{M[i, j]:.2f}" if normalize else f"{int(M[i, j])}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                color="white" if M[i, j] > thresh else "black",
                fontsize="small",
            )
    tilt = k > 4 or max(len(n) for n in names) > 5
    ax.set_xticks(range(k), names, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    return ax


def save_figure(ax: Any, path: Any, dpi: int = 120) -> None:
    """Write the Axes' figure to ``path`` (PNG by extension) and close it."""
    import matplotlib.pyplot as plt

    fig = ax.figure
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
