r"""The playground's training sessions, independent of any web framework.

A :class:`Session` holds one browser tab's experiment: the data (train/test split), an
:class:`mlplab.Network`, an :class:`mlplab.Trainer` and what the charts have shown so
far. Every request's JSON is checked by :func:`validate_config` first, so a session is
only ever built from values inside the documented limits (:data:`LIMITS`).

A *frame* (:meth:`Session.frame`) is what the page draws after each training request:

* the decision boundary, P(y = 1 | x) = σ(z[L]) on a G × G grid, as bytes 0..255;
* the cost J (cross-entropy, without the L2 term) and the accuracy on train and test;
* ‖dW[l]‖_F for l = 1..L, the full-batch gradient on the training set;
* a histogram of every hidden layer's activations a[l] over the training set (from
  :meth:`mlplab.Network.forward_cache`), with their mean and standard deviation.
"""

from __future__ import annotations

import base64
import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlplab.core import optimizers as _opt
from mlplab.core.data import Standardizer, load_dataset, train_test_split
from mlplab.core.network import Network
from mlplab.train.loop import DivergenceError, Trainer

SYNTHETIC = ("circles", "moons", "xor", "spiral", "gaussian")
"""The 2-D datasets of :func:`mlplab.data.load_dataset` the playground offers."""

DATASETS = (*SYNTHETIC, "csv")

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "identity")

INITS = (
    "auto",
    "he",
    "xavier",
    "glorot",
    "he_uniform",
    "xavier_uniform",
    "normal",
    "large",
    "zeros",
    "identity(1.5)",
    "identity(0.5)",
)
"""``auto`` is the lecture's rule (He for ReLU-like layers, Xavier otherwise)."""

OPTIMIZERS = ("gd", "minibatch", "momentum", "adam")
"""``gd`` is batch gradient descent, ``minibatch`` mini-batch GD (both :func:`sgd`)."""

LIMITS: dict[str, Any] = {
    "n_points": (20, 2000),
    "noise": (0.0, 1.0),
    "test_fraction": (0.1, 0.9),
    "x2_scale": (0.001, 1000.0),
    "hidden_layers": (0, 12),
    "units": (1, 32),
    "lr": (1e-6, 10.0),
    "beta": (0.0, 0.999),
    "batch_size": (1, 2000),
    "l2": (0.0, 10.0),
    "seed": (0, 2**31 - 1),
    "epochs": (1, 100),
    "csv_bytes": 256 * 1024,
    "csv_rows": (10, 2000),
}
"""Every bound a request is checked against (inclusive)."""

GRID = 48
"""The decision boundary is evaluated on GRID × GRID points."""

HIST_BINS = 30

MAX_SECONDS_PER_REQUEST = 0.25
"""Training stops after the epoch that passes this much wall time (at least one runs)."""

MAX_HISTORY = 20000
"""Frames of history a session keeps for the saved model (older ones are thinned)."""

CSV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.csv$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.npz$")

DEFAULT_CONFIG: dict[str, Any] = {
    "dataset": "circles",
    "csv_file": None,
    "csv_text": None,
    "n_points": 500,
    "noise": 0.1,
    "test_fraction": 0.5,
    "x2_scale": 1.0,
    "normalize": True,
    "hidden": [{"units": 8, "activation": "relu"}, {"units": 8, "activation": "relu"}],
    "init": "auto",
    "optimizer": "adam",
    "lr": 0.03,
    "beta": 0.9,
    "batch_size": 10,
    "l2": 0.0,
    "seed": 0,
}
"""The page's starting point: a [2, 8, 8, 1] ReLU network on 500 circle points."""


class RequestError(ValueError):
    """A request the server refuses; ``status`` is the HTTP code, ``field`` the culprit."""

    def __init__(self, message: str, status: int = 422, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


# ----------------------------------------------------------------- validation


def _number(cfg: dict, key: str, integer: bool = False) -> float | int:
    lo, hi = LIMITS[key]
    value = cfg[key]
    # bool is a subclass of int in Python; JSON true/false is never a number here.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a number"
        raise RequestError(f"{key} must be {kind}, got {value!r}", field=key)
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        raise RequestError(f"{key} must be an integer, got {value!r}", field=key)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise RequestError(f"{key} must lie in [{lo}, {hi}], got {value!r}", field=key)
    return int(value) if integer else float(value)


def _choice(cfg: dict, key: str, options: tuple[str, ...]) -> str:
    value = cfg[key]
    if not isinstance(value, str) or value not in options:
        raise RequestError(f"{key} must be one of {list(options)}, got {value!r}", field=key)
    return value


def validate_config(raw: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check a (possibly partial) configuration and complete it from ``base``.

    Parameters
    ----------
    raw : dict
        JSON object from the request; keys missing from it keep their value in ``base``.
    base : dict, optional
        A configuration already validated (default :data:`DEFAULT_CONFIG`).

    Returns
    -------
    dict
        A full configuration, every value of the right type and inside :data:`LIMITS`.

    Raises
    ------
    RequestError
        Naming the field and the allowed values, for anything else.
    """
    if not isinstance(raw, dict):
        raise RequestError(f"the configuration must be a JSON object, got {type(raw).__name__}")
    base = DEFAULT_CONFIG if base is None else base
    unknown = sorted(set(raw) - set(DEFAULT_CONFIG))
    if unknown:
        raise RequestError(
            f"unknown configuration field(s) {unknown}; known: {sorted(DEFAULT_CONFIG)}",
            field=unknown[0],
        )
    cfg = {**base, **raw}
    out: dict[str, Any] = {}
    out["dataset"] = _choice(cfg, "dataset", DATASETS)
    for key in ("csv_file", "csv_text"):
        if cfg[key] is not None and not isinstance(cfg[key], str):
            raise RequestError(f"{key} must be a string or null", field=key)
    out["csv_file"] = cfg["csv_file"]
    out["csv_text"] = cfg["csv_text"]
    if out["csv_text"] is not None and len(out["csv_text"].encode()) > LIMITS["csv_bytes"]:
        raise RequestError(
            f"csv_text is larger than {LIMITS['csv_bytes'] // 1024} KiB",
            status=413,
            field="csv_text",
        )
    if out["dataset"] == "csv":
        if (out["csv_file"] is None) == (out["csv_text"] is None):
            raise RequestError(
                "dataset 'csv' needs exactly one of csv_file (a file in the data folder) "
                "or csv_text (an uploaded file's content)",
                field="csv_file",
            )
    else:  # a stale CSV must not ride along with a synthetic dataset
        out["csv_file"] = out["csv_text"] = None
    if out["csv_file"] is not None and not CSV_NAME.match(out["csv_file"]):
        raise RequestError(
            f"csv_file must be a plain file name ending in .csv (letters, digits, '.', '_', "
            f"'-'; no folders), got {out['csv_file']!r}",
            field="csv_file",
        )
    out["n_points"] = _number(cfg, "n_points", integer=True)
    out["noise"] = _number(cfg, "noise")
    out["test_fraction"] = _number(cfg, "test_fraction")
    out["x2_scale"] = _number(cfg, "x2_scale")
    if not isinstance(cfg["normalize"], bool):
        raise RequestError(
            f"normalize must be true or false, got {cfg['normalize']!r}", field="normalize"
        )
    out["normalize"] = cfg["normalize"]
    hidden = cfg["hidden"]
    lo, hi = LIMITS["hidden_layers"]
    if not isinstance(hidden, list) or not lo <= len(hidden) <= hi:
        raise RequestError(
            f"hidden must be a list of {lo} to {hi} layers, got {hidden!r}"[:200], field="hidden"
        )
    layers = []
    for i, layer in enumerate(hidden, start=1):
        if not isinstance(layer, dict) or set(layer) != {"units", "activation"}:
            raise RequestError(
                f"hidden[{i - 1}] (layer {i}) must be an object with 'units' and 'activation', "
                f"got {layer!r}"[:200],
                field="hidden",
            )
        try:
            units = _number({"units": layer["units"]}, "units", integer=True)
            act = _choice({"activation": layer["activation"]}, "activation", ACTIVATIONS)
        except RequestError as exc:
            raise RequestError(f"layer {i}: {exc}", field="hidden") from None
        layers.append({"units": units, "activation": act})
    out["hidden"] = layers
    out["init"] = _choice(cfg, "init", INITS)
    out["optimizer"] = _choice(cfg, "optimizer", OPTIMIZERS)
    out["lr"] = _number(cfg, "lr")
    out["beta"] = _number(cfg, "beta")
    out["batch_size"] = _number(cfg, "batch_size", integer=True)
    out["l2"] = _number(cfg, "l2")
    out["seed"] = _number(cfg, "seed", integer=True)
    return out


def validate_epochs(raw: Any) -> int:
    """The ``epochs`` of a step request: an integer in LIMITS["epochs"]."""
    return int(_number({"epochs": raw}, "epochs", integer=True))


# ----------------------------------------------------------------- data


def parse_csv(text: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows ``x1,x2,label`` (comma, semicolon or tab; optional header; ``#`` comments).

    Returns X of shape (n, 2), labels 0/1 and the two original label names (label 0
    first). Exactly two distinct labels are required.
    """
    rows: list[tuple[float, float]] = []
    labels: list[str] = []
    lo, hi = LIMITS["csv_rows"]
    header_allowed = True
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        sep = "," if "," in stripped else (";" if ";" in stripped else None)
        cells = [c.strip() for c in (stripped.split(sep) if sep else stripped.split())]
        if len(cells) != 3:
            raise RequestError(
                f"CSV line {lineno}: expected 3 columns (x1, x2, label), got {len(cells)}",
                field="csv",
            )
        if not (_is_float(cells[0]) and _is_float(cells[1])):
            if header_allowed:  # the first non-comment line may be a header
                header_allowed = False
                continue
            bad = cells[1] if _is_float(cells[0]) else cells[0]
            raise RequestError(f"CSV line {lineno}: {bad!r} is not a number", field="csv")
        header_allowed = False
        x1, x2 = float(cells[0]), float(cells[1])
        if not (math.isfinite(x1) and math.isfinite(x2)):
            raise RequestError(f"CSV line {lineno}: features must be finite", field="csv")
        if not cells[2]:
            raise RequestError(f"CSV line {lineno}: the label is empty", field="csv")
        rows.append((x1, x2))
        labels.append(cells[2])
        if len(rows) > hi:
            raise RequestError(f"CSV has more than {hi} data rows", status=413, field="csv")
    if len(rows) < lo:
        raise RequestError(f"CSV needs at least {lo} data rows, got {len(rows)}", field="csv")
    classes = sorted(set(labels), key=_label_key)
    if len(classes) != 2:
        raise RequestError(
            f"CSV labels must take exactly 2 values (binary classification), got {len(classes)}: "
            f"{classes[:5]}",
            field="csv",
        )
    y = np.array([classes.index(v) for v in labels], dtype=np.int64)
    return np.array(rows, dtype=np.float64), y, classes


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label_key(label: str) -> tuple[int, float, str]:
    return (0, float(label), "") if _is_float(label) else (1, 0.0, label)


def resolve_in_folder(folder: Path | None, name: str, pattern: re.Pattern[str]) -> Path:
    """``folder / name`` for a plain file name, refusing anything that leaves ``folder``.

    The name must match ``pattern`` (no separators, no ``..``), and the resolved path
    (symbolic links followed) must still lie directly inside ``folder``.
    """
    if folder is None:
        raise RequestError("no data folder is configured (start with --data-dir DIR)", status=403)
    if not pattern.match(name) or name in (".", ".."):
        raise RequestError(f"invalid file name {name!r}", status=400, field="name")
    root = folder.resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise RequestError(f"{name!r} is outside the data folder", status=403, field="name")
    return path


def list_csv_files(folder: Path | None) -> list[str]:
    """CSV files directly inside ``folder`` (sorted; links leading outside are left out)."""
    if folder is None:
        return []
    out = []
    root = folder.resolve()
    for p in sorted(root.iterdir()):
        if CSV_NAME.match(p.name) and p.resolve().parent == root and p.resolve().is_file():
            out.append(p.name)
    return out[:200]


def load_data(cfg: dict[str, Any], folder: Path | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """X (n, 2) and y (n,) for a validated configuration, plus the class names."""
    if cfg["dataset"] == "csv":
        if cfg["csv_text"] is not None:
            X, y, classes = parse_csv(cfg["csv_text"])
        else:
            path = resolve_in_folder(folder, cfg["csv_file"], CSV_NAME)
            if not path.is_file():
                raise RequestError(
                    f"no CSV file {cfg['csv_file']!r} in the data folder", status=404
                )
            if path.stat().st_size > LIMITS["csv_bytes"]:
                raise RequestError(
                    f"{cfg['csv_file']} is larger than {LIMITS['csv_bytes'] // 1024} KiB",
                    status=413,
                )
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise RequestError(f"{cfg['csv_file']} is not UTF-8 text") from None
            X, y, classes = parse_csv(text)
    else:
        X, y = load_dataset(
            cfg["dataset"], n_samples=cfg["n_points"], noise=cfg["noise"], seed=cfg["seed"]
        )
        classes = ["0", "1"]
    X = X.copy()
    X[:, 1] *= cfg["x2_scale"]
    return X, y, classes


# ----------------------------------------------------------------- the session


def build_network(cfg: dict[str, Any]) -> Network:
    """The [2, n1, ..., 1] binary network a configuration describes."""
    sizes = [2, *(h["units"] for h in cfg["hidden"]), 1]
    init = None if cfg["init"] == "auto" else cfg["init"]
    return Network(
        sizes,
        hidden=[h["activation"] for h in cfg["hidden"]],
        output="binary",
        init=init,
        seed=cfg["seed"],
        l2=cfg["l2"],
    )


def build_optimizer(cfg: dict[str, Any]) -> _opt.Optimizer:
    """GD and mini-batch GD are ``sgd``; momentum in the lecture's form; Adam with β1 = β."""
    name, lr, beta = cfg["optimizer"], cfg["lr"], cfg["beta"]
    if name in ("gd", "minibatch"):
        return _opt.sgd(lr)
    if name == "momentum":
        return _opt.momentum(lr, beta=beta)
    return _opt.adam(lr, b1=beta)


_REBUILD_KEYS = (
    "dataset",
    "csv_file",
    "csv_text",
    "n_points",
    "noise",
    "test_fraction",
    "x2_scale",
    "normalize",
    "hidden",
    "init",
    "seed",
)
"""Changing one of these starts over (new data or new network); the rest apply live."""


def _finite(x: float) -> float | None:
    """JSON has no inf/NaN: send null instead."""
    return float(x) if math.isfinite(x) else None


@dataclass
class Session:
    """One tab's experiment. All methods that touch the network hold ``lock``."""

    cfg: dict[str, Any]
    folder: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._rebuild()

    # -- set-up ------------------------------------------------------------------
    def _rebuild(self) -> None:
        cfg = self.cfg
        X, y, classes = load_data(cfg, self.folder)
        try:
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, y, test_size=cfg["test_fraction"], seed=cfg["seed"]
            )
        except ValueError as exc:
            raise RequestError(f"cannot split {len(y)} points into train and test: {exc}") from None
        # nothing above changed the session: a refused configuration leaves it as it was
        self.classes = classes
        self.X_train, self.X_test = np.asarray(X_tr), np.asarray(X_te)
        self.y_train, self.y_test = np.asarray(y_tr), np.asarray(y_te)
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = np.maximum((hi - lo) * 0.08, 1e-3)
        self.bounds = np.c_[lo - pad, hi + pad]  # [[x1_min, x1_max], [x2_min, x2_max]]
        gx = np.linspace(self.bounds[0, 0], self.bounds[0, 1], GRID)
        gy = np.linspace(self.bounds[1, 1], self.bounds[1, 0], GRID)  # row 0 at the top
        xx, yy = np.meshgrid(gx, gy)
        self.grid = np.c_[xx.ravel(), yy.ravel()]
        self.net = build_network(cfg)
        if cfg["normalize"]:
            self.net.standardizer = Standardizer().fit(self.X_train)
        self.epoch = 0
        self.step = 0
        self.diverged: str | None = None
        self.history: dict[str, list[float]] = {"train_cost": [], "test_cost": [], "epoch": []}
        self._new_trainer()

    def _new_trainer(self) -> None:
        self.trainer = Trainer(self.net, build_optimizer(self.cfg), seed=self.cfg["seed"])

    @property
    def batch_size(self) -> int | None:
        """None (all training points) for GD or a batch size that covers the whole set."""
        if self.cfg["optimizer"] == "gd" or self.cfg["batch_size"] >= len(self.y_train):
            return None
        return int(self.cfg["batch_size"])

    def reconfigure(self, cfg: dict[str, Any]) -> bool:
        """Apply a validated configuration; True if the session had to start over.

        Data, architecture, initializer, normalization and seed changes rebuild
        everything; optimizer, α, β, batch size and λ apply to the running network
        (a new optimizer starts with a fresh state, v = s = 0).
        """
        rebuild = any(cfg[k] != self.cfg[k] for k in _REBUILD_KEYS)
        old = self.cfg
        self.cfg = cfg
        if rebuild:
            try:
                self._rebuild()
            except Exception:
                self.cfg = old
                raise
            return True
        self.net.l2 = cfg["l2"]
        if any(cfg[k] != old[k] for k in ("optimizer", "lr", "beta")):
            self._new_trainer()
        return False

    def reset(self) -> None:
        """Fresh weights (same seed, same data), epoch 0."""
        self._rebuild()

    # -- training ------------------------------------------------------------------
    def train(self, epochs: int, max_seconds: float = MAX_SECONDS_PER_REQUEST) -> int:
        """Run up to ``epochs`` epochs (at least one, then stop once ``max_seconds`` pass).

        Returns the number of epochs run. After a divergence nothing runs until reset.
        """
        if self.diverged:
            return 0
        start = time.perf_counter()
        done = 0
        bs = self.batch_size
        for _ in range(epochs):
            try:
                self.trainer.fit(self.X_train, self.y_train, epochs=1, batch_size=bs)
            except DivergenceError as exc:
                self.diverged = str(exc).split(" The parameters")[0]
                break
            done += 1
            self.epoch += 1
            if time.perf_counter() - start > max_seconds:
                break
        self.step = self.trainer.step
        return done

    # -- what the page draws -------------------------------------------------------
    def frame(self) -> dict[str, Any]:
        """The current state as plain JSON-able data (see the module docstring)."""
        net = self.net
        with np.errstate(all="ignore"):
            caches = net.forward_cache(self.X_train)
            Z_tr = caches[-1].Z
            Z_te = net.logits(self.X_test)
            head = net.head
            Y_tr = self.y_train[:, None].astype(net.dtype)
            Y_te = self.y_test[:, None].astype(net.dtype)
            J_tr = float(head.loss(Z_tr, Y_tr))
            J_te = float(head.loss(Z_te, Y_te))
            acc_tr = float(((Z_tr[:, 0] > 0) == (self.y_train == 1)).mean())
            acc_te = float(((Z_te[:, 0] > 0) == (self.y_test == 1)).mean())
            _, grads = net.loss_and_grads(self.X_train, self.y_train)
            grad_norms = [_finite(float(np.linalg.norm(g.W))) for g in grads]
            P = head.link(net.logits(self.grid))[:, 0]
            P = np.where(np.isfinite(P), P, 0.5)
            boundary = np.clip(np.rint(P * 255), 0, 255).astype(np.uint8)
            acts = []
            for l, cache in enumerate(caches[:-1], start=1):
                A = cache.A.ravel().astype(np.float64)
                name = net.hidden[l - 1].name
                lo, hi = _hist_range(name)
                finite = A[np.isfinite(A)]
                counts, _ = np.histogram(np.clip(finite, lo, hi), bins=HIST_BINS, range=(lo, hi))
                total = max(int(A.size), 1)
                acts.append(
                    {
                        "layer": l,
                        "activation": name,
                        "range": [lo, hi],
                        "hist": [round(c / total, 4) for c in counts.tolist()],
                        "mean": _finite(float(finite.mean())) if finite.size else None,
                        "std": _finite(float(finite.std())) if finite.size else None,
                    }
                )
        self._record(J_tr, J_te)
        return {
            "epoch": self.epoch,
            "step": self.step,
            "train_cost": _finite(J_tr),
            "test_cost": _finite(J_te),
            "train_accuracy": acc_tr,
            "test_accuracy": acc_te,
            "grad_norms": grad_norms,
            "activations": acts,
            "boundary": base64.b64encode(boundary.tobytes()).decode("ascii"),
            "grid": GRID,
            "diverged": self.diverged,
        }

    def _record(self, J_tr: float, J_te: float) -> None:
        h = self.history
        if h["epoch"] and h["epoch"][-1] == self.epoch:
            return
        h["epoch"].append(float(self.epoch))
        h["train_cost"].append(J_tr)
        h["test_cost"].append(J_te)
        if len(h["epoch"]) > MAX_HISTORY:  # keep every other old frame
            for key in h:
                h[key] = h[key][::2]

    def snapshot(self) -> dict[str, Any]:
        """Everything the page needs after a (re)build: config, data, structure, frame."""

        def pts(X: np.ndarray, y: np.ndarray) -> list[list[float]]:
            return [
                [round(float(a), 5), round(float(b), 5), int(c)]
                for (a, b), c in zip(X, y, strict=True)
            ]

        return {
            "config": self.cfg,
            "layer_sizes": self.net.layer_sizes,
            "init": self.net.init,
            "n_params": self.net.n_params,
            "classes": self.classes,
            "bounds": self.bounds.tolist(),
            "train": pts(self.X_train, self.y_train),
            "test": pts(self.X_test, self.y_test),
            "batch_size": self.batch_size,
            "frame": self.frame(),
        }

    # -- export -----------------------------------------------------------------------
    def python_snippet(self) -> str:
        """Python source that rebuilds the trained network exactly (weights as literals)."""
        net = self.net
        lines = [
            f'"""The network trained in the mlplab playground (epoch {self.epoch}).',
            "",
            f"Layers {net.layer_sizes}, hidden activations {[g.name for g in net.hidden]}, binary",
            "output head (σ + cross-entropy). Use net.predict(X) or net.predict_proba(X)",
            'with X of shape (n_samples, 2)."""',
            "import numpy as np",
            "",
            "import mlplab",
            "",
            f"net = mlplab.Network({net.layer_sizes}, hidden={[g.name for g in net.hidden]}, "
            f'output="binary", dtype="{net.dtype.name}", l2={net.l2!r})',
            "net.weights = [",
        ]
        for W in net.weights:
            lines.append(f"    np.array({_literal(W)}),")
        lines += ["]", "net.biases = ["]
        for b in net.biases:
            lines.append(f"    np.array({_literal(b)}),")
        lines.append("]")
        std = net.standardizer
        if std is not None:
            lines += [
                "# input normalization x' = (x − μ) / σ, with μ, σ of the training set",
                "net.standardizer = mlplab.Standardizer()",
                f"net.standardizer.mean_ = np.array({_literal(std.mean_)})",
                f"net.standardizer.scale_ = np.array({_literal(std.scale_)})",
            ]
        return "\n".join(lines) + "\n"

    def save(self, path: Path) -> Path:
        """Write the network with :func:`mlplab.save` (history and config as metadata)."""
        from mlplab.persist.modelfile import save

        cfg = {k: v for k, v in self.cfg.items() if k != "csv_text"}
        return save(
            self.net,
            path,
            history=self.history,
            metadata={"playground": cfg, "epoch": self.epoch, "classes": self.classes},
        )


def _literal(arr: np.ndarray) -> str:
    # Python floats print the shortest repr that round-trips, so float32 weights come back
    # bit for bit after np.array(...).astype(float32).
    return repr(np.asarray(arr, dtype=np.float64).tolist())


def _hist_range(activation: str) -> tuple[float, float]:
    """The value axis of a layer's histogram: the activation's range, clipped to ±3."""
    if activation == "sigmoid":
        return 0.0, 1.0
    if activation == "tanh":
        return -1.0, 1.0
    if activation == "relu":
        return 0.0, 3.0
    if activation.startswith("leaky_relu"):
        return -1.0, 3.0
    return -3.0, 3.0


# ----------------------------------------------------------------- presets


def _layers(n: int, units: int, act: str) -> list[dict[str, Any]]:
    return [{"units": units, "activation": act} for _ in range(n)]


PRESETS: list[dict[str, Any]] = [
    {
        "id": "identity-1.5",
        "title": "Identity network, W = 1.5·I (exploding)",
        "text": "10 hidden layers of 2 linear units, W[l] = 1.5·I, b = 0: ŷ = 1.5^L x. "
        "The activations grow layer by layer and ‖dW[l]‖ is huge: gradient descent overshoots.",
        "config": {
            "dataset": "gaussian",
            "noise": 0.5,
            "hidden": _layers(10, 2, "identity"),
            "init": "identity(1.5)",
            "optimizer": "gd",
            "lr": 0.01,
        },
    },
    {
        "id": "identity-0.5",
        "title": "Identity network, W = 0.5·I (vanishing)",
        "text": "The same network with W[l] = 0.5·I: ŷ = 0.5^L x ≈ 0. The activations shrink "
        "layer by layer, ‖dW[l]‖ is tiny, and the cost hardly moves from log 2.",
        "config": {
            "dataset": "gaussian",
            "noise": 0.5,
            "hidden": _layers(10, 2, "identity"),
            "init": "identity(0.5)",
            "optimizer": "gd",
            "lr": 0.01,
        },
    },
    {
        "id": "zeros",
        "title": "Zeros initialization (symmetry)",
        "text": "W = 0: every unit of a layer computes the same thing and gets the same "
        "gradient, so the symmetry never breaks: the network acts like one unit per layer.",
        "config": {
            "dataset": "circles",
            "hidden": _layers(2, 8, "sigmoid"),
            "init": "zeros",
            "optimizer": "gd",
            "lr": 1.0,
        },
    },
    {
        "id": "he-depth10",
        "title": "Depth 10, ReLU, He init: Var(W) = 2/n[l-1]",
        "text": "He keeps the variance of a[l] steady through 10 ReLU layers: the activation "
        "strips look alike and the gradient norms stay near one another.",
        "config": {
            "dataset": "circles",
            "hidden": _layers(10, 8, "relu"),
            "init": "he",
            "optimizer": "momentum",
            "lr": 0.05,
            "batch_size": 32,
        },
    },
    {
        "id": "xavier-depth10",
        "title": "Depth 10, ReLU, Xavier init: Var(W) = 1/n[l-1]",
        "text": "Xavier halves the variance at every ReLU layer (ReLU zeroes half the inputs): "
        "a[l] shrinks towards 0 with depth and the gradients are much smaller than with He.",
        "config": {
            "dataset": "circles",
            "hidden": _layers(10, 8, "relu"),
            "init": "xavier",
            "optimizer": "momentum",
            "lr": 0.05,
            "batch_size": 32,
        },
    },
    {
        "id": "gd",
        "title": "Gradient descent, no momentum",
        "text": "Inputs left unnormalized, with x₂ stretched × 10, make the cost a long, narrow "
        "valley. Batch GD with α = 0.1 crawls along it (J ≈ 0.27 after 300 epochs). "
        "Then try the momentum preset.",
        "config": {
            "dataset": "moons",
            "noise": 0.15,
            "x2_scale": 10.0,
            "normalize": False,
            "hidden": _layers(1, 8, "tanh"),
            "init": "xavier",
            "optimizer": "gd",
            "lr": 0.1,
        },
    },
    {
        "id": "momentum",
        "title": "Momentum, β = 0.9 (same α)",
        "text": "The same valley and the same α = 0.1, with v = βv + (1−β)dW, W = W − αv: the "
        "average of past gradients builds up speed along the valley floor "
        "(J ≈ 0.02 after 300 epochs).",
        "config": {
            "dataset": "moons",
            "noise": 0.15,
            "x2_scale": 10.0,
            "normalize": False,
            "hidden": _layers(1, 8, "tanh"),
            "init": "xavier",
            "optimizer": "momentum",
            "lr": 0.1,
            "beta": 0.9,
        },
    },
]
"""The lecture's experiments; each ``config`` is applied on top of :data:`DEFAULT_CONFIG`."""


def preset_config(preset_id: str) -> dict[str, Any]:
    """The full, validated configuration of a preset."""
    for p in PRESETS:
        if p["id"] == preset_id:
            return validate_config(p["config"])
    raise RequestError(
        f"unknown preset {preset_id!r}; choose one of {[p['id'] for p in PRESETS]}", status=404
    )
