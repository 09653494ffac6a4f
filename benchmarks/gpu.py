"""mlplab on a GPU, through PyTorch tensors and CuPy arrays, next to plain PyTorch.

Usage (on a machine with an NVIDIA GPU)::

    python benchmarks/gpu.py --out benchmarks/RESULTS-gpu.md     # writes .md and .json
    python benchmarks/gpu.py --quick                              # smaller data, ~1 min

Without an installed mlplab, from the repository root, with array-api-compat (a small
pure-Python wheel) unpacked into /tmp/site::

    pip install --target /tmp/site array_api_compat-*.whl
    PYTHONPATH=src:/tmp/site python benchmarks/gpu.py --out /tmp/gpu.md

``--device cpu --quick`` runs the same code on CPU tensors (the test suite does that, so
the script is known to run before a GPU is at hand).

Method. The four workloads of ``workloads.py`` (issue 6), each trained by

* ``mlplab-torch``: ``mlplab.fit`` on torch tensors on the device (the network moved there
  first with ``Network.to``);
* ``mlplab-cupy``: ``mlplab.fit`` on CuPy arrays (CUDA only);
* ``pytorch``: a plain PyTorch loop on the same device — ``nn.Linear`` + ``nn.ReLU``,
  ``BCEWithLogitsLoss``/``CrossEntropyLoss``, ``torch.optim.SGD(momentum=0.9)``, the
  epoch's loss summed on the device and read once per epoch;
* ``mlplab-numpy``: mlplab's NumPy fast path on the CPU of the same machine (reference).

All start from the same initial weights, use the same batch size, epochs, optimizer
trajectory (SGD with momentum 0.9 in each library's convention, see workloads.py) and the
same shuffles (NumPy's ``default_rng(seed).permutation`` per epoch, as ``mlplab.fit``), so
the final epoch losses agree up to float32 rounding: a check that all did the same work.
The data are on the device before the clock starts; the time covers the whole training
call (mlplab's input checks included) until the device is idle. One untimed warm-up run
per implementation and workload (CUDA context, kernels, CuPy's kernel compilation), then
``--repeats`` timed runs; samples/s = n_samples × epochs / median seconds.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads

import mlplab
from mlplab.core import optimizers as _opt

MOMENTUM = workloads.MOMENTUM
IMPLS = ["mlplab-torch", "mlplab-cupy", "pytorch", "mlplab-numpy"]


# ---------------------------------------------------------------------- devices
class Device:
    """The device under test: "cuda", "cuda:1" or "cpu" (PyTorch's names)."""

    def __init__(self, name: str) -> None:
        import torch

        self.name = name
        self.torch = torch.device(name)
        self.cuda = self.torch.type == "cuda"
        if not self.cuda:
            # CPU tensors are the smoke test of this script, not a benchmark: one thread
            # keeps PyTorch's thread pool from fighting other processes on a shared host.
            torch.set_num_threads(1)
        if self.cuda and not torch.cuda.is_available():
            raise SystemExit(
                f"--device {name}: PyTorch sees no CUDA device (torch {torch.__version__}); "
                "use --device cpu to run on CPU tensors"
            )

    def sync(self) -> None:
        """Wait until the device has finished everything queued (PyTorch and CuPy)."""
        if not self.cuda:
            return
        import torch

        torch.cuda.synchronize(self.torch)
        cp = _cupy_or_none()
        if cp is not None:
            cp.cuda.Device(self.index).synchronize()

    @property
    def index(self) -> int:
        return self.torch.index or 0

    def describe(self) -> str:
        if not self.cuda:
            return f"CPU ({platform.processor() or platform.machine()})"
        import torch

        p = torch.cuda.get_device_properties(self.torch)
        return f"{p.name}, {p.total_memory / 2**30:.0f} GiB"


def _cupy_or_none() -> Any:
    try:
        import cupy
    except ImportError:
        return None
    return cupy


# ---------------------------------------------------------------------- runs
def _mlplab_net(wl: workloads.Workload) -> mlplab.Network:
    net = mlplab.Network(wl.layer_sizes, hidden="relu", output=wl.output, seed=0)
    net.params = wl.init
    return net


def _mlplab_opt(wl: workloads.Workload) -> Any:
    return _opt.momentum(lr=wl.lr / (1 - MOMENTUM), beta=MOMENTUM)


def run_mlplab_torch(wl: workloads.Workload, dev: Device, seed: int) -> tuple[float, float]:
    import torch

    X = torch.as_tensor(wl.X, device=dev.torch)
    y = torch.as_tensor(wl.y, device=dev.torch)
    net = _mlplab_net(wl).to(X)  # θ on the device before the clock starts
    dev.sync()
    t0 = time.perf_counter()
    hist = mlplab.fit(
        net, X, y, optimizer=_mlplab_opt(wl), epochs=wl.epochs, batch_size=wl.batch_size, seed=seed
    )
    dev.sync()
    return time.perf_counter() - t0, hist.history["loss"][-1]


def run_mlplab_cupy(wl: workloads.Workload, dev: Device, seed: int) -> tuple[float, float]:
    if not dev.cuda:
        raise _SkippedError("CuPy needs a CUDA device")
    cp = _cupy_or_none()
    if cp is None:
        raise _SkippedError("cupy not installed (pip install 'mlplab[cupy]')")
    with cp.cuda.Device(dev.index):
        X, y = cp.asarray(wl.X), cp.asarray(wl.y)
        net = _mlplab_net(wl).to(X)
        dev.sync()
        t0 = time.perf_counter()
        hist = mlplab.fit(
            net,
            X,
            y,
            optimizer=_mlplab_opt(wl),
            epochs=wl.epochs,
            batch_size=wl.batch_size,
            seed=seed,
        )
        dev.sync()
    return time.perf_counter() - t0, hist.history["loss"][-1]


def run_pytorch(wl: workloads.Workload, dev: Device, seed: int) -> tuple[float, float]:
    """Plain PyTorch on the device, the same shuffles as mlplab.fit, loss read per epoch."""
    import torch
    from torch import nn

    layers: list[Any] = []
    for l, (W, b) in enumerate(wl.init):
        lin = nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))  # (n[l], n[l-1]), as in mlplab
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if l < len(wl.init) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers).to(dev.torch)
    opt = torch.optim.SGD(model.parameters(), lr=wl.lr, momentum=MOMENTUM)
    X = torch.as_tensor(wl.X, device=dev.torch)
    if wl.output == "binary":
        loss_fn: Any = nn.BCEWithLogitsLoss()
        Y = torch.as_tensor(wl.y.astype(np.float32).reshape(-1, 1), device=dev.torch)
    else:
        loss_fn = nn.CrossEntropyLoss()
        Y = torch.as_tensor(wl.y, device=dev.torch)
    rng = np.random.default_rng(seed)  # the Generator mlplab.fit shuffles with
    n, bs = wl.n_samples, wl.batch_size
    loss = float("nan")
    dev.sync()
    t0 = time.perf_counter()
    for _ in range(wl.epochs):
        order = torch.as_tensor(rng.permutation(n), device=dev.torch)  # one copy per epoch
        total = torch.zeros((), device=dev.torch)
        for s in range(0, n, bs):
            idx = order[s : s + bs]
            opt.zero_grad(set_to_none=True)
            J = loss_fn(model(X[idx]), Y[idx])
            J.backward()
            opt.step()
            total += J.detach() * idx.shape[0]
        loss = total.item() / n  # one read per epoch, as mlplab
    dev.sync()
    return time.perf_counter() - t0, loss


def run_mlplab_numpy(wl: workloads.Workload, dev: Device, seed: int) -> tuple[float, float]:
    net = _mlplab_net(wl)
    t0 = time.perf_counter()
    hist = mlplab.fit(
        net,
        wl.X,
        wl.y,
        optimizer=_mlplab_opt(wl),
        epochs=wl.epochs,
        batch_size=wl.batch_size,
        seed=seed,
    )
    return time.perf_counter() - t0, hist.history["loss"][-1]


RUNS = {
    "mlplab-torch": run_mlplab_torch,
    "mlplab-cupy": run_mlplab_cupy,
    "pytorch": run_pytorch,
    "mlplab-numpy": run_mlplab_numpy,
}


class _SkippedError(Exception):
    """This implementation cannot run here (the reason is reported)."""


def _shortened(wl: workloads.Workload, epochs: int) -> workloads.Workload:
    return workloads.Workload(
        wl.name,
        wl.X,
        wl.y,
        wl.layer_sizes,
        wl.output,
        wl.batch_size,
        epochs,
        wl.lr,
        wl.description,
        init=wl.init,
    )


def measure(
    wl: workloads.Workload, impl: str, dev: Device, repeats: int, seed: int = 0
) -> dict[str, Any]:
    """One untimed warm-up run (1 epoch), then ``repeats`` timed runs."""
    row: dict[str, Any] = {
        "workload": wl.name,
        "implementation": impl,
        "device": "cpu" if impl == "mlplab-numpy" else str(dev.torch),
        "n_samples": wl.n_samples,
        "epochs": wl.epochs,
        "batch_size": wl.batch_size,
    }
    run = RUNS[impl]
    try:
        run(_shortened(wl, 1), dev, seed)
        times, losses = [], []
        for _ in range(repeats):
            t, loss = run(wl, dev, seed)
            times.append(t)
            losses.append(loss)
    except _SkippedError as exc:
        row["status"] = f"skipped: {exc}"
        return row
    except Exception as exc:  # report and go on: one GPU session must give every number
        traceback.print_exc(file=sys.stderr)
        row["status"] = f"error: {type(exc).__name__}: {exc}"
        return row
    med = statistics.median(times)
    row.update(
        status="ok",
        seconds=times,
        median_seconds=med,
        samples_per_s=wl.n_samples * wl.epochs / med,
        ms_per_epoch=1000 * med / wl.epochs,
        final_loss=losses[-1],
    )
    return row


# ---------------------------------------------------------------------- report
def environment(dev: Device) -> dict[str, str]:
    import torch

    info = {
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "device": dev.describe(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": f"{torch.__version__} (CUDA {torch.version.cuda})",
        "mlplab": mlplab.__version__,
    }
    cp = _cupy_or_none()
    info["cupy"] = cp.__version__ if cp is not None else "not installed"
    try:
        import array_api_compat

        info["array-api-compat"] = array_api_compat.__version__
    except ImportError:
        info["array-api-compat"] = "not installed"
    return info


def _fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def table(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Rows of the report: workload, implementation, device, samples/s, ms/epoch, ×, loss."""
    ref = {
        r["workload"]: r["samples_per_s"]
        for r in rows
        if r["implementation"] == "pytorch" and r.get("status") == "ok"
    }
    out = [["workload", "implementation", "device", "samples/s", "ms/epoch", "vs pytorch", "loss"]]
    for r in rows:
        if r.get("status") != "ok":
            out.append([r["workload"], r["implementation"], r["device"], r["status"], "", "", ""])
            continue
        base = ref.get(r["workload"])
        ratio = None if base is None else r["samples_per_s"] / base
        out.append(
            [
                r["workload"],
                r["implementation"],
                r["device"],
                _fmt(r["samples_per_s"], ",.0f"),
                _fmt(r["ms_per_epoch"], ".1f"),
                "—" if ratio is None else f"×{ratio:.2f}",
                _fmt(r["final_loss"], ".5f"),
            ]
        )
    return out


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    lines = [
        f"## GPU: mlplab on PyTorch and CuPy arrays vs plain PyTorch ({env['device']})",
        "",
        f"Measured with `{result['command']}` (benchmarks/gpu.py; method in its docstring).",
        "samples/s = samples × epochs / median time of the whole training call; "
        "`vs pytorch` is that rate over plain PyTorch's on the same device "
        "(above ×1 means faster than PyTorch). `loss` is the last epoch's mean training "
        "loss, which agrees between implementations when they did the same work.",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in env.items()]
    lines.append("")
    rows = table(result["results"])
    lines.append("| " + " | ".join(rows[0]) + " |")
    lines.append("|" + "|".join("---" for _ in rows[0]) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines) + "\n"


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--quick", action="store_true", help="smaller data and fewer epochs")
    ap.add_argument("--workloads", default="tabular,moons,mnist-shape,wide")
    ap.add_argument("--impls", default=",".join(IMPLS), help=f"any of {','.join(IMPLS)}")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs (3; --quick: 1)")
    ap.add_argument("--epochs", type=int, default=None, help="override every workload's")
    ap.add_argument("--out", default=None, help="write FILE.md and FILE.json (either suffix)")
    ap.add_argument(
        "--into",
        default=None,
        help="also replace the '## GPU' section of this Markdown file (benchmarks/RESULTS.md)",
    )
    args = ap.parse_args(argv)

    try:
        import array_api_compat  # noqa: F401
    except ImportError:
        raise SystemExit(
            "mlplab needs array-api-compat for PyTorch/CuPy arrays: pip install "
            "array-api-compat (or pip install --target /tmp/site array_api_compat-*.whl "
            "and PYTHONPATH=src:/tmp/site)"
        ) from None
    dev = Device(args.device)
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    unknown = sorted(set(impls) - set(IMPLS))
    if unknown:
        raise SystemExit(f"unknown implementation(s) {unknown}; choose from {IMPLS}")
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    wls = [w for w in workloads.make_workloads(quick=args.quick) if w.name in names]
    missing = sorted(set(names) - {w.name for w in wls})
    if missing:
        raise SystemExit(f"unknown workload(s) {missing}")
    if args.epochs is not None:
        wls = [_shortened(w, args.epochs) for w in wls]
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    command = "python benchmarks/gpu.py " + " ".join(argv if argv is not None else sys.argv[1:])

    env = environment(dev)
    print(f"# {env['device']}: " + ", ".join(f"{k} {v}" for k, v in env.items() if k != "device"))
    rows: list[dict[str, Any]] = []
    result = {"command": command.strip(), "environment": env, "results": rows}
    for wl in wls:
        for impl in impls:
            t0 = time.perf_counter()
            row = measure(wl, impl, dev, repeats)
            rows.append(row)
            print(
                f"  {wl.name:<12} {impl:<13} {row.get('status')}"
                f" ({time.perf_counter() - t0:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
            if args.out:  # after every row: a run cut short still leaves its numbers
                write(result, args.out)
    print()
    print_table(table(rows))
    if args.out:
        base = write(result, args.out)
        print(f"\nwrote {base.with_suffix('.md')} and {base.with_suffix('.json')}")
    if args.into:
        replace_section(Path(args.into), markdown(result))
        print(f"updated the GPU section of {args.into}")
    return result


def write(result: dict[str, Any], out: str) -> Path:
    """FILE.json and FILE.md from ``--out FILE`` (with or without either suffix)."""
    base = Path(out)
    if base.suffix in (".md", ".json"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    base.with_suffix(".md").write_text(markdown(result))
    return base


def replace_section(path: Path, section: str) -> None:
    """Put ``section`` in place of the '## GPU' section of ``path`` (appended if none)."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    start = next((i for i, line in enumerate(lines) if line.startswith("## GPU")), None)
    if start is None:
        head, tail = lines, []
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        head, tail = lines[:start], lines[end:]
    text = "".join(head).rstrip("\n")
    text = (text + "\n\n" if text else "") + section.rstrip("\n") + "\n"
    if tail:
        text += "\n" + "".join(tail)
    path.write_text(text)


if __name__ == "__main__":
    main()
