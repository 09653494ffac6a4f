"""What every experiment shares: its result type, tables, JSON, figures, small helpers.

matplotlib is imported only inside the functions that draw, and only through
``matplotlib.figure.Figure`` (no pyplot): figures are rendered by the Agg canvas, never
shown, and no global backend or figure registry is touched.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlplab.train.callbacks import Callback

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

    from mlplab.core.network import Network

DPI = 90
"""Resolution of the PNG figures: readable on screen, small enough to embed in HTML."""

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]
"""One colour per curve, in order (matplotlib's tab10, reordered for contrast)."""

_RC: dict[RcKeyType, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
}


@dataclass
class Claim:
    """One claim of the notes, and whether this run's numbers support it.

    Attributes
    ----------
    text : str
        The claim, as the notes (or the issue that asked for the experiment) state it.
    holds : bool
        True when the measured numbers satisfy it.
    evidence : str
        The numbers behind the verdict.
    """

    text: str
    holds: bool
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        """The claim as plain data."""
        return {"text": self.text, "holds": bool(self.holds), "evidence": self.evidence}


@dataclass
class Table:
    """A small table: column names, rows of values (numbers or strings), a caption."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table; floats get 3–4 significant digits."""
        head = "| " + " | ".join(self.columns) + " |"
        rule = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in self.rows]
        return "\n".join([head, rule, *body])

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per row, keyed by column name (what the JSON file stores)."""
        return [dict(zip(self.columns, map(jsonable, row), strict=True)) for row in self.rows]


@dataclass
class ExperimentResult:
    """What one experiment measured, and how to show it.

    ``numbers`` holds every measured quantity as plain JSON-able data (floats, ints,
    lists); ``result["key"]`` is ``result.numbers["key"]``. ``arrays`` holds what only
    the figure needs (grids, trained networks); it is not written to JSON.

    Attributes
    ----------
    name, title : str
        Short name (``"logistic"``) and heading.
    claim, setup, result : str
        The report's three paragraphs: what the notes say, what was run, what came out.
    claims : list of Claim
        Each claim with its verdict.
    numbers : dict
    tables : list of Table
        The first is the main one (``result.table``).
    arrays : dict
    plot : callable
        ``plot(result) -> matplotlib.figure.Figure``.
    seconds : float
        Wall time of the experiment (without the figure).
    quick : bool
        Whether the small ``--quick`` sizes were used.
    """

    name: str
    title: str
    claim: str
    setup: str
    result: str
    claims: list[Claim]
    numbers: dict[str, Any]
    tables: list[Table]
    arrays: dict[str, Any] = field(default_factory=dict, repr=False)
    plot: Callable[[ExperimentResult], Any] | None = field(default=None, repr=False)
    seconds: float = 0.0
    quick: bool = False
    note: str = ""

    def __getitem__(self, key: str) -> Any:
        return self.numbers[key]

    @property
    def table(self) -> Table:
        """The main table."""
        return self.tables[0]

    @property
    def all_hold(self) -> bool:
        """True when every claim holds."""
        return all(c.holds for c in self.claims)

    def figure(self) -> Any:
        """A new matplotlib Figure drawn from the numbers (not shown, not registered)."""
        if self.plot is None:
            raise ValueError(f"experiment {self.name!r} has no figure")
        with style():
            return self.plot(self)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the plot-only arrays, as JSON-able data."""
        return {
            "name": self.name,
            "title": self.title,
            "quick": self.quick,
            "seconds": round(self.seconds, 3),
            "claim": self.claim,
            "setup": self.setup,
            "result": self.result,
            "note": self.note,
            "claims": [c.to_dict() for c in self.claims],
            "tables": [
                {"caption": t.caption, "columns": t.columns, "rows": t.to_records()}
                for t in self.tables
            ],
            "numbers": jsonable(self.numbers),
        }

    def tables_markdown(self, heading: str = "") -> str:
        """Every table in Markdown, each after its caption (if any)."""
        parts = [heading] if heading else []
        for t in self.tables:
            if t.caption:
                parts.append(f"*{t.caption}*")
            parts.append(t.to_markdown())
        return "\n\n".join(parts) + "\n"

    def save(self, out: str | Path, dpi: int = DPI) -> dict[str, Path]:
        """Write ``<name>.png``, ``<name>.md`` and ``<name>.json`` into folder ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "png": out / f"{self.name}.png",
            "md": out / f"{self.name}.md",
            "json": out / f"{self.name}.json",
        }
        fig = self.figure()
        with style():
            paths["png"].write_bytes(png_bytes(fig, dpi))
        paths["md"].write_text(self.tables_markdown(heading=f"### {self.title}"), "utf-8")
        paths["json"].write_text(
            json.dumps(self.to_dict(), indent=1, ensure_ascii=False, allow_nan=False) + "\n",
            "utf-8",
        )
        return paths


# ------------------------------------------------------------------ formatting


def fmt(v: Any) -> str:
    """A table cell: floats with 3–4 significant digits, None as an em dash."""
    if v is None:
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if not math.isfinite(x):
            return "∞" if x > 0 else ("−∞" if x < 0 else "NaN")
        if x == 0:
            return "0"
        if 1e-3 <= abs(x) < 1e4:
            return f"{x:.4g}"
        return f"{x:.2e}"
    return str(v)


def jsonable(obj: Any) -> Any:
    """NumPy scalars/arrays to Python; non-finite floats to None (JSON has no inf)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    return obj


# ------------------------------------------------------------------ figures


@contextmanager
def style() -> Iterator[None]:
    """The report's matplotlib style (font sizes, light grid), for one figure."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A Figure with constrained layout, rendered by Agg; no pyplot, nothing shown."""
    from matplotlib.figure import Figure

    with style():
        return Figure(figsize=(width, height), layout="constrained")


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as a PNG with a 256-colour palette.

    Plots use few colours, so the palette PNG looks the same at a third of the size;
    that keeps the report (which embeds every figure) small. Pillow comes with
    matplotlib.
    """
    from PIL import Image

    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=dpi)
    raw.seek(0)
    with Image.open(raw) as img:
        pal = img.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    pal.save(out, format="png", optimize=True, dpi=(dpi, dpi))
    return out.getvalue()


def plain_log_ticks(ax: Any, axis: str = "y") -> None:
    """Label a log axis 0.2, 0.3, 1, 10 … instead of 2×10⁻¹ (major and minor ticks)."""
    from matplotlib.ticker import FuncFormatter

    def minor(v: float, _: Any) -> str:
        mantissa = round(v / 10 ** np.floor(np.log10(v))) if v > 0 else 0
        return f"{v:g}" if mantissa in (2, 3, 5) else ""

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(FuncFormatter(minor))


def decision_grid(
    net: Any, X: np.ndarray, n: int = 120, pad: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(y = 1) of a 2-D binary network on an n × n grid around X: (xx, yy, P)."""
    x0, x1 = X[:, 0].min() - pad, X[:, 0].max() + pad
    y0, y1 = X[:, 1].min() - pad, X[:, 1].max() + pad
    xx, yy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    P = net.predict_proba(np.c_[xx.ravel(), yy.ravel()])[:, 0].reshape(xx.shape)
    return xx, yy, P


def draw_boundary(
    ax: Any, grid: tuple[np.ndarray, np.ndarray, np.ndarray], X: np.ndarray, y: np.ndarray
) -> None:
    """P(y = 1) as a red–blue background, the 0.5 contour in black, the points on top."""
    xx, yy, P = grid
    ax.contourf(xx, yy, P, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.55)
    if P.min() < 0.5 < P.max():
        ax.contour(xx, yy, P, levels=[0.5], colors="k", linewidths=1.2)
    ax.scatter(X[y == 0, 0], X[y == 0, 1], s=7, c="#1f4e9c", edgecolors="none")
    ax.scatter(X[y == 1, 0], X[y == 1, 1], s=7, c="#b2182b", edgecolors="none")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


# ------------------------------------------------------------------ running


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread while an experiment runs.

    Every matrix here is small (at most 128 × 128). With two BLAS threads on a busy
    2-core machine a 50 × 128 by 128 × 128 product took 208 µs instead of 40 µs: the
    threads spend their time waiting for each other. threadpoolctl comes with
    scikit-learn; without it nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def experiment(fn: Callable[..., ExperimentResult]) -> Callable[..., ExperimentResult]:
    """Decorator for the public experiment functions: one BLAS thread while they run."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> ExperimentResult:
        with one_blas_thread():
            return fn(*args, **kwargs)

    return wrapper


# ------------------------------------------------------------------ training helpers


class EpochRecorder(Callback):
    """After every epoch: the cost J on a fixed set (all of X), and the training time.

    The mini-batch average that ``History`` keeps is measured while the parameters
    move; comparing optimizers needs J(θ) on the same data after each epoch. The time
    spent evaluating is left out of ``seconds`` (cumulative training time).
    """

    def __init__(
        self, X: np.ndarray, y: np.ndarray, extra: Callable[[Network], Any] | None = None
    ) -> None:
        self.X, self.y, self.extra = X, y, extra
        self.cost: list[float] = []
        self.seconds: list[float] = []
        self.extras: list[Any] = []

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._train_time = 0.0
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        now = time.perf_counter()
        self._train_time += now - self._t
        self.seconds.append(self._train_time)
        net = self.trainer.net
        self.cost.append(float(net.loss(self.X, self.y)))
        if self.extra is not None:
            self.extras.append(self.extra(net))
        self._t = time.perf_counter()


def subsample(curve: Sequence[float], max_points: int = 101) -> dict[str, list[Any]]:
    """A long per-epoch curve thinned for JSON: ``{"epoch": [...], "value": [...]}``.

    Epoch 0 and the last epoch are always kept; the full curves stay in ``arrays``.
    """
    n = len(curve)
    idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    return {"epoch": idx.tolist(), "value": [float(curve[i]) for i in idx]}


def first_epoch_at_or_below(costs: Sequence[float], target: float) -> int | None:
    """The first epoch (1-based: after that many epochs) with J ≤ target, or None."""
    for i, J in enumerate(costs):
        if target >= J:
            return i + 1
    return None


def is_monotone(costs: Sequence[float], tol: float = 1e-12) -> bool:
    """True when J never rises from one epoch to the next by more than ``tol``.

    ``tol`` absorbs float64 rounding once J has converged (steps of ~1e-17).
    """
    J = np.asarray(costs, dtype=float)
    return bool(np.isfinite(J).all() and np.all(np.diff(J) <= tol))


def timer() -> Callable[[], float]:
    """``elapsed = timer(); ...; elapsed()`` gives the seconds since the call."""
    t0 = time.perf_counter()
    return lambda: time.perf_counter() - t0


def verdict(holds: bool) -> str:
    """✅ or ❌, for prose."""
    return "✅" if holds else "❌"
