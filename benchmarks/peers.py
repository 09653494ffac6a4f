"""More peers for benchmarks/bench.py (issue 19): a plain NumPy loop, JAX and torch.compile.

Each runner has the signature of those in workloads.py — ``run(wl, seed) -> (seconds,
final epoch loss)`` — trains from the workload's shared initial weights with SGD and
momentum 0.9 matched to one trajectory (workloads.py's docstring), and is added to
``workloads.IMPLEMENTATIONS`` by :func:`register`:

* ``numpy-reference``: the lecture's equations in the plainest fast NumPy loop a reader
  would write — fancy-indexed batch, ``A @ W.T + b``, ``np.maximum``, the fused head
  (dZ[L] = (a[L] − y)/m), the lecture's momentum in place on each W[l], b[l] — and nothing
  else: no input check, no divergence check, no checkpoint, no callback. It is the floor
  that mlplab's per-step bookkeeping is measured against ("≥ 0.9× the NumPy reference").
* ``jax-step``: JAX on the CPU, one ``jax.jit`` step (``value_and_grad`` of the loss, then
  PyTorch's momentum form u ← μu + g, θ ← θ − αu), called once per batch from Python.
* ``jax-scan``: the whole epoch as one compiled XLA program: ``lax.scan`` of the same step
  over the epoch's full batches (the short last batch, if any, is one more call of the
  jit step). The epoch's permutation is drawn by NumPy and passed in as an index array.
* ``pytorch-compile``: workloads.run_torch's loop with the model through
  ``torch.compile`` (inductor, C++ on the CPU).

Compilation is never timed: every compiled function is compiled (JAX: ahead of time,
``jit(...).lower(...).compile()``; torch.compile: by a forward and backward on a batch of
each size the epoch uses) before the clock starts, once per workload and process, cached.
JAX runs float32 like the others (its default); the random permutations come from the
same NumPy generator as mlplab-lecture's, so the runs differ only in rounding.
"""

from __future__ import annotations

import importlib.util
import os
import time
from typing import Any

import numpy as np
import workloads

MOMENTUM = workloads.MOMENTUM


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# ------------------------------------------------------------------ NumPy reference
class _Buffers:
    """The reference loop's arrays for batches of m rows, allocated once."""

    def __init__(self, sizes: list[int], m: int) -> None:
        f32 = np.float32
        self.X = np.empty((m, sizes[0]), f32)
        self.Y = np.empty((m, sizes[-1]), f32)
        self.A = [np.empty((m, k), f32) for k in sizes[1:]]  # z[l], then a[l] in place
        self.dZ = [np.empty((m, k), f32) for k in sizes[1:]]
        self.T = np.empty((m, sizes[-1]), f32)  # the head's scratch
        self.mask = [np.empty((m, k), bool) for k in sizes[1:-1]]


def _head(buf: _Buffers, m: int, binary: bool) -> float:
    """Mean cross-entropy J, and dZ[L] = (a[L] − y)/m into buf.dZ[-1] (stable forms)."""
    Z, Y, T, dZ = buf.A[-1], buf.Y, buf.T, buf.dZ[-1]
    if binary:  # J = mean(softplus(z) − y z), a = σ(z) = exp(−softplus(−z))
        np.logaddexp(0, Z, out=T)
        J = float(T.sum() - np.vdot(Y, Z)) / m
        np.negative(Z, out=dZ)
        np.logaddexp(0, dZ, out=dZ)
        np.negative(dZ, out=dZ)
        np.exp(dZ, out=dZ)
    else:  # J = mean(logsumexp(z) − z_y), a = softmax(z)
        np.subtract(Z, Z.max(axis=1, keepdims=True), out=dZ)
        J = -float(np.vdot(Y, dZ))
        np.exp(dZ, out=dZ)
        S = dZ.sum(axis=1, keepdims=True)
        J = (J + float(np.log(S).sum())) / m
        dZ /= S
    dZ -= Y
    dZ *= np.float32(1 / m)
    return J


def run_numpy_reference(wl: workloads.Workload, seed: int = 0) -> tuple[float, float]:
    """The lecture's equations (ReLU hidden layers) in a tight NumPy loop, no checks.

    What an expert writes for speed with NumPy calls alone: θ and dJ/dθ are flat vectors
    with W[l], b[l] as views (so the momentum step is three whole-vector operations); the
    batch is gathered by ``np.take`` into a buffer; every z[l], a[l], dZ[l] is written
    into a buffer allocated once per batch size (``out=``); products by ``ndarray.dot``.
    """
    binary, sizes = wl.output == "binary", wl.layer_sizes
    shapes = [W.shape for W, _ in wl.init]
    n_par = sum(r * c + r for r, c in shapes)
    theta, grad = np.empty(n_par, np.float32), np.empty(n_par, np.float32)

    def views(flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        out, k = [], 0
        for r, c in shapes:
            out.append((flat[k : k + r * c].reshape(r, c), flat[k + r * c : k + r * c + r]))
            k += r * c + r
        return out

    params, grads = views(theta), views(grad)
    for (W, b), (W0, b0) in zip(params, wl.init, strict=True):
        W[...], b[...] = W0, b0
    v = np.zeros_like(theta)
    lr = np.float32(wl.lr / (1 - MOMENTUM))  # the lecture's form: v = βv + (1−β)g
    beta, one_m = np.float32(MOMENTUM), np.float32(1 - MOMENTUM)
    t0 = time.perf_counter()
    X = wl.X
    Y = (
        wl.y.astype(np.float32).reshape(-1, 1)
        if binary
        else np.eye(sizes[-1], dtype=np.float32)[wl.y]
    )
    rng = np.random.default_rng(seed)
    n, bsz, L = wl.n_samples, wl.batch_size, len(shapes)
    bufs = {m: _Buffers(sizes, m) for m in {bsz, n % bsz} - {0}}
    loss = 0.0
    for _ in range(wl.epochs):
        total = 0.0
        order = rng.permutation(n)
        for s in range(0, n, bsz):
            idx = order[s : s + bsz]
            m = idx.shape[0]
            buf = bufs[m]
            np.take(X, idx, axis=0, out=buf.X)
            np.take(Y, idx, axis=0, out=buf.Y)
            A_prev = buf.X
            for l, (W, b) in enumerate(params):  # z[l] = W[l] a[l-1] + b[l]
                Z = buf.A[l]
                A_prev.dot(W.T, out=Z)
                Z += b
                if l < L - 1:  # a[l] = relu(z[l]), in place
                    np.maximum(Z, 0, out=Z)
                A_prev = Z
            total += _head(buf, m, binary) * m
            for l in range(L - 1, -1, -1):
                dZ, (gW, gb) = buf.dZ[l], grads[l]
                dZ.T.dot(buf.A[l - 1] if l else buf.X, out=gW)  # dW[l] = dZ[l]ᵀ a[l-1]
                dZ.sum(axis=0, out=gb)
                if l:  # dZ[l-1] = (dZ[l] W[l]) ⊙ relu'(z[l-1])
                    dZ.dot(params[l][0], out=buf.dZ[l - 1])
                    np.greater(buf.A[l - 1], 0, out=buf.mask[l - 1])
                    buf.dZ[l - 1] *= buf.mask[l - 1]
            v *= beta  # v = βv + (1−β)g; θ = θ − αv
            grad *= one_m
            v += grad
            np.multiply(v, lr, out=grad)
            theta -= grad
        loss = total / n
    return time.perf_counter() - t0, loss


# ------------------------------------------------------------------------------ JAX
_JAX_CACHE: dict[tuple[Any, ...], Any] = {}


def _jax_functions(wl: workloads.Workload) -> tuple[Any, Any]:
    """(step, epoch) compiled for this workload's shapes; built and compiled once."""
    key = (wl.name, wl.n_samples, wl.batch_size, tuple(wl.layer_sizes), wl.output)
    if key in _JAX_CACHE:
        return _JAX_CACHE[key]
    import jax
    import jax.numpy as jnp

    binary = wl.output == "binary"
    lr, mu = np.float32(wl.lr), np.float32(MOMENTUM)

    def loss_fn(params, xb, yb):
        A = xb
        for W, b in params[:-1]:
            A = jax.nn.relu(A @ W.T + b)
        W, b = params[-1]
        Z = A @ W.T + b
        if binary:
            return jnp.mean(jnp.logaddexp(0.0, Z) - yb * Z)
        return jnp.mean(jax.nn.logsumexp(Z, axis=1) - jnp.sum(Z * yb, axis=1))

    def step(params, vel, xb, yb):
        J, g = jax.value_and_grad(loss_fn)(params, xb, yb)
        vel = jax.tree_util.tree_map(lambda u, gi: mu * u + gi, vel, g)
        params = jax.tree_util.tree_map(lambda p, u: p - lr * u, params, vel)
        return params, vel, J

    def epoch(params, vel, X, Y, idx):  # idx: (n_full_batches, batch_size)
        def body(carry, rows):
            p, v = carry
            p, v, J = step(p, v, X[rows], Y[rows])
            return (p, v), J

        (params, vel), Js = jax.lax.scan(body, (params, vel), idx)
        return params, vel, Js

    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in wl.init]
    vel = jax.tree_util.tree_map(jnp.zeros_like, params)
    X, Y = _jax_data(wl)
    n, bs = wl.n_samples, wl.batch_size
    full, rest = n // bs, n % bs
    steps = {}
    for m in {bs, rest} - {0}:
        xb, yb = X[:m], Y[:m]
        steps[m] = jax.jit(step).lower(params, vel, xb, yb).compile()
    idx = jnp.zeros((full, bs), dtype=jnp.int32)
    epoch_c = jax.jit(epoch).lower(params, vel, X, Y, idx).compile()
    _JAX_CACHE[key] = (steps, epoch_c)
    return steps, epoch_c


def _jax_data(wl: workloads.Workload) -> tuple[Any, Any]:
    import jax.numpy as jnp

    if wl.output == "binary":
        Y = wl.y.astype(np.float32).reshape(-1, 1)
    else:
        Y = np.eye(wl.layer_sizes[-1], dtype=np.float32)[wl.y]
    return jnp.asarray(wl.X), jnp.asarray(Y)


def _run_jax(wl: workloads.Workload, seed: int, scan: bool) -> tuple[float, float]:
    import jax
    import jax.numpy as jnp

    steps, epoch_c = _jax_functions(wl)  # compiled before the clock starts
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in wl.init]
    vel = jax.tree_util.tree_map(jnp.zeros_like, params)
    rng = np.random.default_rng(seed)
    n, bs = wl.n_samples, wl.batch_size
    full = n // bs
    t0 = time.perf_counter()
    X, Y = _jax_data(wl)
    loss = 0.0
    for _ in range(wl.epochs):
        order = rng.permutation(n).astype(np.int32)
        if scan:
            params, vel, Js = epoch_c(params, vel, X, Y, order[: full * bs].reshape(full, bs))
            total = Js.sum() * bs
            starts = range(full * bs, n, bs)
        else:
            total = 0.0
            starts = range(0, n, bs)
        for s in starts:
            rows = order[s : s + bs]
            params, vel, J = steps[len(rows)](params, vel, X[rows], Y[rows])
            total = total + J * len(rows)
        loss = float(total) / n  # also waits for the epoch's last step
    jax.block_until_ready(params)
    return time.perf_counter() - t0, loss


def run_jax_step(wl: workloads.Workload, seed: int = 0) -> tuple[float, float]:
    """JAX CPU, one jit-compiled step per batch."""
    return _run_jax(wl, seed, scan=False)


def run_jax_scan(wl: workloads.Workload, seed: int = 0) -> tuple[float, float]:
    """JAX CPU, each epoch one compiled ``lax.scan`` over its full batches."""
    return _run_jax(wl, seed, scan=True)


# -------------------------------------------------------------------- torch.compile
_TORCH_COMPILED: dict[tuple[Any, ...], Any] = {}


def run_torch_compile(wl: workloads.Workload, seed: int = 0) -> tuple[float, float]:
    """workloads.run_torch with ``torch.compile``'s model (compiled before timing)."""
    import torch

    torch.set_num_threads(2)
    key = (wl.name, wl.n_samples, wl.batch_size)
    if key not in _TORCH_COMPILED:
        model = _torch_model(wl)
        compiled = torch.compile(model, dynamic=False)
        for m in {wl.batch_size, wl.n_samples % wl.batch_size} - {0}:  # every batch size
            compiled(torch.from_numpy(wl.X[:m])).sum().backward()
        _TORCH_COMPILED[key] = (model, compiled)
    model, compiled = _TORCH_COMPILED[key]
    with torch.no_grad():
        for lin, (W, b) in zip(
            (m for m in model if isinstance(m, torch.nn.Linear)), wl.init, strict=True
        ):
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
    return workloads.torch_loop(wl, model, compiled, seed)


def _torch_model(wl: workloads.Workload) -> Any:
    from torch import nn

    layers: list[Any] = []
    for l, (W, _) in enumerate(wl.init):
        layers.append(nn.Linear(W.shape[1], W.shape[0]))
        if l < len(wl.init) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


# ------------------------------------------------------------- JAX in its own process
class Isolated:
    """A runner executed in one persistent child process instead of this one.

    XLA keeps a pool of worker threads that stay busy between calls: in the process that
    also runs PyTorch, on this 2-core machine, PyTorch's tabular epoch took 23.6 ms against
    12.5 ms without JAX loaded (median of 4, quick tabular). So the JAX runners run in a
    child process of their own (``spawn``: a fresh interpreter), one at a time like every
    other run; each workload is sent to it once (pickled) and cached there, and the child
    times the run itself, as every runner does.
    """

    _conn: Any = None
    _proc: Any = None
    _sent: set[tuple[Any, ...]] = set()  # noqa: RUF012 - shared by the runners, on purpose

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, wl: workloads.Workload, seed: int = 0) -> tuple[float, float]:
        import multiprocessing as mp

        cls = type(self)
        if cls._conn is None:
            ctx = mp.get_context("spawn")
            cls._conn, child = ctx.Pipe()
            cls._proc = ctx.Process(target=_child, args=(child,), daemon=True)
            cls._proc.start()
        key = (wl.name, wl.n_samples, wl.batch_size, wl.epochs, id(wl.X))
        cls._conn.send((self.name, key, None if key in cls._sent else wl, seed))
        cls._sent.add(key)
        while not cls._conn.poll(1.0):
            if not cls._proc.is_alive():
                raise RuntimeError(f"the process of {self.name} died ({cls._proc.exitcode})")
        ok, out = cls._conn.recv()
        if not ok:
            raise RuntimeError(f"{self.name} failed in its process:\n{out}")
        return out


def _child(conn: Any) -> None:
    import traceback

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    cache: dict[tuple[Any, ...], workloads.Workload] = {}
    runners = {"jax-step": run_jax_step, "jax-scan": run_jax_scan}
    while True:
        try:
            name, key, wl, seed = conn.recv()
        except EOFError:
            return
        if wl is not None:
            cache[key] = wl
        try:
            conn.send((True, runners[name](cache[key], seed)))
        except Exception:
            conn.send((False, traceback.format_exc()))


# ------------------------------------------------------------- mlplab's other paths
def run_mlplab_compiled(wl: workloads.Workload, seed: int = 0) -> tuple[float, float]:
    """workloads.run_mlplab with ``MLPLAB_COMPILED=always``: the Numba steps (when they
    apply; the mlplab column runs the default, ``auto``, which takes them only for fits of
    20000 steps and more, where importing Numba pays)."""
    old = os.environ.get("MLPLAB_COMPILED")
    os.environ["MLPLAB_COMPILED"] = "always"
    try:
        return workloads.run_mlplab(wl, seed)
    finally:
        if old is None:
            del os.environ["MLPLAB_COMPILED"]
        else:
            os.environ["MLPLAB_COMPILED"] = old


def run_mlplab_torch(wl: workloads.Workload, seed: int = 0) -> tuple[float, float]:
    """mlplab's Trainer on PyTorch CPU tensors (the array-API path, ``--backend torch``):
    X, y handed over as tensors, 2 threads like the PyTorch column."""
    import torch

    import mlplab

    torch.set_num_threads(2)
    net = workloads._mlplab_net(wl)
    opt = mlplab.optimizers.momentum(lr=wl.lr / (1 - MOMENTUM), beta=MOMENTUM)
    X, y = torch.from_numpy(wl.X), torch.from_numpy(wl.y)
    t0 = time.perf_counter()
    hist = mlplab.fit(
        net, X, y, optimizer=opt, epochs=wl.epochs, batch_size=wl.batch_size, seed=seed
    )
    return time.perf_counter() - t0, hist.history["loss"][-1]


# ---------------------------------------------------------------------------- register
COMPILED_MAX_PARAMS = 1 << 15  # mlplab.fast.compiled.MAX_PARAMS


def applies(name: str, wl: workloads.Workload) -> bool:
    """Whether runner ``name`` shows something on ``wl``: the compiled steps run only on
    small networks (elsewhere they would time the NumPy path again), the PyTorch backend
    is the one for large products."""
    if name == "mlplab-compiled":
        return wl.n_params <= COMPILED_MAX_PARAMS
    if name == "mlplab-torch":
        return wl.n_params > COMPILED_MAX_PARAMS
    return True


def register(torch_compile: bool = False) -> list[str]:
    """Add the peers that can run here to ``workloads.IMPLEMENTATIONS``; their names."""
    names = ["numpy-reference"]
    workloads.IMPLEMENTATIONS["numpy-reference"] = run_numpy_reference
    if available("numba"):
        workloads.IMPLEMENTATIONS["mlplab-compiled"] = run_mlplab_compiled
        names.append("mlplab-compiled")
    if available("torch"):
        workloads.IMPLEMENTATIONS["mlplab-torch"] = run_mlplab_torch
        names.append("mlplab-torch")
    if available("jax"):
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        workloads.IMPLEMENTATIONS["jax-step"] = Isolated("jax-step")
        workloads.IMPLEMENTATIONS["jax-scan"] = Isolated("jax-scan")
        names += ["jax-step", "jax-scan"]
    if torch_compile and available("torch"):
        workloads.IMPLEMENTATIONS["pytorch-compile"] = run_torch_compile
        names.append("pytorch-compile")
    return names
