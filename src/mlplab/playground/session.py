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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlplab.core import layer_options as _layer_options
from mlplab.core import optimizers as _opt
from mlplab.core import schedules
from mlplab.core.data import Standardizer, train_test_split
from mlplab.core.network import Network
from mlplab.playground.config import SCHEDULES, RequestError
from mlplab.playground.data import load_data
from mlplab.train.loop import DivergenceError, Trainer

GRID = 48
"""The decision boundary is evaluated on GRID × GRID points."""

HIST_BINS = 30

MAX_SECONDS_PER_REQUEST = 0.25
"""Training stops after the epoch that passes this much wall time (at least one runs)."""

MAX_HISTORY = 20000
"""Frames of history a session keeps for the saved model (older ones are thinned)."""


def build_network(cfg: dict[str, Any]) -> Network:
    """The [2, n1, ..., 1] binary network a configuration describes (with its dropout
    keep probability 1 − ``dropout`` and batch norm on every hidden layer if asked)."""
    sizes = [2, *(h["units"] for h in cfg["hidden"]), 1]
    init = None if cfg["init"] == "auto" else cfg["init"]
    hidden = len(sizes) > 2
    return Network(
        sizes,
        hidden=[h["activation"] for h in cfg["hidden"]],
        output="binary",
        init=init,
        seed=cfg["seed"],
        l2=cfg["l2"],
        keep_prob=1.0 - cfg.get("dropout", 0.0) if hidden else 1.0,
        batch_norm=bool(cfg.get("batch_norm", False)) and hidden,
    )


def build_optimizer(cfg: dict[str, Any], steps_per_epoch: int = 1) -> _opt.Optimizer:
    """GD and mini-batch GD are ``sgd``; momentum in the lecture's form; Adam with β1 = β.

    α follows the configuration's schedule (:data:`SCHEDULES`, counted in epochs of
    ``steps_per_epoch`` steps).
    """
    name, lr, beta = cfg["optimizer"], cfg["lr"], cfg["beta"]
    spec = SCHEDULES[cfg.get("lr_schedule", "constant")]
    if spec != "constant":
        lr = schedules.parse(spec, lr, steps_per_epoch)
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
    "batch_norm",
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
        self.history: dict[str, list[float]] = {
            "train_cost": [],
            "test_cost": [],
            "epoch": [],
            "lr": [],
        }
        self._new_trainer()

    def _new_trainer(self) -> None:
        bs = self.batch_size
        steps = 1 if bs is None else -(-len(self.y_train) // bs)  # mini-batches per epoch
        opt = build_optimizer(self.cfg, steps)
        self.trainer = Trainer(self.net, opt, seed=self.cfg["seed"])

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
        if cfg["dropout"] != old["dropout"] and self.net.L > 1:  # live: p = 1 − dropout
            keep = (1.0 - cfg["dropout"],) * (self.net.L - 1)
            self.net.options = self.net.options._replace(keep_prob=keep)
        live = ["optimizer", "lr", "beta", "dropout", "lr_schedule"]
        if cfg["lr_schedule"] != "constant":  # the schedule counts epochs of n/|B| steps
            live.append("batch_size")
        if any(cfg[k] != old[k] for k in live):
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
        lr = self.learning_rate()
        self._record(J_tr, J_te, lr)
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
            "lr": lr,
        }

    def learning_rate(self) -> float:
        """α of the last step taken (the schedule's α_t; α₀ before the first step)."""
        from mlplab.train import lr as _lr

        if self.trainer.opt_state is None:
            lr = _opt.current_learning_rate(self.trainer.optimizer, _opt.EmptyState(0))
        else:
            lr = _lr.current(self.trainer)
        assert lr is not None  # the playground's optimizers are built-in: α is always known
        return float(lr)

    def _record(self, J_tr: float, J_te: float, lr: float) -> None:
        h = self.history
        if h["epoch"] and h["epoch"][-1] == self.epoch:
            return
        h["epoch"].append(float(self.epoch))
        h["train_cost"].append(J_tr)
        h["test_cost"].append(J_te)
        h["lr"].append(lr)
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
            f'output="binary", dtype="{net.dtype.name}", l2={net.l2!r}{self._options_args()})',
            "net.weights = [",
        ]
        for W in net.weights:
            lines.append(f"    np.array({_literal(W)}),")
        lines += ["]", "net.biases = ["]
        for b in net.biases:
            lines.append(f"    np.array({_literal(b)}),")
        lines.append("]")
        lines += self._norm_lines()
        std = net.standardizer
        if std is not None:
            lines += [
                "# input normalization x' = (x − μ) / σ, with μ, σ of the training set",
                "net.standardizer = mlplab.Standardizer()",
                f"net.standardizer.mean_ = np.array({_literal(std.mean_)})",
                f"net.standardizer.scale_ = np.array({_literal(std.scale_)})",
            ]
        return "\n".join(lines) + "\n"

    def _options_args(self) -> str:
        """``, keep_prob=[...], batch_norm=[...], ...`` when the network has them."""
        return "".join(f", {k}={v!r}" for k, v in _layer_options.config(self.net.options).items())

    def _norm_lines(self) -> list[str]:
        """Batch norm's γ[l], β[l] and running μ[l], σ²[l], written into the network."""
        net, lines = self.net, []
        pairs = zip(net.norm_params, net.running_stats, strict=True)
        for l, (p, st) in enumerate(pairs):
            if p is None:
                continue
            assert st is not None  # a batch-norm layer has both γ, β and running μ, σ²
            lines.append(f"# batch norm of layer {l + 1}: γ, β (trained), running μ, σ²")
            for view, name in ((p, "norm_params"), (st, "running_stats")):
                for key, arr in zip(view._fields, view, strict=True):
                    lines.append(f"net.{name}[{l}].{key}[...] = {_literal(arr)}")
        return lines

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
