"""The one file container (mlplab._archive) as model files and checkpoints use it.

Checkpoints are read by the same bounded reader as model files: hostile archives are
refused with CheckpointError before anything is unpickled or decompressed. Both formats
are written by the same atomic writer: a failure in the middle of a write leaves the old
file(s) intact and no temporary file behind, and checkpoints keep the previous file.
"""

import io as _io
import json
import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import mlplab
from mlplab import _archive, optimizers
from mlplab.persist.modelfile import ModelFileError
from mlplab.train.checkpoint import (
    CheckpointError,
    CheckpointWarning,
    checkpoint_files,
    load_latest,
    read_checkpoint,
    save_checkpoint,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    return X, (X[:, 0] > 0).astype(int)


def _trainer(data, epochs=1):
    X, y = data
    net = mlplab.Network([3, 4, 1], seed=0, standardizer=mlplab.Standardizer().fit(X))
    trainer = mlplab.Trainer(net, optimizers.adam(0.05), seed=1)
    trainer.fit(X, y, epochs=epochs, batch_size=10)
    return trainer


@pytest.fixture
def checkpoint(data, tmp_path):
    path = save_checkpoint(_trainer(data), tmp_path / "ck.npz")
    return path


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _write_members(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    return path


def _npy(arr, allow_pickle=False):
    buf = _io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


class _Payload:
    """Unpickling this creates the marker (a folder): proof that a pickle was run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


# ---------------------------------------------------------------- the hardened reader
@pytest.mark.parametrize("member", ["theta.npy", "cb0_seen.npy"])
def test_checkpoint_with_a_pickled_object_array_is_refused_unread(checkpoint, tmp_path, member):
    marker = tmp_path / "unpickled"
    members = _members(checkpoint)
    members[member] = _npy(np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    # The payload is live: a reader that allows pickles runs it.
    np.load(_io.BytesIO(members[member]), allow_pickle=True)
    assert marker.is_dir()
    marker.rmdir()

    bad = _write_members(tmp_path / "obj.npz", members)
    with pytest.raises(CheckpointError, match=f"{re.escape(str(bad))}: .*object"):
        read_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no usable checkpoint"):
        load_latest(bad)
    assert not marker.exists()


def test_a_pickle_instead_of_a_checkpoint_is_refused_unread(tmp_path):
    import pickle

    marker = tmp_path / "unpickled"
    bad = tmp_path / "pickle.npz"
    bad.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError, match="not an .npz archive"):
        read_checkpoint(bad)
    assert not marker.exists()


def test_checkpoint_with_an_oversized_header_is_refused(checkpoint, tmp_path):
    members = _members(checkpoint)
    header = np.full(_archive.MAX_HEADER_BYTES + 1, ord(" "), dtype=np.uint8)
    members["header.npy"] = _npy(header)
    bad = _write_members(tmp_path / "big.npz", members)
    with pytest.raises(CheckpointError, match=r"malformed header \(not a 1-D uint8 array"):
        read_checkpoint(bad)


def test_checkpoint_with_too_many_members_is_refused(checkpoint, tmp_path):
    members = _members(checkpoint)
    tiny = _npy(np.zeros(1))
    members.update({f"opt_{i}.npy": tiny for i in range(100, 100 + _archive.MAX_MEMBERS)})
    bad = _write_members(tmp_path / "many.npz", members)
    with pytest.raises(CheckpointError, match=r"members \(at most 10000\)"):
        read_checkpoint(bad)


@pytest.mark.parametrize("name", ["evil.npy", "../theta.npy", "W1.npy", "theta", "cb0_a-b.npy"])
def test_checkpoint_with_a_member_outside_its_names_is_refused(checkpoint, tmp_path, name):
    members = _members(checkpoint)
    members[name] = _npy(np.zeros(3))
    bad = _write_members(tmp_path / "extra.npz", members)
    with pytest.raises(CheckpointError, match=f"unexpected member {re.escape(repr(name))}"):
        read_checkpoint(bad)


def test_checkpoint_zip_bomb_is_refused_before_decompressing(checkpoint, tmp_path):
    members = _members(checkpoint)
    members["order.npy"] = _npy(np.zeros(4_000_000, dtype=np.int64))  # 32 MB, deflates to KBs
    bad = _write_members(tmp_path / "bomb.npz", members, compression=zipfile.ZIP_DEFLATED)
    assert bad.stat().st_size < 200_000
    with pytest.raises(CheckpointError, match="zip bomb"):
        read_checkpoint(bad)


def test_a_good_checkpoint_reads_the_same_through_np_load(checkpoint):
    ck = read_checkpoint(checkpoint)
    with np.load(checkpoint, allow_pickle=False) as npz:
        assert set(npz.files) == {*ck.arrays, "header", "checksum"}
        for name, arr in ck.arrays.items():
            np.testing.assert_array_equal(npz[name], arr)
            assert npz[name].dtype == arr.dtype
        assert json.loads(npz["header"].tobytes()) == ck.header


# ---------------------------------------------------------------- the one writer
def _crash_after(monkeypatch, n_members):
    """Make the n-th array written fail halfway: part of the archive is on disk."""
    real = np.lib.format.write_array
    calls = []

    def write_array(f, arr, *args, **kwargs):
        calls.append(1)
        if len(calls) > n_members:
            f.write(b"\x93NUMPY half an array")
            raise OSError("disk full")
        return real(f, arr, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)


def test_checkpoint_keeps_the_previous_file(data, tmp_path):
    newest, previous = checkpoint_files(tmp_path / "run")
    trainer = _trainer(data)
    save_checkpoint(trainer, tmp_path / "run")
    first = newest.read_bytes()
    assert not previous.exists()
    trainer.fit(*data, epochs=1, batch_size=10)
    save_checkpoint(trainer, tmp_path / "run")
    assert previous.read_bytes() == first
    assert read_checkpoint(newest).epoch == 2 and read_checkpoint(previous).epoch == 1
    save_checkpoint(trainer, tmp_path / "run", keep_previous=False)
    assert previous.read_bytes() == first  # left as it was


@pytest.mark.parametrize("n_members", [0, 1, 3])
def test_checkpoint_write_failing_midway_leaves_both_files(data, tmp_path, monkeypatch, n_members):
    newest, previous = checkpoint_files(tmp_path / "run")
    trainer = _trainer(data)
    save_checkpoint(trainer, newest)
    trainer.fit(*data, epochs=1, batch_size=10)
    save_checkpoint(trainer, newest)
    before = newest.read_bytes(), previous.read_bytes()
    trainer.fit(*data, epochs=1, batch_size=10)
    _crash_after(monkeypatch, n_members)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(trainer, newest)
    assert (newest.read_bytes(), previous.read_bytes()) == before
    assert sorted(os.listdir(tmp_path / "run")) == ["checkpoint.npz", "checkpoint.prev.npz"]
    assert read_checkpoint(newest).epoch == 2


def test_checkpoint_crash_between_the_renames_falls_back_to_the_previous(
    data, tmp_path, monkeypatch
):
    newest, previous = checkpoint_files(tmp_path / "run")
    trainer = _trainer(data)
    save_checkpoint(trainer, newest)
    old = newest.read_bytes()
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the old newest is already .prev, the new one not yet in place
            raise OSError("power cut")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="power cut"):
        save_checkpoint(trainer, newest)
    monkeypatch.undo()
    assert not newest.exists() and previous.read_bytes() == old
    assert sorted(os.listdir(tmp_path / "run")) == ["checkpoint.prev.npz"]
    with pytest.warns(CheckpointWarning, match="is missing"):
        assert load_latest(newest).fell_back


@pytest.mark.parametrize("n_members", [0, 2])
def test_model_file_write_failing_midway_keeps_the_old_file(data, tmp_path, monkeypatch, n_members):
    trainer = _trainer(data)
    path = mlplab.save(trainer, tmp_path / "model.npz")
    before = path.read_bytes()
    trainer.fit(*data, epochs=1, batch_size=10)
    _crash_after(monkeypatch, n_members)
    with pytest.raises(OSError, match="disk full"):
        mlplab.save(trainer, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file, no kept copy
    monkeypatch.undo()
    mlplab.save(trainer, path)  # a model file replaces the old one, keeping no copy
    assert os.listdir(tmp_path) == ["model.npz"] and path.read_bytes() != before


def test_atomic_write_keeps_the_previous_file_when_asked(tmp_path):
    path, prev = tmp_path / "f.npz", tmp_path / "f.prev.npz"
    _archive.atomic_write(path, lambda f: f.write(b"one"), previous=prev)
    assert path.read_bytes() == b"one" and not prev.exists()
    _archive.atomic_write(path, lambda f: f.write(b"two"), previous=prev)
    assert (path.read_bytes(), prev.read_bytes()) == (b"two", b"one")

    def fail(f):
        f.write(b"thr")
        raise OSError("disk full")

    for temp_name in (None, "f.npz.tmp"):
        with pytest.raises(OSError, match="disk full"):
            _archive.atomic_write(path, fail, previous=prev, temp_name=temp_name)
        assert (path.read_bytes(), prev.read_bytes()) == (b"two", b"one")
        assert sorted(os.listdir(tmp_path)) == ["f.npz", "f.prev.npz"]


def test_writer_refuses_names_the_reader_would_refuse(tmp_path):
    with pytest.raises(ValueError, match="not a valid member name"):
        _archive.write_members(_io.BytesIO(), {"../x": np.zeros(2)})
    with pytest.raises(ValueError, match="over"):
        _archive.dump_header({"x": "a" * _archive.MAX_HEADER_BYTES})


# ---------------------------------------------------------------- shared encodings
def test_optimizer_state_encoding_round_trip_and_mismatch():
    state = optimizers.AdamState(np.int64(7), np.arange(4.0), np.ones(4))
    desc, arrays = _archive.state_to_file(state, lambda a: a[::-1].copy())
    assert desc == {
        "type": "AdamState",
        "leaves": [
            {"value": 7, "dtype": np.dtype(np.int64).str},
            {"array": "opt_1"},
            {"array": "opt_2"},
        ],
    }
    template = optimizers.adam(0.1).init(np.zeros(4))
    back = _archive.state_from_file(desc, arrays, template, lambda a: a[::-1].copy())
    assert type(back) is optimizers.AdamState and back.count == 7
    np.testing.assert_array_equal(back.v, np.arange(4.0))
    np.testing.assert_array_equal(back.s, np.ones(4))
    with pytest.raises(ValueError, match="does not match the optimizer"):
        _archive.state_from_file(desc, arrays, optimizers.adam(0.1).init(np.zeros(5)))
    with pytest.raises(ValueError, match="does not match the optimizer"):
        _archive.state_from_file(desc, arrays, optimizers.momentum(0.1).init(np.zeros(4)))
    arrays["opt_1"] = np.array([0.0, np.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match="not finite"):
        _archive.state_from_file(desc, arrays, template)


def test_model_file_with_the_old_optimizer_state_layout_still_resumes(data, tmp_path):
    """Before the shared encoding, model files stored {type, count, arrays: [fields]}
    with arrays opt_<field> in the network's storage order: rewrite a file that way."""
    trainer = _trainer(data)
    path = mlplab.save(trainer, tmp_path / "new.npz")
    members = _members(path)
    header = json.loads(np.load(_io.BytesIO(members.pop("header.npy"))).tobytes())
    state = trainer.opt_state
    header["training"]["state"] = {
        "type": "AdamState",
        "count": int(state.count),
        "arrays": ["v", "s"],
    }
    for i, field in ((1, "v"), (2, "s")):
        del members[f"opt_{i}.npy"], header["arrays"][f"opt_{i}"]
        members[f"opt_{field}.npy"] = _npy(getattr(state, field))  # storage order
        spec = {"dtype": getattr(state, field).dtype.str, "shape": [trainer.net.n_params]}
        header["arrays"][f"opt_{field}"] = spec
    members["header.npy"] = _npy(np.frombuffer(json.dumps(header).encode(), np.uint8))
    old = _write_members(tmp_path / "old.npz", members)
    back = mlplab.io.load_trainer(old)
    for a, b in zip(back.opt_state, state, strict=True):
        np.testing.assert_array_equal(a, b)
    trainer.fit(*data, epochs=2, batch_size=10)
    back.fit(*data, epochs=2, batch_size=10)
    np.testing.assert_array_equal(back.net.get_flat_params(), trainer.net.get_flat_params())


def test_hostile_model_file_errors_name_the_file(tmp_path):
    bad = _write_members(tmp_path / "m.npz", {"W1.npy": _npy(np.zeros(2))})
    with pytest.raises(ModelFileError, match=f"{re.escape(str(bad))}: .*no 'header' array"):
        mlplab.load(bad)


def test_saving_and_loading_a_network_does_not_import_sklearn(tmp_path):
    code = (
        "import sys, mlplab\n"
        f"p = mlplab.save(mlplab.Network([2, 1]), {str(tmp_path / 'n.npz')!r})\n"
        "mlplab.load(p); mlplab.io.read_header(p)\n"
        "print('sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
