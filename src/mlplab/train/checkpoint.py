r"""Checkpoints: everything a training run needs to continue exactly where it stopped.

A checkpoint holds the parameters θ, the optimizer's state (v, s, step count t), the
state of the shuffling RNG (``bit_generator.state``), the epoch and the position inside
it (the epoch's permutation of the rows, the next mini-batch, the running sums of the
epoch's cost and correct predictions), the History and the state of the built-in
callbacks. Resuming from it and training to the end gives *exactly* the parameters of a
run that was never interrupted: the same mini-batches meet the same optimizer state in
the same order. Like a model file (:mod:`mlplab.persist.modelfile`) a checkpoint is
data, never code: one ``.npz`` archive (:mod:`mlplab._archive`), read by the same bounded
reader, which refuses object arrays, pickles, big headers, extra members, unknown names.
Layout (format version 1)::

    header      uint8   JSON: {"format": "mlplab-checkpoint", "version": 1,
                               "config", "optimizer", "opt_state", "rng", "epoch",
                               "step", "run", "position", "callbacks", "best", ...}
    theta       θ, the flat parameter vector (W[1], b[1], ..., W[L], b[L])
    opt_<i>     the arrays of the optimizer state, in tree order (``_archive.state_to_file``)
    order       the current epoch's permutation of the rows (mid-epoch only)
    best_theta  θ of the best epoch so far (``restore_best=True`` only)
    epoch_start_theta  θ at the start of the current epoch (``restore_best``, mid-epoch)
    cb<k>_<a>   array attribute ``a`` of stateful callback ``k``
    bn_stats    batch normalization's running averages (networks with batch norm)
    standardizer_mean, standardizer_scale; checksum: SHA-256 (hex) of all the above

Writes are atomic and keep the previous checkpoint: the new file is written and fsync'ed under
``<name>.tmp``, the current file renamed to ``<stem>.prev.npz``, the new one renamed into
place, and the folder fsync'ed. A crash at any moment (even SIGKILL mid-write) leaves at least
one complete checkpoint; if the newest one is damaged or missing, :func:`load_latest` falls
back to the previous one with a warning. Callbacks of your own are checkpointed too when they
have ``state_dict()`` (a dict of JSON values and NumPy arrays) and ``load_state_dict(state)``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from mlplab import _archive
from mlplab._archive import jsonable as _jsonable
from mlplab.train.digest import data_digest as data_digest  # re-exported
from mlplab.train.digest import row_hash_sum as row_hash_sum
from mlplab.train.state import Position, TrainState

if TYPE_CHECKING:
    from mlplab.core.network import Network

# A "trainer" below is anything with ``net``, ``optimizer``, ``callbacks`` and ``state``
# (a TrainState): the Trainer of mlplab.train.loop, never imported here.

FORMAT = "mlplab-checkpoint"
VERSION = 1
DEFAULT_NAME = "checkpoint.npz"
"""File name used inside a checkpoint folder (``fit(checkpoint=DIR)``, ``--checkpoint DIR``)."""
# The members a checkpoint may hold (see the layout above); the reader refuses any other.
_MEMBERS = re.compile(
    r"header|checksum|theta|order|best_theta|epoch_start_theta|standardizer_mean"
    r"|standardizer_scale|bn_stats|opt_[0-9]{1,6}|cb[0-9]{1,6}_\w{1,200}"
)


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
        from mlplab.core.network import Network

        cfg = self.header["config"]
        moments = _archive.standardizer_moments(self.arrays, cfg["layer_sizes"][0])
        theta, stats = self.arrays["theta"], self.arrays.get("bn_stats")
        state = {"config": cfg, "theta": theta, "standardizer": moments, "bn_stats": stats}
        return Network.from_state_dict(state)


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


def _theta_sized(net: Network, f: Callable[[np.ndarray], np.ndarray]) -> Any:
    """``f`` on θ-sized vectors (storage order ⇄ W[l] by rows), other arrays as they are."""
    return lambda a: f(a) if a.shape == net._theta.shape else a


def _callback_state(cb: Any) -> dict[str, Any] | None:
    """The data that makes up a callback's state, or None for a stateless one."""
    if hasattr(cb, "state_dict") and hasattr(cb, "load_state_dict"):
        return dict(cb.state_dict())
    return None


def _state(trainer: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The trainer's full state as (JSON header, arrays)."""
    net, st, opt = trainer.net, trainer.state, trainer.optimizer
    if st.run is None:
        raise RuntimeError("nothing to checkpoint yet: call fit() first")
    # Every θ-sized vector is written with W[l] by rows (Network._to_rows), as in model
    # files and in checkpoints from before the network stored W[l]ᵀ: a permutation, so
    # resuming is still exact.
    rows = net._to_rows
    arrays: dict[str, np.ndarray] = {"theta": rows(net._theta)}
    opt_state, opt_arrays = _archive.state_to_file(st.opt_state, _theta_sized(net, rows))
    arrays.update(opt_arrays)
    position = _position_to_file(st, rows, arrays)
    cb_states = _callbacks_to_file(trainer.callbacks, arrays)
    best = None
    if st.best is not None:
        value, epoch, best_theta = st.best
        arrays["best_theta"] = rows(best_theta)
        best = {"value": value, "epoch": epoch}
    arrays.update(_archive.standardizer_arrays(net.standardizer))
    if net._bn_stats.size:  # batch norm's running averages: resuming needs them exactly
        arrays["bn_stats"] = net._bn_stats

    from mlplab._version import __version__

    header = {
        "format": FORMAT,
        "version": VERSION,
        "mlplab_version": __version__,
        "config": net.config(),
        "optimizer": {"name": opt.name, "hyperparams": _jsonable(opt.hyperparams)},
        "opt_state": opt_state,
        "rng": _jsonable(st.rng.bit_generator.state),
        "epoch": int(st.epoch),
        "step": int(st.step),
        "run": _jsonable(st.run),
        "stopped": bool(st.stop_training),
        "position": position,
        "callbacks": cb_states,
        "best": best,
    }
    if st.lr_scale != 1.0:  # ReduceLROnPlateau's factor so far
        header["lr_scale"] = float(st.lr_scale)
    return header, arrays


def _position_to_file(st: TrainState, rows: Any, arrays: dict[str, Any]) -> dict[str, Any] | None:
    """Where the run stands inside its epoch (None at an epoch's end); its arrays too."""
    pos = st.position
    if pos is None:
        return None
    if pos.order is not None:
        arrays["order"] = pos.order
    if st.epoch_start is not None:
        arrays["epoch_start_theta"] = rows(st.epoch_start)
    return {
        "batch": int(pos.batch),
        "loss_sum": float(pos.loss_sum),
        "correct": float(pos.correct),
        "has_order": pos.order is not None,
    }


def _callbacks_to_file(callbacks: Any, arrays: dict[str, Any]) -> list[dict[str, Any]]:
    """The stateful callbacks' ``state_dict()``s: JSON values, arrays as ``cb<k>_<attr>``."""
    cb_states = []
    seen: dict[str, int] = {}
    for k, cb in enumerate(callbacks):
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
    return cb_states


def save_checkpoint(
    trainer: Any, path: str | os.PathLike[str], *, keep_previous: bool = True
) -> Path:
    """Write the trainer's state to ``path`` atomically; return the file written.

    The file being replaced becomes ``<stem>.prev.npz`` (unless ``keep_previous`` is
    False: then the previous file is left as it is and the newest is overwritten).
    """
    newest, previous = checkpoint_files(path)
    header, arrays = _state(trainer)
    raw = _archive.dump_header(header, "the checkpoint header")
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    checksum = np.frombuffer(_digest(raw.tobytes(), arrays).encode("ascii"), dtype=np.uint8)
    members = {"header": raw, "checksum": checksum, **arrays}
    _archive.atomic_write(
        newest,
        lambda f: _archive.write_members(f, members, _MEMBERS),
        previous=previous if keep_previous else None,
        temp_name=newest.name + ".tmp",  # fixed: a killed write's leftover is overwritten
    )
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
    fail = functools.partial(_fail, path)
    try:
        raw, stored, arrays = _read_members(path, fail)
    except CheckpointError:
        raise
    except _archive.READ_ERRORS as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from None
    if _digest(raw, arrays) != stored.decode("ascii", "replace"):
        raise fail("checksum mismatch (the file is damaged)")
    header = _archive.parse_header(raw, fail)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise fail("wrong format marker")
    if header.get("version") != VERSION:
        raise fail(
            f"format version {header.get('version')!r} is not supported "
            f"(this mlplab reads version {VERSION})"
        )
    return Checkpoint(path, header, arrays)


def _read_members(path: Path, fail: Any) -> tuple[bytes, bytes, dict[str, np.ndarray]]:
    """(header bytes, checksum bytes, the other arrays) through the bounded reader.

    No size limit but the file's own: its members must not declare more (stored, not
    compressed, as every checkpoint is written).
    """
    required = ("header", "checksum", "theta")
    with _archive.open_archive(
        path, fail, max_bytes=None, names=_MEMBERS, required=required
    ) as archive:
        raw, stored = archive.raw("header"), archive.raw("checksum")
        names = sorted(archive.names - {"header", "checksum"})
        return raw, stored, {name: archive.array(name) for name in names}


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


def _contents(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Malformed contents behind a valid digest (a file made by hand) as CheckpointError."""

    @functools.wraps(fn)
    def checked(target: Any, ck: Checkpoint, *rest: Any) -> Any:
        try:
            return fn(target, ck, *rest)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as e:
            raise _fail(ck.path, f"malformed contents ({type(e).__name__}: {e})") from None

    return checked


@_contents
def restore(trainer: Any, ck: Checkpoint, run: dict[str, Any]) -> Position | None:
    """Put the state of ``ck`` into ``trainer`` (all but the callbacks); return the position.

    ``run`` describes the run being resumed (batch size, number of samples, digest of
    the data); it must match the checkpoint's. Raises :class:`CheckpointError` naming
    the first difference; nothing is changed before everything is checked.
    """
    h, arrays = ck.header, ck.arrays
    net, st = trainer.net, trainer.state
    _check_same_run(ck, trainer, run)
    theta = arrays["theta"]
    if theta.shape != net._theta.shape or theta.dtype != net._theta.dtype:
        raise _fail(ck.path, f"theta has shape {theta.shape} and dtype {theta.dtype}")
    if not np.isfinite(theta).all():
        raise _fail(ck.path, "theta is not finite")
    template = trainer.optimizer.init(net._theta)
    _check_same(ck, "optimizer state", h["opt_state"]["type"], type(template).__name__)
    try:
        from_rows = _theta_sized(net, net._from_rows)
        opt_state = _archive.state_from_file(h["opt_state"], arrays, template, from_rows)
    except (ValueError, TypeError) as exc:
        raise _fail(ck.path, str(exc)) from None
    rng_state = h["rng"]
    kind = type(st.rng.bit_generator).__name__
    _check_same(ck, "random generator", rng_state.get("bit_generator"), kind)
    stats = arrays.get("bn_stats", net._bn_stats[:0])
    if stats.shape != net._bn_stats.shape or not np.isfinite(stats).all():
        raise _fail(ck.path, f"bn_stats has shape {stats.shape}, not {net._bn_stats.shape}")
    lr_scale = h.get("lr_scale", 1.0)
    if isinstance(lr_scale, bool) or not isinstance(lr_scale, (int, float)) or not lr_scale > 0:
        raise _fail(ck.path, f"lr_scale {lr_scale!r} is not a number > 0")

    type(st.rng.bit_generator)().state = rng_state  # refused here, before any change
    counters = int(h["epoch"]), int(h["step"]), int(h["run"]["start_epoch"])
    if min(counters) < 0 or counters[2] > counters[0]:  # either would train ~forever
        raise _fail(ck.path, f"epoch, step, start epoch {counters}: negative or start > epoch")
    best = h.get("best")
    if best is not None:
        best = (float(best["value"]), int(best["epoch"]), net._from_rows(arrays["best_theta"]))
    start = arrays.get("epoch_start_theta")
    start = None if start is None else net._from_rows(start)

    # Everything is checked: now change the trainer.
    net._from_rows(theta, out=net._theta)
    net._bn_stats[...] = stats
    st.lr_scale = float(lr_scale)
    st.opt_state = opt_state
    st.rng.bit_generator.state = rng_state
    st.epoch, st.step, run["start_epoch"] = counters
    st.stop_training = bool(h.get("stopped", False))
    st.best = best
    st.epoch_start = start
    pos = h.get("position")
    if pos is None:
        return None
    order = arrays["order"].astype(np.intp) if pos["has_order"] else None
    return Position(order, int(pos["batch"]), float(pos["loss_sum"]), float(pos["correct"]))


def _check_same_run(ck: Checkpoint, trainer: Any, run: dict[str, Any]) -> None:
    """The checkpoint belongs to this network, optimizer, batch size and data."""
    h, net, opt = ck.header, trainer.net, trainer.optimizer
    cfg_now = {k: v for k, v in net.config().items() if k != "init"}
    cfg_saved = {k: v for k, v in h["config"].items() if k != "init"}
    _check_same(ck, "network", cfg_saved, cfg_now)
    _check_same(ck, "optimizer", h["optimizer"]["name"], opt.name)
    _check_same(ck, "optimizer setting", h["optimizer"]["hyperparams"], _jsonable(opt.hyperparams))
    saved_run = h["run"]
    _check_same(ck, "batch_size", saved_run["batch_size"], run["batch_size"])
    _check_same(ck, "number of training samples", saved_run["n_samples"], run["n_samples"])
    layouts = saved_run.get("layout"), run.get("layout")  # .npy shards trained out of core
    if None not in layouts and layouts[0] != layouts[1]:
        raise CheckpointError(
            f"cannot resume from {ck.path}: it was written for the .npy shards (file, rows) "
            f"{layouts[0]}, but the data now are {layouts[1]}; resume on the same shards"
        )
    if saved_run["data"] is not None:  # None: saved by hand after an uninterrupted fit
        if not str(saved_run["data"]).startswith("rows-v1:"):
            raise CheckpointError(
                f"cannot resume from {ck.path}: it records its training data with an older "
                "digest (SHA-256 of the whole data) that this mlplab no longer computes; "
                "start a new run without resume"
            )
        _check_same(ck, "training data (X, y)", saved_run["data"], run["data"])


@_contents
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
        state = dict(saved["values"])
        for attr in saved["arrays"]:
            state[attr] = ck.arrays[f"cb{saved['index']}_{attr}"].copy()
        matches[saved["occurrence"]].load_state_dict(state)
