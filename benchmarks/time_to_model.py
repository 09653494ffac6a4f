"""Time to a trained model: whole processes, from interpreter start to predictions (issue 19).

Each implementation is one fresh Python process that imports its library, reads the CSV
file, splits it (the same rows for all: a fixed permutation, the first 75 % train),
standardizes with the training rows' statistics, builds a ReLU network with the hidden
layers below, trains it for 100 epochs of mini-batch SGD with momentum 0.9 (batch 32, the
same trajectory in each library's convention: workloads.py), predicts the test rows and
prints the test accuracy as JSON. The CLI does the same job its own way: ``mlplab train
--data FILE --target target`` splits (stratified, 25 % test), standardizes, trains and
reports the test accuracy.

Each script reads the file its library's own way: mlplab with ``mlplab.read_csv`` (the
CLI's reader; a small file without importing pandas), the others with ``pandas.read_csv``
(none of them has a CSV reader of its own). mlplab-api-pandas is the mlplab-api script of
before, reading through pandas, kept so that both are visible.

* mlplab-cli: ``python -m mlplab train --data ... --json --quiet``
* mlplab-api: ``mlplab.read_csv``, ``mlplab.Network``, ``mlplab.fit``, ``net.predict``
* mlplab-api-pandas: the same with ``pandas.read_csv``
* scikit-learn: ``pandas.read_csv``, ``MLPClassifier(solver="sgd")``, ``predict``
* pytorch: ``pandas.read_csv``, ``nn.Sequential``, a plain loop, ``argmax``
* jax: ``pandas.read_csv``, a ``jax.jit`` step (compiled in the process: part of the job)

Wall time is measured around the child process (``time.perf_counter``), peak RSS is the
child's own ``ru_maxrss`` (``os.wait4``, as ``/usr/bin/time -v`` reports it). The runs are
interleaved — every implementation once per round, the order rotating — and the report
gives medians of the rounds (≥ 5) and the same-run ratios other/mlplab.

Usage: ``python benchmarks/time_to_model.py [--rounds 5] [--datasets breast_cancer,digits]
[--out FILE] [--before-src DIR]`` (``--before-src``: one more column, mlplab-api-pandas
run with the mlplab of ``DIR``, e.g. an earlier commit's ``src`` from ``git archive``, for
a same-run before/after).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HIDDEN = {"breast_cancer": (16, 8), "digits": (32, 16)}
EPOCHS, BATCH, LR, MU = 100, 32, 0.01, 0.9  # α in PyTorch's convention

READ_PANDAS = """
import json, sys
import numpy as np
import pandas as pd
df = pd.read_csv(sys.argv[1])
y_all = df.pop("target").to_numpy()
X_all = df.to_numpy(dtype=np.float32)
"""
READ_MLPLAB = """
import json, sys
import numpy as np
import mlplab
data = mlplab.read_csv(sys.argv[1], target="target")
y_all = data.classes[data.y]
X_all = data.X.astype(np.float32)
"""
PRELUDE = """
order = np.random.default_rng(0).permutation(len(y_all))
cut = len(order) - -(-len(order) // 4)
tr, te = order[:cut], order[cut:]
mu, sd = X_all[tr].mean(axis=0), X_all[tr].std(axis=0)
sd[sd == 0] = 1
X_tr, X_te = (X_all[tr] - mu) / sd, (X_all[te] - mu) / sd
y_tr, y_te = y_all[tr], y_all[te]
hidden = tuple(json.loads(sys.argv[2]))
classes = np.unique(y_tr)
binary = len(classes) == 2
EPOCHS, BATCH, LR, MU = {EPOCHS}, {BATCH}, {LR}, {MU}
"""

MLPLAB_API = """
import mlplab
sizes = [X_tr.shape[1], *hidden, 1 if binary else len(classes)]
net = mlplab.Network(sizes, hidden="relu", output="binary" if binary else "multiclass", seed=0)
opt = mlplab.optimizers.momentum(lr=LR / (1 - MU), beta=MU)
mlplab.fit(net, X_tr, y_tr, optimizer=opt, epochs=EPOCHS, batch_size=BATCH, seed=0)
print(json.dumps({"accuracy": float(np.mean(net.predict(X_te) == y_te))}))
"""
SCRIPTS = {
    "mlplab-api": MLPLAB_API,
    "mlplab-api-pandas": MLPLAB_API,
    "scikit-learn": """
from sklearn.neural_network import MLPClassifier
clf = MLPClassifier(hidden, solver="sgd", learning_rate_init=LR, momentum=MU,
                    nesterovs_momentum=False, batch_size=BATCH, max_iter=EPOCHS, tol=0,
                    n_iter_no_change=EPOCHS + 1, alpha=0.0, random_state=0)
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clf.fit(X_tr, y_tr)
print(json.dumps({"accuracy": float(np.mean(clf.predict(X_te) == y_te))}))
""",
    "pytorch": """
import torch
from torch import nn
torch.manual_seed(0)
k = 1 if binary else len(classes)
layers, n_in = [], X_tr.shape[1]
for h in hidden:
    layers += [nn.Linear(n_in, h), nn.ReLU()]
    n_in = h
model = nn.Sequential(*layers, nn.Linear(n_in, k))
Xt = torch.from_numpy(np.ascontiguousarray(X_tr))
codes = np.searchsorted(classes, y_tr)
if binary:
    loss_fn, Yt = nn.BCEWithLogitsLoss(), torch.from_numpy(codes.astype(np.float32)[:, None])
else:
    loss_fn, Yt = nn.CrossEntropyLoss(), torch.from_numpy(codes)
opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MU)
n = len(Xt)
for _ in range(EPOCHS):
    perm = torch.randperm(n)
    for s in range(0, n, BATCH):
        idx = perm[s:s + BATCH]
        opt.zero_grad()
        loss_fn(model(Xt[idx]), Yt[idx]).backward()
        opt.step()
with torch.no_grad():
    Z = model(torch.from_numpy(np.ascontiguousarray(X_te))).numpy()
pred = classes[(Z[:, 0] > 0).astype(int) if binary else Z.argmax(axis=1)]
print(json.dumps({"accuracy": float(np.mean(pred == y_te))}))
""",
    "jax": """
import jax, jax.numpy as jnp
k = 1 if binary else len(classes)
sizes = [X_tr.shape[1], *hidden, k]
keys = jax.random.split(jax.random.PRNGKey(0), len(sizes) - 1)
params = [(jax.random.normal(kk, (o, i)) * jnp.sqrt(2.0 / i), jnp.zeros(o))
          for kk, i, o in zip(keys, sizes[:-1], sizes[1:])]
codes = np.searchsorted(classes, y_tr)
Y = codes.astype(np.float32)[:, None] if binary else np.eye(k, dtype=np.float32)[codes]

def logits(p, x):
    for W, b in p[:-1]:
        x = jax.nn.relu(x @ W.T + b)
    return x @ p[-1][0].T + p[-1][1]

def loss(p, x, y):
    z = logits(p, x)
    if binary:
        return jnp.mean(jnp.logaddexp(0.0, z) - y * z)
    return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.sum(z * y, axis=1))

@jax.jit
def step(p, v, x, y):
    g = jax.grad(loss)(p, x, y)
    v = jax.tree_util.tree_map(lambda a, b: MU * a + b, v, g)
    return jax.tree_util.tree_map(lambda a, b: a - LR * b, p, v), v

v = jax.tree_util.tree_map(jnp.zeros_like, params)
Xj, Yj, n = jnp.asarray(X_tr), jnp.asarray(Y), len(X_tr)
rng = np.random.default_rng(0)
for _ in range(EPOCHS):
    perm = rng.permutation(n)
    for s in range(0, n, BATCH):
        idx = perm[s:s + BATCH]
        params, v = step(params, v, Xj[idx], Yj[idx])
Z = np.asarray(logits(params, jnp.asarray(X_te)))
pred = classes[(Z[:, 0] > 0).astype(int) if binary else Z.argmax(axis=1)]
print(json.dumps({"accuracy": float(np.mean(pred == y_te))}))
""",
}


def write_csv(name: str, folder: Path) -> Path:
    """The dataset as a CSV file: the features, then the label column ``target``."""
    import numpy as np
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    path = folder / f"{name}.csv"
    header = ",".join([f"x{i}" for i in range(X.shape[1])] + ["target"])
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=header, comments="", fmt="%.8g")
    return path


def commands(folder: Path, csv: Path, dataset: str) -> dict[str, list[str]]:
    """One command line per implementation; the scripts are written into ``folder``."""
    hidden = json.dumps(list(HIDDEN[dataset]))
    out = {
        "mlplab-cli": [
            sys.executable,
            "-m",
            "mlplab",
            "train",
            "--data",
            str(csv),
            "--target",
            "target",
            "--layers",
            ",".join(map(str, HIDDEN[dataset])),
            "--activation",
            "relu",
            "--optimizer",
            "momentum",
            "--lr",
            str(LR / (1 - MU)),
            "--beta",
            str(MU),
            "--batch-size",
            str(BATCH),
            "--epochs",
            str(EPOCHS),
            "--json",
            "--quiet",
        ]
    }
    prelude = PRELUDE.replace("{EPOCHS}", str(EPOCHS)).replace("{BATCH}", str(BATCH))
    prelude = prelude.replace("{LR}", str(LR)).replace("{MU}", str(MU))
    for name, body in SCRIPTS.items():
        script = folder / f"ttm_{name.replace('-', '_')}.py"  # never jax.py: it would shadow jax
        read = READ_MLPLAB if name == "mlplab-api" else READ_PANDAS  # each library's own way
        script.write_text(textwrap.dedent(read + prelude) + textwrap.dedent(body))
        out[name] = [sys.executable, str(script), str(csv), hidden]
    return out


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, test accuracy) of one process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()  # type: ignore[union-attr]
    err = p.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{err.decode()[-2000:]}")
    res = json.loads(out.decode().strip().splitlines()[-1])
    acc = res.get("accuracy", res.get("test_accuracy"))
    return wall, usage.ru_maxrss / 1024, float(acc)


BEFORE = "mlplab-api-before"  # mlplab-api-pandas with another mlplab (--before-src): A/B


def measure(
    datasets: list[str], rounds: int, impls: list[str], before_src: str | None = None
) -> dict[str, dict]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("JAX_PLATFORMS", "cpu")
    # Bytecode as an installed package has it: pip compiles every library's .pyc at
    # install time, but mlplab runs here from src/, whose .pyc files the untimed first run
    # writes; with PYTHONDONTWRITEBYTECODE set (some shells and CI images set it) every
    # mlplab process would compile mlplab's ~60 modules again (~50 ms) and no other.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    envs = {name: env for name in impls}
    if before_src is not None:
        envs[BEFORE] = {**env, "PYTHONPATH": before_src + os.pathsep + env["PYTHONPATH"]}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="mlplab-ttm-") as tmp:
        folder = Path(tmp)
        for ds in datasets:
            cmds = commands(folder, write_csv(ds, folder), ds)
            cmds[BEFORE] = cmds["mlplab-api-pandas"]  # an earlier mlplab has no read_csv
            res: dict[str, dict[str, list[float]]] = {
                k: {"wall": [], "rss": [], "acc": []} for k in impls
            }
            for name in impls:  # one untimed run each: the OS file cache, .pyc files
                run_once(cmds[name], envs[name])
            for r in range(rounds):
                k = r % len(impls)
                for name in impls[k:] + impls[:k]:
                    wall, rss, acc = run_once(cmds[name], envs[name])
                    res[name]["wall"].append(wall)
                    res[name]["rss"].append(rss)
                    res[name]["acc"].append(acc)
                print(
                    f"{ds} round {r + 1}/{rounds}: "
                    + ", ".join(f"{n} {res[n]['wall'][-1]:.2f} s" for n in impls),
                    file=sys.stderr,
                )
            results[ds] = res
    return results


def report(results: dict[str, dict], rounds: int, cmd: str, minutes: float) -> str:
    import numpy as np

    cpu = "unknown"
    try:
        m = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    L = [
        "## Time to a trained model (whole processes)",
        "",
        f"Produced by `{cmd}` in {minutes:.1f} min on {cpu}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"{_dt.datetime.now():%Y-%m-%d %H:%M} (load average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}). Each process imports its "
        "library, reads the CSV file its library's own way (mlplab-api: `mlplab.read_csv`; "
        "mlplab-api-pandas and the others: `pandas.read_csv`), "
        f"trains {EPOCHS} epochs (batch {BATCH}, SGD with "
        "momentum 0.9), predicts the held-out quarter and prints its accuracy "
        "(benchmarks/time_to_model.py says exactly what each does). Median of "
        f"{rounds} interleaved rounds (order rotating); ratio = other's median wall time / "
        "mlplab-api's, same run.",
        "",
    ]
    for ds, res in results.items():
        base = statistics.median(res["mlplab-api"]["wall"])
        L += [
            f"### {ds}: hidden layers {HIDDEN[ds]}",
            "",
            "| process | median wall (s) | min–max | × mlplab-api | peak RSS (MB) "
            "| test accuracy |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in res.items():
            w = statistics.median(r["wall"])
            L.append(
                f"| {name} | {w:.2f} | {min(r['wall']):.2f}–{max(r['wall']):.2f} | "
                f"{w / base:.2f}× | {statistics.median(r['rss']):.0f} | "
                f"{statistics.median(r['acc']):.3f} |"
            )
        L.append("")
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--datasets", default="breast_cancer,digits")
    ap.add_argument(
        "--impls", default="mlplab-api,mlplab-api-pandas,mlplab-cli,scikit-learn,pytorch,jax"
    )
    ap.add_argument("--out", default=None, help="write the Markdown report here")
    ap.add_argument(
        "--before-src",
        default=None,
        help=f"also time mlplab-api with the mlplab of this src folder ({BEFORE})",
    )
    args = ap.parse_args(argv)
    import importlib.util

    impls = [
        i
        for i in args.impls.split(",")
        if i not in ("pytorch", "jax")
        or importlib.util.find_spec("torch" if i == "pytorch" else "jax")
    ]
    if args.before_src is not None:
        impls.insert(impls.index("mlplab-api-pandas") + 1, BEFORE)
    t0 = time.perf_counter()
    results = measure(args.datasets.split(","), args.rounds, impls, args.before_src)
    cmd = "python benchmarks/time_to_model.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    text = report(results, args.rounds, cmd.strip(), (time.perf_counter() - t0) / 60)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
