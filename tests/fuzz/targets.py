"""The fuzz targets: every parser of untrusted input, and the errors each may raise.

A target takes the fuzz input (bytes), turns it into a file, a request or a command line
through :class:`draw.Draw`, hands it to mlplab, and raises :class:`Unexpected` when
anything but the parser's documented errors comes out:

============  ===================================================  =========================
target        what it feeds                                        documented errors
============  ===================================================  =========================
csv           a CSV file to ``read_table``, ``read_frame`` and     ``CSVError``
              ``training_data`` (then the feature matrix)
modelfile     a model file, structure-aware: a valid file with     ``ModelFileError``
              its JSON header, ``.npy`` headers, array bytes or
              zip members mutated, re-zipped with valid CRCs;
              ``mlplab.load`` (and ``load_trainer``) then predict
checkpoint    a checkpoint, the same way, with its SHA-256 digest  ``CheckpointError``,
              recomputed over the mutation; ``fit(resume=True)``   ``CheckpointWarning``,
                                                                   ``DivergenceError``, fit's
                                                                   "epochs=k, but ..."
playground    a few JSON API requests (valid configurations        any 4xx answer; never a
              mutated node by node, raw bodies, odd headers)       5xx
cli           ``mlplab`` argument values (every option of          exit status 0 or 2 with
              ``train``/``predict``/``evaluate``/``info``/``data``) one line, no traceback
============  ===================================================  =========================

Warnings are errors (as in the test suite), so a warning escaping a parser counts too.
Each target runs in a private temporary folder (:func:`workdir`). The CLI target keeps
costly values small (``--epochs``, ``--layers``, ``--batch-size`` numbers are cut to two
digits) so one input stays far below the 10 s hang limit; the unit tests cover large ones.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shutil
import tempfile
import urllib.parse
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from draw import Draw, dumps, mutate_bytes, mutate_json

import mlplab
from mlplab.persist import csvdata, csvfast, modelfile
from mlplab.persist.csvexact import CSVError
from mlplab.train import checkpoint as ckpt
from mlplab.train.divergence import DivergenceError


class Unexpected(AssertionError):  # noqa: N818 - reads as "raise Unexpected(...)"
    """An input made a parser raise something other than its documented errors."""


@contextlib.contextmanager
def only(*allowed: type[BaseException], message: str | None = None) -> Iterator[None]:
    """Let ``allowed`` errors pass silently, and a ValueError whose text matches ``message``
    (a documented argument check); turn anything else into :class:`Unexpected`."""
    try:
        yield
    except allowed:
        pass
    except ValueError as exc:
        if message is None or not re.search(message, str(exc)):
            raise Unexpected(f"ValueError: {exc}") from exc
    except Unexpected:
        raise
    except BaseException as exc:
        raise Unexpected(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}") from exc


@functools.cache
def workdir() -> Path:
    """This process's scratch folder: ``MLPLAB_FUZZ_WORKDIR`` when set (the bounded runs
    of tests/test_fuzz.py put it in pytest's tmp_path: libFuzzer exits without unwinding,
    so the runner's clean-up may not run), else a new temporary folder."""
    if folder := os.environ.get("MLPLAB_FUZZ_WORKDIR"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder)
    return Path(tempfile.mkdtemp(prefix="mlplab-fuzz-"))


def _fresh(name: str) -> Path:
    folder = workdir() / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


# ----------------------------------------------------------------------------- CSV
def csv_target(data: bytes) -> None:
    """A CSV file through the exact reader, the fast reader and the training path."""
    d = Draw(data)
    sep = d.pick([None, ",", ";", "\t", "|"])
    mode = d.below(3)
    col, task = d.byte(), d.pick([None, "classification", "regression"])
    missing = d.pick(["error", "drop", "mean", "median"])
    path = _fresh("csv") / "in.csv"
    path.write_bytes(d.rest())
    with only(CSVError):
        if mode == 0:
            csvdata.read_table(path, sep or ",")
        elif mode == 1:
            csvdata.read_frame(path, sep=sep)
        else:
            header = csvfast.read_header(path, sep)
            if header is None:
                return
            target = header.columns[col % len(header.columns)]
            found = csvdata.training_data(path, target, task, sep=sep, missing=missing)
            if found.plan is not None:
                found.features()


# ----------------------------------------------------------------- model files, checkpoints
def _members(raw: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, blob in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), blob)
    return buf.getvalue()


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


_NPY_TOKENS = [
    b"(3L,)", b"(2L, 3L)", b"'|O'", b"'<U999999999'", b"'V8'", b"[('a', '<f8')]", b"'<f2'",
    b"(-1,)", b"()", b"(4611686018427387904,)", b"True", b"1", b"'>f8'", b"u'<f8'", b"{}",
    b"'<M8[s]'", b"('<f8', (2,))",
]  # fmt: skip


def _mutate_npy(blob: bytes, d: Draw) -> bytes:
    """A ``.npy`` member with its header text (or version, or length) changed."""
    if len(blob) < 10:
        return mutate_bytes(blob, d)
    version = blob[6:8]
    size = 2 if version == b"\x01\x00" else 4
    start = 8 + size
    length = int.from_bytes(blob[8:start], "little")
    header, body = blob[start : start + length], blob[start + length :]
    action = d.below(4)
    if action == 0:
        spans = [m.span() for m in re.finditer(rb"\([^)]*\)|'[^']*'|True|False", header)]
        if spans:
            a, b = d.pick(spans)
            header = header[:a] + d.pick(_NPY_TOKENS) + header[b:]
    elif action == 1:
        header = mutate_bytes(header, d)
    elif action == 2:
        version = d.pick([b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x00\x00", b"\xff\xff"])
        size = 2 if version == b"\x01\x00" else 4
    else:
        body = mutate_bytes(body, d) if d.flag() else body[: d.below(len(body) + 1)]
    return b"\x93NUMPY" + version + len(header).to_bytes(size, "little") + header + body


def _parsed(blob: bytes) -> np.ndarray | None:
    """The array a ``.npy`` member holds, or None when NumPy cannot read it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
    except Exception:  # the digest is then left as it was
        return None


def mutate_archive(raw: bytes, d: Draw, digest: bool) -> bytes:
    """A valid archive with a few mutations, re-zipped (valid CRCs) and, for a checkpoint
    (``digest``), its checksum recomputed so the mutation reaches the parsers behind it."""
    members = _members(raw)
    raw_mutation = False
    for _ in range(d.below(4)):
        names = sorted(members)
        action = d.below(7)
        header = _parsed(members.get("header.npy", b""))
        if action in (0, 1) and header is not None:
            text = header.tobytes()
            if action == 0:
                with contextlib.suppress(ValueError, RecursionError):
                    text = dumps(mutate_json(__import__("json").loads(text), d))
            else:
                text = mutate_bytes(text, d)
            members["header.npy"] = _npy(np.frombuffer(text, dtype=np.uint8))
        elif action == 2:
            name = d.pick(names)
            members[name] = _mutate_npy(members[name], d)
        elif action == 3:
            name = d.pick(names)
            arr = _parsed(members[name])
            if arr is not None and arr.size and arr.dtype.kind == "f":
                arr = arr.copy()
                value = d.pick([np.nan, np.inf, -np.inf, np.finfo(arr.dtype).max, 0.0])
                arr.flat[d.below(arr.size)] = value
                members[name] = _npy(arr)
        elif action == 4:
            name = d.pick(names)
            new = d.pick(["x.npy", "header.npy", "../evil.npy", "a/b.npy", name + "x", ""])
            members[new or "empty"] = members.pop(name)
        elif action == 5:
            members[d.pick(names)] = d.blob(32)
        else:
            raw_mutation = True
    if digest and "header.npy" in members:
        header = _parsed(members["header.npy"])
        arrays = {
            k[:-4]: a
            for k, v in members.items()
            if k.endswith(".npy") and k not in ("header.npy", "checksum.npy")
            for a in [_parsed(v)]
            if a is not None
        }
        if header is not None:
            h = ckpt._digest(header.tobytes(), arrays)
            members["checksum.npy"] = _npy(np.frombuffer(h.encode("ascii"), dtype=np.uint8))
    out = _zip(members)
    return mutate_bytes(out, d) if raw_mutation else out


def _xor(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


@functools.cache
def model_bases() -> list[tuple[bytes, int]]:
    """Valid model files (bytes, n_features): network, lecture-2 network with a trainer,
    multiclass network, regression network, scikit-learn estimator, CSV-trained model."""
    from mlplab import optimizers
    from mlplab.core import schedules

    folder = _fresh("bases")
    X, y = _xor()
    out: list[tuple[bytes, int]] = []
    net = mlplab.Network([2, 3, 1], standardizer=mlplab.Standardizer().fit(X), seed=0)
    mlplab.save(net, folder / "a.npz")
    out.append(((folder / "a.npz").read_bytes(), 2))
    net2 = mlplab.Network([2, 4, 1], hidden="tanh", dtype="float64", seed=1)
    opt = optimizers.adam(schedules.parse("exponential:0.9", 0.01))
    trainer = mlplab.Trainer(net2, opt, seed=0)
    trainer.fit(X, y, epochs=2, batch_size=8)
    mlplab.save(net2, folder / "b.npz", trainer=trainer)
    out.append(((folder / "b.npz").read_bytes(), 2))
    net3 = mlplab.Network([2, 5, 3], output="multiclass", keep_prob=0.8, batch_norm=True)
    mlplab.save(net3, folder / "c.npz")
    out.append(((folder / "c.npz").read_bytes(), 2))
    net4 = mlplab.Network([3, 2], hidden=[], output="regression", seed=2)
    mlplab.save(net4, folder / "d.npz")
    out.append(((folder / "d.npz").read_bytes(), 3))
    out.append((_cli_model(folder), 3))
    return out


def _cli_model(folder: Path) -> bytes:
    """A model trained by ``mlplab train --data`` (table plan, text classes, an id)."""
    from mlplab.cli import main

    rows = ["id,x,colour,label"]
    for i in range(30):
        rows.append(
            f"r{i},{i % 7 * 0.5},{['red', 'blue', 'green'][i % 3]},{'yes' if i % 2 else 'no'}"
        )
    (folder / "t.csv").write_text("\n".join(rows) + "\n")
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        rc = main(
            ["train", "--data", str(folder / "t.csv"), "--target", "label", "--id-column", "id",
             "--epochs", "2", "--layers", "3", "--out", str(folder / "run"), "--quiet"]
        )  # fmt: skip
    assert rc == 0
    return (folder / "run" / "model.npz").read_bytes()


def modelfile_target(data: bytes) -> None:
    """A mutated model file through ``mlplab.load`` and ``load_trainer``; what loads must
    predict."""
    d = Draw(data)
    base, _ = d.pick(model_bases())
    path = _fresh("model") / "m.npz"
    path.write_bytes(mutate_archive(base, d, digest=False))
    with only(modelfile.ModelFileError):
        model = mlplab.load(path)
        n_features = getattr(model, "n_features_in_", None) or model.layer_sizes[0]
        with warnings.catch_warnings():
            # finite but huge stored weights may overflow to inf: numerics, not parsing
            warnings.simplefilter("ignore", RuntimeWarning)
            model.predict(np.zeros((2, n_features)))
    with only(modelfile.ModelFileError):
        modelfile.load_trainer(path)


@functools.cache
def checkpoint_base() -> bytes:
    """A valid checkpoint written mid-run (Adam state, position in the epoch)."""
    from mlplab import optimizers

    folder = _fresh("ckbase")
    X, y = _xor()
    net = mlplab.Network([2, 3, 1], seed=0)
    mlplab.fit(net, X, y, optimizer=optimizers.adam(0.01), epochs=1, batch_size=16,
               checkpoint=folder / "ck.npz", checkpoint_every=1)  # fmt: skip
    return (folder / "ck.npz").read_bytes()


_AHEAD = r"^epochs=\d+, but the checkpoint"
"""fit's own documented check: a checkpoint further on than the epochs asked for."""


def checkpoint_target(data: bytes) -> None:
    """A mutated checkpoint (digest recomputed) read and resumed from."""
    from mlplab import optimizers

    d = Draw(data)
    folder = _fresh("ck")
    (folder / "ck.npz").write_bytes(mutate_archive(checkpoint_base(), d, digest=d.byte() != 7))
    X, y = _xor()
    net = mlplab.Network([2, 3, 1], seed=0)
    with only(ckpt.CheckpointError):
        ckpt.read_checkpoint(folder / "ck.npz")
    with only(ckpt.CheckpointError, ckpt.CheckpointWarning, DivergenceError, message=_AHEAD):
        mlplab.fit(net, X, y, optimizer=optimizers.adam(0.01), epochs=2, batch_size=16,
                   checkpoint=folder / "ck.npz", resume=True)  # fmt: skip


# ------------------------------------------------------------------------ playground
@functools.cache
def _client() -> Any:
    from starlette.testclient import TestClient

    from mlplab.playground.app import create_app

    folder = _fresh("pg")
    (folder / "tiny.csv").write_text(
        "a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20))
    )
    return TestClient(create_app(data_dir=folder, max_sessions=8), raise_server_exceptions=False)


def _config(d: Draw) -> Any:
    from mlplab.playground.engine import PRESETS

    base = {"n_points": 20, "hidden": [{"units": 2, "activation": "tanh"}]}
    if d.flag():
        base = {**d.pick(PRESETS)["config"], "n_points": 20}
    for _ in range(d.below(3)):
        base = mutate_json(base, d)
    return base


def _body(d: Draw, value: Any) -> tuple[bytes, dict[str, str]]:
    kind = d.below(8)
    headers = {"content-type": "application/json"}
    if kind == 0:
        return mutate_bytes(dumps(value), d), headers
    if kind == 1:
        return b"", {"content-length": d.pick(["-1", "abc", "99999999999", "1e3", " 2"])}
    if kind == 2:  # deeper than Python's stack: json.loads raises RecursionError
        return d.pick([b"[" * 100_000, b'{"config": ' * 50_000]), headers
    return dumps(value), headers


def playground_target(data: bytes) -> None:
    """A few requests against the JSON API; no answer may be a 5xx."""
    d = Draw(data)
    client = _client()
    sid = "0" * 16
    for _ in range(1 + d.below(4)):
        action = d.below(9)
        path, method, value = f"/api/sessions/{sid}", "POST", None
        if action == 0:
            path, value = "/api/sessions", {"config": _config(d)}
        elif action == 1:
            path, value = path + "/config", {"config": _config(d), "reset": d.json_value()}
        elif action == 2:
            path, value = path + "/step", {"epochs": d.pick([1, 0, -1, 1.5, "1", None, 10**9])}
        elif action == 3:
            path, value = path + "/save", {"name": d.text(20)}
        elif action in (4, 5):
            method = "GET"
            path = path + d.pick(["/export/model", "/export/python"])
        elif action == 6:
            path, method = path, "DELETE"
        elif action == 7:
            path, value = (
                d.pick(["/api/sessions", path + "/config", "/api/options"]),
                d.json_value(),
            )
        else:
            path = "/api/" + urllib.parse.quote(
                d.text(16).encode("utf-8", "surrogatepass"), safe="/"
            )
            method = d.pick(["GET", "POST", "PUT", "DELETE"])
        body, headers = _body(d, value) if value is not None or method == "POST" else (b"", {})
        with only():
            r = client.request(method, path, content=body, headers=headers)
        if r.status_code >= 500:
            raise Unexpected(f"{method} {path} {body[:200]!r}: {r.status_code} {r.text[:300]}")
        if r.status_code == 201 and path == "/api/sessions":
            sid = r.json()["session"]


# ---------------------------------------------------------------------------- CLI
_COSTLY = {"--epochs", "--layers", "--batch-size", "--checkpoint-every"}
_SKIP = {"--distributed", "-h", "--help"}
_PATHS = ["model.npz", "table.csv", "missing.npz", "", ".", "out", "sub/x.npz", "table.csv/x"]


@functools.cache
def _cli_setup() -> tuple[Path, dict[str, list[Any]]]:
    """The CLI's working folder (a model, a CSV file) and each subcommand's options."""
    from mlplab.cli import build_parser

    folder = _fresh("cli")
    (folder / "model.npz").write_bytes(model_bases()[4][0])
    shutil.copy(workdir() / "bases" / "t.csv", folder / "table.csv")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    options = {
        name: [a for a in sp._actions if a.option_strings and not _SKIP & set(a.option_strings)]
        for name, sp in sub.choices.items()
        if name in ("train", "predict", "evaluate", "info")
    }
    return folder, options


def _value(d: Draw, action: Any) -> str:
    if action.choices is not None and d.below(4):
        return str(d.pick(sorted(action.choices)))
    opt = action.option_strings[0]
    if opt in ("--out", "--data", "--checkpoint") and d.below(4):
        return d.pick(_PATHS)
    text = d.text(24) if d.flag() else str(d.pick([0, 1, -1, 2, 0.5, "1e30", "nan", "inf", "3,2"]))
    if opt in _COSTLY:
        text = re.sub(r"\d{3,}", lambda m: m.group()[:2], text)
    return text


def cli_argv(data: bytes) -> list[str]:
    """The command line an input stands for (the CLI target's first step)."""
    d = Draw(data)
    _, options = _cli_setup()
    command = d.pick(["train", "predict", "evaluate", "info", "data"])
    if command == "data":
        return ["data", d.pick(["list", "export", d.text(8)]), d.text(12), d.pick(_PATHS)]
    argv = [command]
    if command != "train":
        argv.append(d.pick(_PATHS) if d.below(4) == 0 else "model.npz")
    if command in ("predict", "evaluate"):
        argv.append(d.pick(_PATHS) if d.below(4) == 0 else "table.csv")
    if command == "train" and d.below(4):
        argv += ["--dataset", "xor", "--epochs", "2"]
    for _ in range(d.below(6)):
        action = d.pick(options[command])
        argv.append(action.option_strings[0])
        if action.nargs != 0:
            argv.append(_value(d, action))
    return argv


def cli_target(data: bytes) -> None:
    """``mlplab ARGV`` in-process: exit status 0 or 2, never a traceback."""
    from mlplab.cli import main

    folder, _ = _cli_setup()
    argv = cli_argv(data)
    out, err = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), only(SystemExit):
            try:
                rc = main(argv)
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else 2
            if rc not in (0, 2):
                raise Unexpected(f"mlplab {argv}: exit status {rc}")
    finally:
        os.chdir(cwd)
    if "Traceback" in err.getvalue() or (rc == 2 and "error" not in err.getvalue()):
        raise Unexpected(f"mlplab {argv}: exit status {rc}, stderr {err.getvalue()[-500:]!r}")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "csv": csv_target,
    "modelfile": modelfile_target,
    "checkpoint": checkpoint_target,
    "playground": playground_target,
    "cli": cli_target,
}
