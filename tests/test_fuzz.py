"""Fuzzing of every parser of untrusted input (issue 21): model files, checkpoints, CSV
tables, the playground's JSON API and the CLI's argument values.

- Every committed input (``tests/fuzz/corpus/TARGET/``, the seeds, and
  ``tests/fuzz/crashes/TARGET/``, each input that ever made a target fail) is replayed
  through its target here, in-process, warnings as errors.
- Each target then runs under atheris (coverage-guided libFuzzer) for
  ``MLPLAB_FUZZ_SECONDS`` (20 s by default; ``make fuzz`` runs longer), from a copy of its
  corpus. It fails on an exception other than the target's documented errors (see
  ``tests/fuzz/targets.py``), on an input that runs over 10 s, and on memory past
  ``RSS_LIMIT_MB`` (the processes start at about 150-300 MB).

The regressions of the crashes found are also spelled out as plain tests at the end.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

FUZZ = Path(__file__).parent / "fuzz"
sys.path.insert(0, str(FUZZ))

import targets  # noqa: E402

SECONDS = int(os.environ.get("MLPLAB_FUZZ_SECONDS", "20"))
HANG_SECONDS = 10
RSS_LIMIT_MB = 1536


def _inputs() -> list[pytest.param]:
    out = []
    for kind in ("crashes", "corpus"):
        for path in sorted((FUZZ / kind).glob("*/*")):
            out.append(pytest.param(path, id=f"{kind}/{path.parent.name}/{path.name}"))
    return out


@pytest.fixture(scope="module", autouse=True)
def _scratch():
    yield
    shutil.rmtree(targets.workdir(), ignore_errors=True)


@pytest.mark.parametrize("path", _inputs())
def test_committed_input_gives_only_documented_errors(path):
    targets.TARGETS[path.parent.name](path.read_bytes())


def test_every_target_has_a_corpus_and_the_harness_catches_an_undocumented_error():
    for name in targets.TARGETS:
        assert list((FUZZ / "corpus" / name).iterdir()), name
    with pytest.raises(targets.Unexpected, match="KeyError"), targets.only(ValueError):
        raise KeyError("x")
    with targets.only(ValueError):
        raise ValueError("documented: passes")


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_atheris_bounded_run(name, tmp_path):
    pytest.importorskip("atheris", reason="atheris (the fuzz extra) is not installed")
    corpus = tmp_path / "corpus"
    shutil.copytree(FUZZ / "corpus" / name, corpus)
    for crash in (FUZZ / "crashes" / name).glob("*"):
        shutil.copy(crash, corpus / f"crash-{crash.name}")
    cmd = [
        sys.executable, str(FUZZ / "fuzz_run.py"), name, str(corpus),
        f"-max_total_time={SECONDS}", f"-timeout={HANG_SECONDS}",
        f"-rss_limit_mb={RSS_LIMIT_MB}", f"-artifact_prefix={tmp_path}/", "-max_len=4096",
        "-print_final_stats=1", f"-seed={os.environ.get('MLPLAB_FUZZ_SEED', '1')}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONWARNINGS": "error", "MLPLAB_FUZZ_WORKDIR": str(tmp_path / "work")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 120, env=env)
    found = [p for p in tmp_path.glob("*-*") if p.is_file()]
    shown = "; ".join(
        f"{p.name}: {base64.b64encode(p.read_bytes()[:2000]).decode()}" for p in found
    )
    assert proc.returncode == 0 and not found, (
        f"fuzz target {name} failed (rc {proc.returncode}); inputs (base64) {shown}\n"
        + proc.stderr[-4000:]
    )
    assert "stat::number_of_executed_units" in proc.stderr  # it did run


# ----------------------------------------------------------------- the crashes found
def test_a_carriage_return_in_the_header_and_bad_utf8_is_a_csv_error(tmp_path):
    from mlplab.persist.csvdata import CSVError, read_table

    path = tmp_path / "bad.csv"
    path.write_bytes(b"a\rb,c\n\xff\n")
    with pytest.raises(CSVError, match=r"line 2.*byte 0xff is not valid UTF-8"):
        read_table(path)


def test_whole_number_labels_beyond_int64_stay_separate_classes(tmp_path):
    from mlplab.persist import csvdata

    path = tmp_path / "big.csv"
    path.write_text("x,y\n1,1e30\n2,2e30\n3,0\n4,1e30\n")
    data = csvdata.training_data(path, "y", "classification")
    assert data.classes.tolist() == ["0", "1e+30", "2e+30"]
    assert data.y.tolist() == [1, 2, 0, 1]
    table = csvdata.read_table(path)
    assert csvdata.labels(table, 1).tolist() == ["1e30", "2e30", "0", "1e30"]
    path.write_text("x,y\n1,9007199254740992\n2,-9007199254740992\n3,0\n")
    assert csvdata.labels(csvdata.read_table(path), 1).dtype == np.int64
    assert csvdata.integer_labels(np.array([2.0**53, -(2.0**53)]))
    assert not csvdata.integer_labels(np.array([2.0**53 + 2]))
    assert not csvdata.integer_labels(np.array([1.0, np.nan]))
    assert not csvdata.integer_labels(np.array([np.inf]))


def test_a_python2_npy_header_is_a_model_file_error(tmp_path):
    import mlplab
    from mlplab.persist.modelfile import ModelFileError

    net = mlplab.Network([2, 3, 1], seed=0)
    good, bad = tmp_path / "m.npz", tmp_path / "py2.npz"
    mlplab.save(net, good)
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            blob = zin.read(info)
            if info.filename == "b1.npy":
                blob = blob.replace(b"'shape': (3,), ", b"'shape': (3L,),")
                assert b"(3L,)" in blob
            zout.writestr(info, blob)
    refused = r"'b1': Python 2 headers, object or structured arrays are refused"
    with pytest.raises(ModelFileError, match=refused):
        mlplab.load(bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # refused whatever the warnings filter
        with pytest.raises(ModelFileError, match=refused):
            mlplab.load(bad)


def test_a_deeply_nested_json_body_is_a_400_not_a_500():
    """Found by tests/test_load.py: ``[`` * 100000 made json.loads raise RecursionError."""
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from mlplab.playground.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        r = client.post("/api/sessions", content=b"[" * 100_000 + b"]" * 100_000)
        assert r.status_code == 400
        assert r.json() == {"error": "the body is not valid JSON: nested too deeply", "field": None}
        assert client.post("/api/sessions", json={"config": {"n_points": 20}}).status_code == 201


def test_rows_all_longer_than_the_header_are_a_csv_error_not_lost_cells(tmp_path):
    """Found by the CSV fuzzer: pandas dropped the extra cells with a ParserWarning."""
    from mlplab.persist.csvdata import CSVError, read_frame

    path = tmp_path / "long.csv"
    path.write_text("a;b\n2;2;x\n3;4;y\n5;6;x\n")
    with pytest.raises(CSVError, match=r"line 2: 3 cells, but the header \(line 1\) has 2"):
        read_frame(path)


def test_a_checkpoint_with_a_valid_digest_but_malformed_contents_is_a_checkpoint_error(tmp_path):
    """Found by the checkpoint fuzzer: a header without "config" (digest recomputed, as a
    file made by hand would have it) raised KeyError from fit(resume=True)."""
    import json

    import mlplab
    from mlplab.train import checkpoint as ckpt

    X = np.random.default_rng(0).normal(size=(20, 2))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "ck.npz"
    mlplab.fit(mlplab.Network([2, 1]), X, y, epochs=1, checkpoint=path)
    good = ckpt.read_checkpoint(path)
    for key, value, match in [
        ("config", None, "malformed contents"),
        ("epoch", "x", "malformed contents"),
        ("rng", {"bit_generator": "PCG64"}, "malformed contents"),
        ("epoch", -55517, "negative or start"),  # found as a hang: 55519 epochs to train
        # found as a hang: a run that started after its current epoch trains ~forever
        ("run", {**good.header["run"], "start_epoch": 38479270658594}, "start > epoch"),
    ]:
        header = {**good.header, key: value}
        raw = json.dumps(header).encode()
        arrays = {k: v for k, v in good.arrays.items()}
        digest = np.frombuffer(ckpt._digest(raw, arrays).encode(), dtype=np.uint8)
        members = {"header": np.frombuffer(raw, dtype=np.uint8), "checksum": digest, **arrays}
        with open(path, "wb") as f:
            ckpt._archive.write_members(f, members, ckpt._MEMBERS)
        net = mlplab.Network([2, 1])
        theta = net.get_flat_params().copy()
        with pytest.raises(ckpt.CheckpointError, match=match):
            mlplab.fit(net, X, y, epochs=2, checkpoint=path, resume=True)
        np.testing.assert_array_equal(net.get_flat_params(), theta)  # nothing changed


def test_a_line_of_other_whitespace_is_a_row_for_both_csv_readers(tmp_path):
    """Found by the CSV fuzzer: the exact reader skipped a line holding only a vertical
    tab, pandas read it as a row; row numbers then disagreed (IndexError, wrong lines)."""
    from mlplab.persist.csvdata import CSVError, read_frame, read_table

    path = tmp_path / "vt.csv"
    path.write_bytes(b"x,y\n1,2\n\x0b\n3,4\n")
    for read in (read_frame, read_table):
        with pytest.raises(CSVError, match=r"line 3: 1 cells, but the header \(line 1\) has 2"):
            read(path)
    path.write_bytes(b"x,y\n1,2\n \t \n3,4\n")  # spaces and tabs only: a blank line
    assert read_frame(path).n_rows == 2 and len(read_table(path).rows) == 2


@pytest.mark.parametrize("other", ["\x1e\x1e\x1e", "\x0b", "\x1c", "\x85"])
def test_a_line_of_other_whitespace_before_the_header_is_the_header_for_every_reader(
    tmp_path, other
):
    """Found by the CSV fuzzer (CI): the header finder skipped a line of characters that
    ``str.strip`` removes (record separator, vertical tab) as blank, the exact reader
    took it for the header; the fast reader then indexed rows by the other header's
    columns (IndexError). Only spaces and tabs make a blank line, for every route."""
    from mlplab.persist import csvheader
    from mlplab.persist.csvdata import CSVError, read_frame, read_table, training_data
    from mlplab.persist.csvshard import sharded_training_data

    sys.path.insert(0, str(Path(__file__).parent))
    from test_csv_rank_memory import OneRank

    path = tmp_path / "ws.csv"
    path.write_text(f"\n  \n{other}\n\x0b\nid,x,y\nr4,2,no\n", encoding="utf-8")
    header = csvheader.read_header(path)
    assert header is not None and header.line == 3 and header.columns == [other.strip()]
    expected = r"line 5: 3 cells, but the header \(line 3\) has 1 columns"
    for read in (read_frame, read_table):
        with pytest.raises(CSVError, match=expected):
            read(path)
    with pytest.raises(CSVError, match=expected):
        training_data(path, other.strip(), None).features()
    with pytest.raises(Exception, match=r"line 3: no feature columns besides the target"):
        sharded_training_data(path, other.strip(), OneRank())  # checks the columns first
