"""Model files: exact round trips, atomic writes, and hostile or broken files."""

from __future__ import annotations

import io as _io
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlplab
from mlplab import _archive
from mlplab.persist import modelfile as io
from mlplab.persist.modelfile import ModelFileError


def _quiet(fn, *args, **kw):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kw)


@pytest.fixture
def data(rng):
    X = rng.normal(size=(60, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -1.0]
    y = (X[:, 0] + X[:, 2] * 10 > -10).astype(int)
    return X, y


@pytest.fixture
def net_file(tmp_path, data):
    X, y = data
    net = mlplab.Network(
        [3, 5, 4, 1], hidden=["tanh", "leaky_relu(0.2)"], standardizer=mlplab.Standardizer().fit(X)
    )
    history = mlplab.fit(net, X, y, epochs=3, callbacks=[mlplab.GradientNormLogger()])
    path = mlplab.save(net, tmp_path / "net.npz", history=history, metadata={"note": "hi"})
    return path, net


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["binary", "multiclass", "regression"])
def test_network_round_trip_is_bitwise(tmp_path, rng, dtype, output):
    X = rng.normal(size=(20, 4))
    net = mlplab.Network([4, 6, 3], hidden="sigmoid", output=output, dtype=dtype, l2=0.5, seed=1)
    net.standardizer = mlplab.Standardizer().fit(X)
    path = mlplab.save(net, tmp_path / "m")  # ".npz" is appended
    assert path.name == "m.npz"
    back = mlplab.load(path)
    assert back.config() == net.config()
    assert np.array_equal(back.get_flat_params(), net.get_flat_params())
    assert np.array_equal(back.forward(X), net.forward(X))
    assert np.array_equal(back.predict(X), net.predict(X))
    # plain NumPy reads the file too, and never needs pickle
    with np.load(path, allow_pickle=False) as npz:
        assert npz["W1"].shape == (6, 4)


def test_history_metadata_and_data_info_are_kept(net_file, tmp_path):
    path, net = net_file
    header = io.read_header(path)
    assert header["version"] == io.VERSION and header["kind"] == "network"
    assert len(header["history"]["loss"]) == 3 and "grad_norm/W3" in header["history"]
    assert header["metadata"] == {"note": "hi"}
    p2 = mlplab.save(
        net,
        tmp_path / "labels.npz",
        data_info={"classes": np.array(["setosa", "virginica"]), "feature_names": ["a", "b", "c"]},
    )
    info = io.read_header(p2)["data"]
    assert info["feature_names"] == ["a", "b", "c"]
    assert _archive.labels_from_json(info["classes"]).tolist() == ["setosa", "virginica"]


def test_same_model_gives_the_same_bytes(net_file, tmp_path):
    path, net = net_file
    a = mlplab.save(net, tmp_path / "a.npz")
    b = mlplab.save(net, tmp_path / "b.npz")
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["b", "a", "c"]),
        np.array([3, 7, 11]),
        np.array([-1.0, 2.0]),
        np.array([True, False]),
    ],
)
def test_classifier_round_trip(tmp_path, data, labels):
    X, y = data
    y = labels[(np.arange(len(y)) + y) % len(labels)]
    clf = _quiet(mlplab.MLPClassifier((4,), max_iter=5, random_state=0).fit, X, y)
    back = mlplab.load(mlplab.save(clf, tmp_path / "clf.npz"))
    assert type(back) is mlplab.MLPClassifier
    assert back.get_params() == clf.get_params()
    assert back.classes_.dtype == clf.classes_.dtype
    assert np.array_equal(back.classes_, clf.classes_)
    assert np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert np.array_equal(back.predict(X), clf.predict(X))
    assert back.history_ == clf.history_ and back.n_iter_ == clf.n_iter_


def test_multilabel_and_multioutput_round_trip(tmp_path, data):
    X, _ = data
    Y = (X > 0).astype(int)
    clf = _quiet(mlplab.MLPClassifier((4,), max_iter=3, random_state=0).fit, X, Y)
    back = mlplab.load(mlplab.save(clf, tmp_path / "ml.npz"))
    assert np.array_equal(back.predict(X), clf.predict(X))
    reg = _quiet(
        mlplab.MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit, X, X[:, :2]
    )
    back = mlplab.load(mlplab.save(reg, tmp_path / "reg.npz"))
    assert np.array_equal(back.predict(X), reg.predict(X))


def test_estimator_optimizer_state_allows_exact_warm_start(tmp_path, data):
    X, y = data
    params = dict(hidden_layer_sizes=(4,), max_iter=4, warm_start=True, random_state=0)
    a = _quiet(mlplab.MLPClassifier(**params).fit, X, y)
    back = mlplab.load(mlplab.save(a, tmp_path / "a.npz", include_optimizer=True))
    _quiet(a.fit, X, y)
    _quiet(back.fit, X, y)
    assert np.array_equal(a.predict_proba(X), back.predict_proba(X))
    assert a.loss_curve_ == back.loss_curve_


def test_trainer_resumes_exactly(tmp_path, data):
    X, y = data
    opt = mlplab.optimizers.adam(0.01)
    full = mlplab.Trainer(mlplab.Network([3, 4, 1], seed=0), opt, seed=0)
    full.fit(X, y, epochs=6, batch_size=16)
    part = mlplab.Trainer(mlplab.Network([3, 4, 1], seed=0), opt, seed=0)
    part.fit(X, y, epochs=3, batch_size=16)
    resumed = io.load_trainer(mlplab.save(part, tmp_path / "ckpt.npz"))
    assert resumed.step == part.step and resumed.epoch == 3
    resumed.fit(X, y, epochs=3, batch_size=16)
    assert np.array_equal(resumed.net.get_flat_params(), full.net.get_flat_params())
    with pytest.raises(ModelFileError, match="no trainer state"):
        io.load_trainer(mlplab.save(full.net, tmp_path / "plain.npz"))


def test_estimator_pickle_carries_no_functions(data):
    X, y = data
    clf = _quiet(mlplab.MLPClassifier((3,), activation="leaky_relu", max_iter=2).fit, X, y)
    state = clf.__getstate__()
    assert isinstance(state["network_"], dict)  # data, not a Network with closures
    assert np.array_equal(pickle.loads(pickle.dumps(clf)).predict(X), clf.predict(X))


def test_save_rejects_other_objects(tmp_path):
    with pytest.raises(TypeError, match="Network, Trainer"):
        mlplab.save({"W": 1}, tmp_path / "x.npz")
    net = mlplab.Network([2, 1])
    with pytest.raises(TypeError, match="metadata"):
        mlplab.save(net, tmp_path / "x.npz", metadata={"f": print})
    assert not (tmp_path / "x.npz").exists()


# ---------------------------------------------------------------- atomic writes
def test_crash_mid_save_keeps_the_old_file(net_file, monkeypatch):
    path, net = net_file
    before = path.read_bytes()

    def crash(f, arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(io, "_write_archive", crash)
    with pytest.raises(OSError, match="disk full"):
        mlplab.save(net, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == ["net.npz"]  # no temporary file left behind


def test_new_file_gets_normal_permissions(tmp_path):
    path = mlplab.save(mlplab.Network([2, 1]), tmp_path / "p.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------- hostile files
def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _write_members(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)


def _npy(arr, allow_pickle=False):
    buf = _io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _header(path):
    raw = _members(path)["header.npy"]
    return json.loads(np.load(_io.BytesIO(raw)).tobytes())


def _with_header(path, header, out):
    members = _members(path)
    members["header.npy"] = _npy(np.frombuffer(json.dumps(header).encode(), np.uint8))
    _write_members(out, members)
    return out


def test_object_array_is_refused_without_unpickling(net_file, tmp_path):
    path, _ = net_file
    members = _members(path)

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > /dev/null",))

    members["W1.npy"] = _npy(np.array([Boom()], dtype=object), allow_pickle=True)
    bad = tmp_path / "obj.npz"
    _write_members(bad, members)
    with pytest.raises(ModelFileError, match="object"):
        mlplab.load(bad)


def test_raw_pickle_is_refused(tmp_path):
    bad = tmp_path / "pickle.npz"
    bad.write_bytes(pickle.dumps({"W": [1, 2]}))
    with pytest.raises(ModelFileError, match="not a valid mlplab model file"):
        mlplab.load(bad)
    _write_members(bad, {"header.npy": pickle.dumps("x")})
    with pytest.raises(ModelFileError):
        mlplab.load(bad)


def test_zip_bomb_is_refused_before_decompressing(tmp_path):
    bomb = tmp_path / "bomb.npz"
    zeros = np.zeros(4_000_000, dtype=np.float64)  # 32 MB that deflate to ~30 KB
    _write_members(bomb, {"header.npy": _npy(zeros)}, compression=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(ModelFileError, match="zip bomb"):
        mlplab.load(bomb, max_bytes=1_000_000)


def test_oversized_file_is_refused(net_file):
    path, _ = net_file
    with pytest.raises(ModelFileError, match="over the limit"):
        mlplab.load(path, max_bytes=100)


def test_wrong_format_version(net_file, tmp_path):
    path, _ = net_file
    header = _header(path)
    header["version"] = 99
    with pytest.raises(ModelFileError, match="format version 99 is not supported"):
        mlplab.load(_with_header(path, header, tmp_path / "v.npz"))


def test_shapes_not_matching_the_header(net_file, tmp_path):
    path, _ = net_file
    header = _header(path)
    header["config"]["layer_sizes"] = [3, 6, 4, 1]
    with pytest.raises(ModelFileError, match="W1"):
        mlplab.load(_with_header(path, header, tmp_path / "s.npz"))
    header = _header(path)
    header["arrays"]["W1"]["shape"] = [5, 2]
    with pytest.raises(ModelFileError, match="but the header says"):
        mlplab.load(_with_header(path, header, tmp_path / "s2.npz"))


def test_huge_architecture_claim_is_refused_without_allocating(net_file, tmp_path):
    path, _ = net_file
    header = _header(path)
    header["config"]["layer_sizes"] = [3, 10**6, 10**6, 1]
    with pytest.raises(ModelFileError, match="architecture"):
        mlplab.load(_with_header(path, header, tmp_path / "h.npz"))


def test_extra_or_missing_members(net_file, tmp_path):
    path, _ = net_file
    members = _members(path)
    members["evil.npy"] = _npy(np.zeros(3))
    _write_members(tmp_path / "extra.npz", members)
    with pytest.raises(ModelFileError, match="extra"):
        mlplab.load(tmp_path / "extra.npz")
    members = _members(path)
    del members["b2.npy"]
    _write_members(tmp_path / "missing.npz", members)
    with pytest.raises(ModelFileError, match="missing"):
        mlplab.load(tmp_path / "missing.npz")
    members = _members(path)
    members["../escape.npy"] = b""
    _write_members(tmp_path / "name.npz", members)
    with pytest.raises(ModelFileError, match="unexpected member"):
        mlplab.load(tmp_path / "name.npz")


def test_non_finite_parameters_are_refused(net_file, tmp_path):
    path, _ = net_file
    members = _members(path)
    W = np.load(_io.BytesIO(members["W1.npy"]))
    W[0, 0] = np.nan
    members["W1.npy"] = _npy(W)
    _write_members(tmp_path / "nan.npz", members)
    with pytest.raises(ModelFileError, match="NaN"):
        mlplab.load(tmp_path / "nan.npz")


@pytest.mark.parametrize("cut", [0, 1, 30, 200, -200, -22, -1])
def test_truncated_files(net_file, tmp_path, cut):
    path, _ = net_file
    raw = path.read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(raw[:cut])
    with pytest.raises(ModelFileError):
        mlplab.load(bad)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        mlplab.load(tmp_path / "nope.npz")
    with pytest.raises(ModelFileError, match="directory"):
        mlplab.load(tmp_path)


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=4
    ),
    cut=st.one_of(st.none(), st.floats(0, 1)),
    which=st.sampled_from(["network", "estimator"]),
)
def test_mutated_files_raise_only_model_file_error(valid_files, edits, cut, which):
    raw = bytearray(valid_files[which].read_bytes())
    for pos, value in edits:
        raw[int(pos * len(raw))] = value
    if cut is not None:
        raw = raw[: int(cut * len(raw))]
    bad = valid_files["dir"] / "mutated.npz"
    bad.write_bytes(bytes(raw))
    try:
        obj = mlplab.load(bad)
    except ModelFileError:
        return
    # a mutation the format cannot see (a timestamp, a padding byte) still loads a model
    assert len(obj.predict(np.zeros((2, 3)))) == 2


@settings(max_examples=300, deadline=None)
@given(
    member=st.integers(0, 20),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10**6),
            st.one_of(st.integers(0, 255), st.sampled_from([ord(c) for c in '09-",]}{:'])),
        ),
        min_size=1,
        max_size=4,
    ),
    which=st.sampled_from(["network", "estimator"]),
)
def test_mutated_members_with_valid_checksums_raise_only_model_file_error(
    valid_files, member, edits, which
):
    """The zip CRC catches random flips; here the bytes change *inside* the archive (the
    JSON header, the .npy headers, the numbers) and the CRCs are recomputed, so that
    the reader's own checks are what must catch them."""
    members = _members(valid_files[which])
    names = sorted(members)
    name = "header.npy" if member >= len(names) else names[member]
    raw = bytearray(members[name])
    for pos, value in edits:
        raw[pos % min(len(raw), 600) if pos % 5 else pos % len(raw)] = value
    members[name] = bytes(raw)
    bad = valid_files["dir"] / "inner.npz"
    _write_members(bad, members)
    try:
        obj = mlplab.load(bad)
    except ModelFileError:
        return
    # A changed number can be valid but extreme (a mean of 1e300): predicting may then
    # overflow float32, which is the arithmetic's business, not the loader's.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        assert len(obj.predict(np.zeros((2, 3)))) == 2


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("valid")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    net = mlplab.Network([3, 4, 1], standardizer=mlplab.Standardizer().fit(X))
    trainer = mlplab.Trainer(net, mlplab.optimizers.adam(0.01))
    trainer.fit(X, (X[:, 0] > 0).astype(int), epochs=2)
    clf = _quiet(
        mlplab.MLPClassifier((3,), max_iter=2, random_state=0).fit, X, np.array(list("abc") * 10)
    )
    return {
        "network": mlplab.save(trainer, d / "net.npz"),
        "estimator": mlplab.save(clf, d / "clf.npz"),
        "dir": d,
    }


def test_readme_example_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "guide" / "model-files.md"
    code = re.search(r"```python\n(.*?)```", page.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/guide/model-files.md", "exec"), {})
    assert (tmp_path / "run.npz").exists()
