"""Plots with matplotlib (imported inside each function, so ``import mlplab`` stays light).

Every function takes ``ax=None`` (a new figure is made when None) and returns the Axes;
none calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Any


def _axes(ax: Any) -> Any:
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

    _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    return ax


def plot_loss(
    history: Any, ax: Any = None, log: bool | None = None, title: str = "Learning curve"
) -> Any:
    """The cost J per epoch (and validation cost when present).

    ``history`` is a History or its ``.history`` dict. ``log`` puts J on a log scale
    (default: when J spans more than two orders of magnitude).
    """
    import numpy as np

    hist = getattr(history, "history", history)
    if not isinstance(hist, dict) or "loss" not in hist:
        raise ValueError("history has no 'loss' values to plot")
    ax = _axes(ax)
    epochs = np.arange(1, len(hist["loss"]) + 1)
    ax.plot(epochs, hist["loss"], label="training cost J")
    if "val_loss" in hist:
        ax.plot(epochs, hist["val_loss"], label="validation cost")
    values = np.asarray(hist["loss"] + hist.get("val_loss", []), dtype=float)
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


def save_figure(ax: Any, path: Any, dpi: int = 120) -> None:
    """Write the Axes' figure to ``path`` (PNG by extension) and close it."""
    import matplotlib.pyplot as plt

    fig = ax.figure
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
