r"""Checkpoints: everything a training run needs to continue exactly where it stopped.

A checkpoint holds the parameters θ, the optimizer's state (v, s, step count t), the
state of the shuffling RNG (``bit_generator.state``), the epoch and the position inside
it (the epoch's permutation of the rows, the next mini-batch, the running sums of the
epoch's cost and correct predictions), the History and the state of the built-in
callbacks. Resuming from it and training to the end gives *exactly* the parameters of a
run that was never interrupted: the same mini-batches meet the same optimizer state in
the same order.

Like a model file (:mod:`mlplab.io`) a checkpoint is data, never code: one ``.npz``
archive read with ``allow_pickle=False``. Layout (format version 1)::

    header      uint8   JSON: {"format": "mlplab-checkpoint", "version": 1,
                               "config", "optimizer", "opt_state", "rng", "epoch",
                               "step", "run", "position", "callbacks", "best", ...}
    theta       θ, the flat parameter vector (W[1], b[1], ..., W[L], b[L])
    opt_<i>     the arrays of the optimizer state, in tree order
    order       the current epoch's permutation of the rows (mid-epoch only)
    best_theta  θ of the best epoch so far (``restore_best=True`` only)
    epoch_start_theta  θ at the start of the current epoch (``restore_best``, mid-epoch)
    cb<k>_<a>   array attribute ``a`` of stateful callback ``k``
    standardizer_mean, standardizer_scale   (when the network has a Standardizer)
    checksum    uint8   SHA-256 (hex) of the header and every array above

Writes are atomic and keep the previous checkpoint: the new file is written and
fsync'ed under ``<name>.tmp`` in the same folder, the current file is renamed to
``<stem>.prev.npz``, the new one renamed into place, and the folder fsync'ed. A crash at
any moment (even SIGKILL in the middle of a write) leaves at least one complete
checkpoint; if the newest one is damaged or missing, :func:`load_latest` falls back to
the previous one with a warning.

Callbacks of your own can be checkpointed too: give them ``state_dict()`` (returning a
dict of JSON values and NumPy arrays) and ``load_state_dict(state)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from mlplab._tree import tree_leaves
from mlplab.persist.modelfile import _jsonable
from mlplab.train.state import Position

if TYPE_CHECKING:
    from mlplab.core.network import Network

# A "trainer" below is anything with ``net``, ``optimizer``, ``callbacks`` and ``state``
# (a :class:`~mlplab.train.state.TrainState`): the Trainer of :mod:`mlplab.train.loop`.

FORMAT = "mlplab-checkpoint"
VERSION = 1
DEFAULT_NAME = "checkpoint.npz"
"""File name used inside a checkpoint folder (``fit(checkpoint=DIR)``, ``--checkpoint DIR``)."""


class CheckpointError(ValueError):
    """A checkpoint file is damaged, not a checkpoint, or belongs to another run."""


class CheckpointWarning(UserWarning):
    """Resuming had to skip a damaged or missing newest checkpoint."""


class Checkpoint(NamedTuple):
    """A checkpoint read from disk: its path, JSON header and arrays."""

    path: Path
    header: dict[str, Any]
    arrays: dict[str, np.ndarray]
    fell_back: bool = False

    @property
    def step(self) -> int:
        """Parameter updates done when the checkpoint was written."""
        return int(self.header["step"])

    @property
    def epoch(self) -> int:
        """Epochs completed when the checkpoint was written."""
        return int(self.header["epoch"])

    def network(self) -> Network:
        """A Network with the checkpoint's architecture, parameters and Standardizer."""
        from mlplab.core.data import Standardizer
        from mlplab.core.network import Network

        cfg = self.header["config"]
        net = Network.from_config(cfg)
        net.set_flat_params(self.arrays["theta"])
        if "standardizer_mean" in self.arrays:
            std = Standardizer()
            std.mean_ = self.arrays["standardizer_mean"].astype(np.float64)
            std.scale_ = self.arrays["standardizer_scale"].astype(np.float64)
            net.standardizer = std
        return net


# ------------------------------------------------------------------------ paths


def checkpoint_files(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(newest, previous) file names for ``path``: a ``.npz`` file name, or a folder.

    ``run/ckpt.npz`` → ``run/ckpt.npz``, ``run/ckpt.prev.npz``; any other name is a
    folder: ``run`` → ``run/checkpoint.npz``, ``run/checkpoint.prev.npz``.
    """
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
    else:
        raise TypeError(f"checkpoint must be a path (str or Path), got {path!r}")
    if str(path) == "":
        raise ValueError("checkpoint must be a file or folder name, got ''")
    if p.suffix != ".npz" or p.is_dir():
        p = p / DEFAULT_NAME
    return p, p.with_name(p.stem + ".prev.npz")


# ------------------------------------------------------------------------ writing


def _digest(header: bytes, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(header)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, in place on a uint64 array (arithmetic modulo 2**64)."""
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def _row_bytes(a: np.ndarray, m: int) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(m, -1).view(np.uint8).reshape(m, -1)


def row_hash_sum(X: np.ndarray, Y: np.ndarray, first_row: int = 0) -> int:
    r"""Σ_i h(i, x_i, y_i) mod 2⁶⁴ over the rows of (X, Y), the first being global row
    ``first_row``.

    h mixes the row's bytes (word by word, keyed by position) with its global index i,
    so the sum sees every value and the order of the rows, while a data set split into
    contiguous shards gives partial sums that add up (mod 2⁶⁴) to the whole set's:
    :func:`data_digest` does not depend on how many MPI ranks hold the data.
    """
    total = 0
    n = X.shape[0]
    chunk = 1 << 15  # bounded temporaries: a few MB per chunk whatever n is
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        parts = [_row_bytes(X[s : s + m], m), _row_bytes(Y[s : s + m], m)]
        width = sum(p.shape[1] for p in parts)
        parts.append(np.zeros((m, -width % 8), dtype=np.uint8))
        words = np.concatenate(parts, axis=1).view(np.uint64)  # (m, ⌈bytes/8⌉)
        keys = _mix64(np.arange(words.shape[1], dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15))
        h = _mix64(words ^ keys).sum(axis=1, dtype=np.uint64)
        index = np.arange(first_row + s, first_row + s + m, dtype=np.uint64)
        h ^= _mix64(index + np.uint64(0x632BE59BD9B4E019))
        total = (total + int(_mix64(h).sum(dtype=np.uint64))) % (1 << 64)
    return total


def data_digest(
    X: np.ndarray, Y: np.ndarray, n_rows: int | None = None, row_sum: int | None = None
) -> str:
    """Digest of the (prepared) training data, so a resume can check it is the same.

    The rows' shape and dtype and :func:`row_hash_sum`; a distributed run passes the
    global ``n_rows`` and ``row_sum`` (its ranks' partial sums added up), which makes
    the digest the one a single process computes from the whole data.
    """
    n = X.shape[0] if n_rows is None else int(n_rows)
    total = row_hash_sum(X, Y) if row_sum is None else int(row_sum) % (1 << 64)
    x_shape, y_shape = list(X.shape[1:]), list(Y.shape[1:])
    return f"rows-v1:{n}:X{x_shape}{X.dtype.str}:Y{y_shape}{Y.dtype.str}:{total:016x}"


def _value(v: Any) -> Any:
    """A scalar as JSON, keeping NumPy scalar types (float32 stays float32 on reload)."""
    if isinstance(v, np.generic):
        return {"value": v.item(), "dtype": v.dtype.str}
    if v is None or isinstance(v, (bool, int, float, str)):
        return {"value": v}
    raise TypeError(f"cannot checkpoint a value of type {type(v).__name__}")


def _unvalue(spec: dict[str, Any]) -> Any:
    if "dtype" in spec:
        return np.dtype(spec["dtype"]).type(spec["value"])
    return spec["value"]


def _callback_state(cb: Any) -> dict[str, Any] | None:
    """The data that makes up a callback's state, or None for a stateless one."""
    if hasattr(cb, "state_dict") and hasattr(cb, "load_state_dict"):
        return dict(cb.state_dict())
    return None


def _fsync_dir(folder: Path) -> None:
    # Makes the renames durable; not every platform can open a folder (Windows).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _state(trainer: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The trainer's full state as (JSON header, arrays)."""
    net, st = trainer.net, trainer.state
    run = st.run
    if run is None:
        raise RuntimeError("nothing to checkpoint yet: call fit() first")
    # Every θ-sized vector is written with W[l] by rows (Network._to_rows), as in model
    # files and in checkpoints from before the network stored W[l]ᵀ: a permutation, so
    # resuming is still exact.
    rows = net._to_rows
    arrays: dict[str, np.ndarray] = {"theta": rows(net._theta)}

    opt_spec = []
    for i, leaf in enumerate(tree_leaves(st.opt_state)):
        if isinstance(leaf, np.ndarray):
            arrays[f"opt_{i}"] = rows(leaf) if leaf.shape == net._theta.shape else leaf
            opt_spec.append({"array": f"opt_{i}"})
        else:
            opt_spec.append(_value(leaf))

    pos = st.position
    position = None
    if pos is not None:
        if pos.order is not None:
            arrays["order"] = pos.order
        position = {
            "batch": int(pos.batch),
            "loss_sum": float(pos.loss_sum),
            "correct": float(pos.correct),
            "has_order": pos.order is not None,
        }

    cb_states = []
    seen: dict[str, int] = {}
    for k, cb in enumerate(trainer.callbacks):
        state = _callback_state(cb)
        if state is None:
            continue
        name = type(cb).__name__
        occurrence = seen.get(name, 0)
        seen[name] = occurrence + 1
        values, array_names = {}, []
        for attr, v in state.items():
            if isinstance(v, np.ndarray):
                arrays[f"cb{k}_{attr}"] = v
                array_names.append(attr)
            else:
                values[attr] = _jsonable(v)
        cb_states.append(
            {
                "class": name,
                "occurrence": occurrence,
                "index": k,
                "values": values,
                "arrays": array_names,
            }
        )

    if st.epoch_start is not None and pos is not None:
        arrays["epoch_start_theta"] = rows(st.epoch_start)
    best = None
    if st.best is not None:
        value, epoch, best_theta = st.best
        arrays["best_theta"] = rows(best_theta)
        best = {"value": value, "epoch": epoch}

    if net.standardizer is not None:
        arrays["standardizer_mean"] = np.asarray(net.standardizer.mean_, dtype=np.float64)
        arrays["standardizer_scale"] = np.asarray(net.standardizer.scale_, dtype=np.float64)

    from mlplab._version import __version__

    opt = trainer.optimizer
    header = {
        "format": FORMAT,
        "version": VERSION,
        "mlplab_version": __version__,
        "config": net.config(),
        "optimizer": {"name": opt.name, "hyperparams": _jsonable(opt.hyperparams)},
        "opt_state": {"type": type(st.opt_state).__name__, "leaves": opt_spec},
        "rng": _jsonable(st.rng.bit_generator.state),
        "epoch": int(st.epoch),
        "step": int(st.step),
        "run": _jsonable(run),
        "stopped": bool(st.stop_training),
        "position": position,
        "callbacks": cb_states,
        "best": best,
    }
    return header, arrays


def save_checkpoint(
    trainer: Any, path: str | os.PathLike[str], *, keep_previous: bool = True
) -> Path:
    """Write the trainer's state to ``path`` atomically; return the file written.

    The file being replaced becomes ``<stem>.prev.npz`` (unless ``keep_previous`` is
    False: then the previous file is left as it is and the newest is overwritten).
    """
    newest, previous = checkpoint_files(path)
    header, arrays = _state(trainer)
    raw = json.dumps(header).encode("utf-8")
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    checksum = _digest(raw, arrays)
    newest.parent.mkdir(parents=True, exist_ok=True)
    tmp = newest.with_name(newest.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                header=np.frombuffer(raw, dtype=np.uint8),
                checksum=np.frombuffer(checksum.encode("ascii"), dtype=np.uint8),
                **arrays,
            )
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and newest.exists():
            os.replace(newest, previous)
        os.replace(tmp, newest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(newest.parent)
    return newest


# ------------------------------------------------------------------------ reading


def _fail(path: Path, msg: str) -> CheckpointError:
    return CheckpointError(f"{path}: not a usable mlplab checkpoint: {msg}")


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and verify one checkpoint file (no fallback; see :func:`load_latest`).

    Raises
    ------
    CheckpointError
        If the file is damaged (bad archive, checksum mismatch), a directory, or not a
        checkpoint of this format version.
    FileNotFoundError
        If it does not exist.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    if not path.exists():
        raise FileNotFoundError(f"checkpoint file {path} does not exist")
    try:
        # Open the file ourselves: np.load leaks its handle when the archive is bad.
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise _fail(path, "not an .npz archive (damaged or another kind of file)")
            f.seek(0)
            npz = np.load(f, allow_pickle=False)
            with npz:
                names = set(npz.files)
                for needed in ("header", "checksum", "theta"):
                    if needed not in names:
                        raise _fail(path, f"no {needed!r} array")
                arrays = {k: npz[k] for k in names}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise _fail(path, f"{type(exc).__name__}: {exc}") from None
    raw = arrays.pop("header")
    stored = arrays.pop("checksum")
    if raw.dtype != np.uint8 or raw.ndim != 1 or stored.dtype != np.uint8:
        raise _fail(path, "malformed header")
    if _digest(raw.tobytes(), arrays) != stored.tobytes().decode("ascii", "replace"):
        raise _fail(path, "checksum mismatch (the file is damaged)")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(path, f"header is not JSON: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _fail(path, "wrong format marker")
    if header.get("version") != VERSION:
        raise _fail(
            path,
            f"format version {header.get('version')!r} is not supported "
            f"(this mlplab reads version {VERSION})",
        )
    return Checkpoint(path, header, arrays)


def load_latest(path: str | os.PathLike[str]) -> Checkpoint | None:
    """The newest usable checkpoint for ``path``, or None if there is none yet.

    If the newest file is damaged or missing while the previous one is good, warns
    (:class:`CheckpointWarning`) and returns the previous one (``fell_back=True``).

    Raises
    ------
    CheckpointError
        If checkpoint files exist but none of them can be used.
    """
    newest, previous = checkpoint_files(path)
    problems: list[str] = []
    for candidate in (newest, previous):
        if not candidate.exists():
            if candidate == newest and previous.exists():
                problems.append(f"{newest} is missing")
            continue
        try:
            ck = read_checkpoint(candidate)
        except (CheckpointError, OSError) as exc:
            problems.append(str(exc))
            continue
        if problems:
            warnings.warn(
                f"{'; '.join(problems)}; resuming from the previous checkpoint {candidate} "
                f"(epoch {ck.epoch}, step {ck.step})",
                CheckpointWarning,
                stacklevel=3,
            )
            return ck._replace(fell_back=True)
        return ck
    if problems:
        raise CheckpointError("no usable checkpoint: " + "; ".join(problems))
    return None


# ------------------------------------------------------------------------ restoring


def _check_same(ck: Checkpoint, what: str, saved: Any, now: Any) -> None:
    if saved != now:
        raise CheckpointError(
            f"cannot resume from {ck.path}: it was written for a different {what} "
            f"({saved!r} there, {now!r} now). Resume with the original settings, or "
            "start a new run without resume"
        )


def _rebuild(template: Any, leaves: Any) -> Any:
    """``template``'s structure (NamedTuple, list, tuple, dict) filled with ``leaves``."""
    if isinstance(template, tuple) and hasattr(template, "_fields"):
        return type(template)(*(_rebuild(t, leaves) for t in template))
    if isinstance(template, (list, tuple)):
        return type(template)(_rebuild(t, leaves) for t in template)
    if isinstance(template, dict):
        return {k: _rebuild(template[k], leaves) for k in template}
    return next(leaves)


def restore(trainer: Any, ck: Checkpoint, run: dict[str, Any]) -> Position | None:
    """Put the state of ``ck`` into ``trainer`` (all but the callbacks); return the position.

    ``run`` describes the run being resumed (batch size, number of samples, digest of
    the data); it must match the checkpoint's. Raises :class:`CheckpointError` naming
    the first difference.
    """
    h, arrays = ck.header, ck.arrays
    net = trainer.net
    cfg_now = {k: v for k, v in net.config().items() if k != "init"}
    cfg_saved = {k: v for k, v in h["config"].items() if k != "init"}
    _check_same(ck, "network", cfg_saved, cfg_now)
    opt = trainer.optimizer
    _check_same(ck, "optimizer", h["optimizer"]["name"], opt.name)
    _check_same(ck, "optimizer setting", h["optimizer"]["hyperparams"], _jsonable(opt.hyperparams))
    saved_run = h["run"]
    _check_same(ck, "batch_size", saved_run["batch_size"], run["batch_size"])
    _check_same(ck, "number of training samples", saved_run["n_samples"], run["n_samples"])
    if saved_run["data"] is not None:  # None: saved by hand after an uninterrupted fit
        if not str(saved_run["data"]).startswith("rows-v1:"):
            raise CheckpointError(
                f"cannot resume from {ck.path}: it records its training data with an older "
                "digest (SHA-256 of the whole data) that this mlplab no longer computes; "
                "start a new run without resume"
            )
        _check_same(ck, "training data (X, y)", saved_run["data"], run["data"])

    theta = arrays["theta"]
    if theta.shape != net._theta.shape or theta.dtype != net._theta.dtype:
        raise _fail(ck.path, f"theta has shape {theta.shape} and dtype {theta.dtype}")
    if not np.isfinite(theta).all():
        raise _fail(ck.path, "theta is not finite")

    template = opt.init(net._theta)
    t_leaves = tree_leaves(template)
    specs = h["opt_state"]["leaves"]
    _check_same(ck, "optimizer state", h["opt_state"]["type"], type(template).__name__)
    if len(specs) != len(t_leaves):
        raise _fail(ck.path, "optimizer state does not match the optimizer")
    leaves = []
    for spec, t in zip(specs, t_leaves, strict=True):
        if "array" in spec:
            a = arrays.get(spec["array"])
            if a is None or not isinstance(t, np.ndarray) or a.shape != t.shape:
                raise _fail(ck.path, "optimizer state does not match the optimizer")
            a = a.astype(t.dtype, copy=True)
            leaves.append(net._from_rows(a) if t.shape == net._theta.shape else a)
        else:
            leaves.append(_unvalue(spec))

    rng_state = h["rng"]
    st = trainer.state
    kind = type(st.rng.bit_generator).__name__
    _check_same(ck, "random generator", rng_state.get("bit_generator"), kind)

    # Everything is checked: now change the trainer.
    net._from_rows(theta, out=net._theta)
    st.opt_state = _rebuild(template, iter(leaves))
    st.rng.bit_generator.state = rng_state
    st.epoch = int(h["epoch"])
    st.step = int(h["step"])
    run["start_epoch"] = int(saved_run["start_epoch"])
    st.stop_training = bool(h.get("stopped", False))
    best = h.get("best")
    st.best = None
    if best is not None:
        st.best = (best["value"], best["epoch"], net._from_rows(arrays["best_theta"]))
    start = arrays.get("epoch_start_theta")
    st.epoch_start = None if start is None else net._from_rows(start)
    pos = h.get("position")
    if pos is None:
        return None
    order = arrays["order"].astype(np.intp) if pos["has_order"] else None
    return Position(order, int(pos["batch"]), float(pos["loss_sum"]), float(pos["correct"]))


def restore_callbacks(callbacks: Any, ck: Checkpoint) -> None:
    """Put the saved callback states back (after ``on_train_begin`` has reset them).

    Callbacks are matched by class and order of appearance; a saved state with no
    matching callback in this run is reported with a :class:`CheckpointWarning`.
    """
    by_class: dict[str, list[Any]] = {}
    for cb in callbacks:
        if _callback_state(cb) is not None:
            by_class.setdefault(type(cb).__name__, []).append(cb)
    for saved in ck.header.get("callbacks", []):
        matches = by_class.get(saved["class"], [])
        if saved["occurrence"] >= len(matches):
            warnings.warn(
                f"the checkpoint has the state of a {saved['class']} callback that this "
                "run does not have; the result can differ from an uninterrupted run",
                CheckpointWarning,
                stacklevel=3,
            )
            continue
        cb = matches[saved["occurrence"]]
        state = dict(saved["values"])
        for attr in saved["arrays"]:
            state[attr] = ck.arrays[f"cb{saved['index']}_{attr}"].copy()
        cb.load_state_dict(state)
