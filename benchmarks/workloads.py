"""The four workloads of issue 6 and one training run per implementation.

Every implementation gets the same data (float32), the same architecture, the same initial
weights (drawn once by mlplab and copied), the same batch size and epochs, and the same
optimizer: mini-batch SGD with momentum 0.9, written in each library's convention and
matched to one trajectory:

* PyTorch ``SGD(lr=α, momentum=μ)``: u ← μu + g, θ ← θ − αu;
* scikit-learn ``solver="sgd"``: v ← μv − αg, θ ← θ + v (the same trajectory, v = −αu);
* mlplab ``momentum(lr=α/(1−μ), beta=μ)``: the lecture's v ← μv + (1−μ)g, θ ← θ − α'v,
  where v = (1−μ)u, so α' = α/(1−μ) takes the same steps.

Each run returns the wall time of the whole training call (all epochs, including the
library's own input checks) and the final training loss, a check that every
implementation did the same work.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The old documented paths: they exist in 1413e4d and are kept as aliases by the layered
# package, so benchmarks/compare.py can run this file against the trees before and after.
import mlplab
from mlplab import network as _net
from mlplab import optimizers as _opt

MOMENTUM = 0.9


@dataclass
class Workload:
    """One benchmark problem: data, architecture, batch size, epochs, learning rate."""

    name: str
    X: np.ndarray  # float32, C-contiguous
    y: np.ndarray  # int labels
    layer_sizes: list[int]
    output: str  # "binary" or "multiclass"
    batch_size: int
    epochs: int
    lr: float  # α in PyTorch's / scikit-learn's convention
    description: str = ""
    init: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n_samples // self.batch_size)

    @property
    def n_params(self) -> int:
        s = self.layer_sizes
        return sum(s[l] * s[l - 1] + s[l] for l in range(1, len(s)))

    def flops_per_epoch(self) -> float:
        """Multiply-adds ×2 of the matrix products in one epoch (forward + backward).

        Per sample: forward Σ 2 n[l] n[l-1]; backward dW[l] the same, and dA[l-1] for
        l ≥ 2 (dA[0] is never computed). Element-wise work is not counted.
        """
        s = self.layer_sizes
        prods = [s[l] * s[l - 1] for l in range(1, len(s))]
        per_sample = 2 * (2 * sum(prods) + sum(prods[1:]))
        return float(per_sample * self.n_samples)

    def data_bytes(self) -> int:
        """X in float32 plus the targets as the network sees them (n × n[L] float32)."""
        return self.X.nbytes + self.n_samples * self.layer_sizes[-1] * 4

    def activation_bytes(self) -> int:
        """One batch of activations a[0], ..., a[L] in float32."""
        return self.batch_size * sum(self.layer_sizes) * 4

    def param_bytes(self) -> int:
        return self.n_params * 4


def _standardize(X: np.ndarray) -> np.ndarray:
    sd = X.std(axis=0)
    return ((X - X.mean(axis=0)) / np.where(sd == 0, 1, sd)).astype(np.float32)


def make_workloads(quick: bool = False, seed: int = 0) -> list[Workload]:
    """The four workloads of issue 6 (``quick``: fewer rows and epochs, same shapes)."""
    from sklearn.datasets import load_breast_cancer, make_moons

    rng = np.random.default_rng(seed)
    out = []

    Xb, yb = load_breast_cancer(return_X_y=True)
    out.append(
        Workload(
            "tabular",
            np.ascontiguousarray(_standardize(Xb)),
            yb.astype(np.int64),
            [30, 16, 8, 1],
            "binary",
            32,
            20 if quick else 200,
            0.01,
            "breast-cancer 569×30 standardized",
        )
    )

    Xm, ym = make_moons(2000 if quick else 10000, noise=0.2, random_state=seed)
    out.append(
        Workload(
            "moons",
            np.ascontiguousarray(Xm.astype(np.float32)),
            ym.astype(np.int64),
            [2, 64, 64, 1],
            "binary",
            64,
            3 if quick else 30,
            0.01,
            f"make_moons({len(ym)}, noise=0.2)",
        )
    )

    n = 6000 if quick else 60000
    # Synthetic "MNIST shape": pixels in [0, 1), 10 classes from a fixed random linear
    # teacher, so that the loss goes down as it would on real digits.
    Xs = rng.random((n, 784), dtype=np.float32)
    teacher = rng.standard_normal((784, 10)).astype(np.float32)
    ys = ((Xs - 0.5) @ teacher).argmax(axis=1)
    out.append(
        Workload(
            "mnist-shape",
            Xs,
            ys.astype(np.int64),
            [784, 256, 128, 10],
            "multiclass",
            128,
            1 if quick else 2,
            0.01,
            f"synthetic {n}×784, 10 classes",
        )
    )

    n = 2048 if quick else 16384
    Xw = rng.standard_normal((n, 1024), dtype=np.float32)
    w = rng.standard_normal(1024).astype(np.float32)
    yw = (Xw @ w > 0).astype(np.int64)
    out.append(
        Workload(
            "wide",
            Xw,
            yw,
            [1024, 1024, 1024, 1],
            "binary",
            256,
            1 if quick else 2,
            0.001,
            f"synthetic {n}×1024 binary",
        )
    )
    for wl in out:
        net = mlplab.Network(wl.layer_sizes, hidden="relu", output=wl.output, seed=seed)
        wl.init = [(W.copy(), b.copy()) for W, b in net.params]
    return out


# --------------------------------------------------------------------------- mlplab
def _mlplab_net(wl: Workload) -> mlplab.Network:
    net = mlplab.Network(wl.layer_sizes, hidden="relu", output=wl.output, seed=0)
    net.params = wl.init
    return net


def run_mlplab(wl: Workload, seed: int = 0) -> tuple[float, float]:
    """mlplab's Trainer (the fast path). Returns (seconds, final epoch loss)."""
    net = _mlplab_net(wl)
    opt = _opt.momentum(lr=wl.lr / (1 - MOMENTUM), beta=MOMENTUM)
    t0 = time.perf_counter()
    hist = mlplab.fit(
        net, wl.X, wl.y, optimizer=opt, epochs=wl.epochs, batch_size=wl.batch_size, seed=seed
    )
    dt = time.perf_counter() - t0
    return dt, hist.history["loss"][-1]


def run_mlplab_lecture(wl: Workload, seed: int = 0) -> tuple[float, float]:
    """The lecture-shaped loop: ``network.loss_and_grads`` + pure ``update`` + ``apply_updates``.

    What a reader meets first, with no buffers reused: each step gathers the batch with
    fancy indexing, allocates every z[l], a[l] and gradient, and the optimizer returns new
    arrays. It is the yardstick for the Trainer's fast path.
    """
    net = _mlplab_net(wl)
    opt = _opt.momentum(lr=wl.lr / (1 - MOMENTUM), beta=MOMENTUM)
    t0 = time.perf_counter()
    X = net._prepare_X(wl.X)
    Y = net._prepare_y(wl.y, X.shape[0])
    params = net.params
    state = opt.init(params)
    rng = np.random.default_rng(seed)
    n, bs = X.shape[0], wl.batch_size
    loss = 0.0
    for _ in range(wl.epochs):
        total = 0.0
        order = rng.permutation(n)
        for s in range(0, n, bs):
            idx = order[s : s + bs]
            J, grads = _net.loss_and_grads(params, X[idx], Y[idx], net.hidden, net.head)
            updates, state = opt.update(grads, state, params)
            params = _opt.apply_updates(params, updates)
            total += J * len(idx)
        loss = total / n
    dt = time.perf_counter() - t0
    return dt, loss


# ---------------------------------------------------------------------- scikit-learn
def run_sklearn(wl: Workload, seed: int = 0) -> tuple[float, float]:
    """scikit-learn's MLPClassifier, solver="sgd", momentum 0.9 without Nesterov, float32."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=tuple(wl.layer_sizes[1:-1]),
        activation="relu",
        solver="sgd",
        alpha=0.0,
        batch_size=wl.batch_size,
        learning_rate="constant",
        learning_rate_init=wl.lr,
        momentum=MOMENTUM,
        nesterovs_momentum=False,
        max_iter=wl.epochs,
        shuffle=True,
        random_state=seed,
        tol=0.0,
        n_iter_no_change=wl.epochs + 1,  # never stop early
        early_stopping=False,
        warm_start=True,
    )
    # One tiny fit builds the estimator's structures (in float32, from float32 X); then
    # the initial weights are replaced by the shared ones, transposed into scikit-learn's
    # (n[l-1], n[l]) layout. warm_start keeps them; the optimizer restarts from v = 0.
    k = max(wl.batch_size, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_params(max_iter=1)
        clf.fit(wl.X[:k], wl.y[:k])
    if len(clf.classes_) != len(np.unique(wl.y)):
        raise RuntimeError("the warm-up slice must contain every class")
    clf.coefs_ = [np.ascontiguousarray(W.T) for W, _ in wl.init]
    clf.intercepts_ = [b.copy() for _, b in wl.init]
    clf.set_params(max_iter=wl.epochs)
    n_before = len(clf.loss_curve_)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(wl.X, wl.y)
    dt = time.perf_counter() - t0
    if clf.coefs_[0].dtype != np.float32:
        raise RuntimeError(f"scikit-learn trained in {clf.coefs_[0].dtype}, not float32")
    if len(clf.loss_curve_) - n_before != wl.epochs:
        raise RuntimeError("scikit-learn stopped before the last epoch")
    return dt, float(clf.loss_curve_[-1])


# ---------------------------------------------------------------------------- PyTorch
def torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def run_torch(wl: Workload, seed: int = 0) -> tuple[float, float]:
    """PyTorch CPU: a plain loop, nn.Linear layers, SGD(momentum=0.9), 2 threads."""
    import torch
    from torch import nn

    torch.set_num_threads(2)
    layers: list[Any] = []
    for l, (W, b) in enumerate(wl.init):
        lin = nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))  # PyTorch stores W as (n[l], n[l-1]) too
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if l < len(wl.init) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    return torch_loop(wl, model, model, seed)


def torch_loop(wl: Workload, model: Any, forward: Any, seed: int = 0) -> tuple[float, float]:
    """The timed PyTorch loop: ``forward`` (``model`` or its torch.compile'd form) on
    random-permutation batches, SGD(momentum=0.9) on ``model``'s parameters."""
    import torch
    from torch import nn

    opt = torch.optim.SGD(model.parameters(), lr=wl.lr, momentum=MOMENTUM)
    if wl.output == "binary":
        loss_fn: Any = nn.BCEWithLogitsLoss()
        Yt = torch.from_numpy(wl.y.astype(np.float32).reshape(-1, 1))
    else:
        loss_fn = nn.CrossEntropyLoss()
        Yt = torch.from_numpy(wl.y)
    Xt = torch.from_numpy(wl.X)
    gen = torch.Generator().manual_seed(seed)
    n, bs = wl.n_samples, wl.batch_size
    loss = 0.0
    t0 = time.perf_counter()
    for _ in range(wl.epochs):
        total = 0.0
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, bs):
            idx = perm[s : s + bs]
            xb, yb = Xt[idx], Yt[idx]
            opt.zero_grad()
            J = loss_fn(forward(xb), yb)
            J.backward()
            opt.step()
            total += J.item() * len(idx)
        loss = total / n
    dt = time.perf_counter() - t0
    return dt, loss


# ------------------------------------------------------------------------- the floor
def run_matmuls(wl: Workload, seed: int = 0) -> tuple[float, float]:
    """Only the matrix products of training, nothing else: the floor of a NumPy loop.

    Every step of every epoch does what mlplab's and scikit-learn's steps both do through
    NumPy's BLAS, with the same shapes and memory layouts (each W[l] stored as W[l]ᵀ, row
    by row: scikit-learn's ``coefs_`` and mlplab's θ): the forward products a[l-1] W[l]ᵀ,
    then dW[l] = dZ[l]ᵀ a[l-1] for every layer and dA[l-1] = dZ[l] W[l] for l > 1. No
    gather, activation, head, bias, optimizer or Python bookkeeping: an implementation
    that calls the same BLAS cannot take less time per epoch than this, so other/this
    bounds the speed-up any such implementation can reach. Returns (seconds, NaN).
    """
    f32 = np.float32
    rng = np.random.default_rng(seed)
    Ws = [np.ascontiguousarray(W.T, dtype=f32).T for W, _ in wl.init]  # W[l]ᵀ row by row
    s, L = wl.layer_sizes, len(wl.layer_sizes) - 1
    n, bs = wl.n_samples, wl.batch_size
    sizes = [min(bs, n - i) for i in range(0, n, bs)]
    bufs = {}
    for b in set(sizes):
        Xb = rng.standard_normal((b, s[0]), dtype=f32)
        Z = [np.empty((b, s[l + 1]), f32) for l in range(L)]
        dZ = [rng.standard_normal((b, s[l + 1]), dtype=f32) for l in range(L)]
        bufs[b] = (Xb, Z, dZ)
    gWT = [np.empty_like(W.T) for W in Ws]  # dW[l]ᵀ, laid out like W[l]ᵀ
    t0 = time.perf_counter()
    for _ in range(wl.epochs):
        for b in sizes:
            Xb, Z, dZ = bufs[b]
            A = Xb
            for l in range(L):
                A.dot(Ws[l].T, out=Z[l])
                A = Z[l]
            for l in range(L - 1, -1, -1):
                (Xb if l == 0 else Z[l - 1]).T.dot(dZ[l], out=gWT[l])
                if l > 0 and Ws[l].shape[0] == 1:  # as mlplab: an outer product
                    np.multiply(dZ[l], Ws[l], out=dZ[l - 1])
                elif l > 0:
                    dZ[l].dot(Ws[l], out=dZ[l - 1])
    return time.perf_counter() - t0, float("nan")


IMPLEMENTATIONS = {
    "mlplab": run_mlplab,
    "scikit-learn": run_sklearn,
    "pytorch": run_torch,
    "mlplab-lecture": run_mlplab_lecture,
    "matmuls only": run_matmuls,
}
