"""A rank's rows set aside on disk (mlplab.persist.csvspill) and what the sharded CSV route
holds because of it: the parsed matrix is freed before the split is drawn, the training
block is read back into one matrix, the test rows stay on disk.

K ranks: tests/test_csv_shards.py (the weights of one process, to 1e-10)."""

from __future__ import annotations

import errno
import os
import tracemalloc
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlplab.persist.csvfast as csvfast
import mlplab.persist.csvshard as csvshard
import mlplab.persist.csvsmall as csvsmall
import mlplab.persist.csvspill as csvspill
from mlplab.persist.csvdata import training_data
from mlplab.persist.csvexact import CSVError
from mlplab.persist.csvrows import encode
from mlplab.persist.csvspill import FileRows, RowsFile
from mlplab.train.mpi import DistributedError
from test_csv_rank_memory import OneRank


def _filled(rows: np.ndarray, pieces: int = 3) -> RowsFile:
    f = RowsFile(rows.shape[1])
    for part in np.array_split(rows, pieces):
        f.append(part)
    return f


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(1, 300),
    width=st.integers(1, 4),
    picks=st.lists(st.integers(0, 10**6), max_size=80),
    seed=st.integers(0, 2**16),
)
def test_rows_read_and_gathered_are_the_rows_written(n, width, picks, seed, monkeypatch):
    monkeypatch.setattr(csvspill, "READ_ROWS", 7)  # spans cut short: several reads (the
    # same patch for every example: the fixture not being reset between them is harmless)
    monkeypatch.setattr(csvspill, "GAP_ROWS", 3)
    rows = np.random.default_rng(seed).normal(size=(n, width))
    f = _filled(rows)
    assert f.n == n
    np.testing.assert_array_equal(f.read(0, n), rows)
    np.testing.assert_array_equal(f.read(n // 3, n // 2 + 1), rows[n // 3 : n // 2 + 1])
    idx = np.array([p % n for p in picks], dtype=np.int64)  # any order, repeats
    np.testing.assert_array_equal(f.take(idx), rows[idx])
    keep = np.random.default_rng(seed + 1).random(n) < 0.6
    aside = ~keep & (np.random.default_rng(seed + 2).random(n) < 0.5)
    out, to = np.full((int(keep.sum()), width), np.nan), RowsFile(width)
    f.deal(keep, out, aside, to)
    np.testing.assert_array_equal(out, rows[keep])
    np.testing.assert_array_equal(to.read(0, to.n), rows[aside])


def test_file_rows_are_read_when_asked_by_slice_array_or_numpy():
    rows = np.arange(30.0).reshape(10, 3)
    part = FileRows(_filled(rows))[2:9]
    assert isinstance(part, FileRows) and part.shape == (7, 3) and len(part) == 7
    inner = part[1:4]
    assert isinstance(inner, FileRows) and inner.shape == (3, 3)
    np.testing.assert_array_equal(np.asarray(inner), rows[3:6])
    np.testing.assert_array_equal(part[np.array([6, 0, -1])], rows[[8, 2, 8]])
    assert np.asarray(part, dtype=np.float32).dtype == np.float32
    with pytest.raises(TypeError, match="step 1"):
        part[::2]
    with pytest.raises(IndexError, match="outside 7 rows"):
        part[np.array([7])]


def test_bad_reads_and_writes_are_named():
    f = _filled(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"rows of width 2 expected, got shape \(1, 3\)"):
        f.append(np.ones((1, 3)))
    with pytest.raises(IndexError, match="rows 4:6 of a file of 5 rows"):
        f.read(4, 6)
    with pytest.raises(IndexError, match="outside a file of 5 rows"):
        f.take([0, 5])
    with pytest.raises(ValueError, match="masks of 5 rows"):
        f.deal(np.ones(4, bool), np.empty((4, 2)), np.zeros(4, bool), RowsFile(2))


def test_a_folder_that_cannot_hold_the_rows_is_named_with_what_to_do(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    with pytest.raises(CSVError, match=f"{gone}: cannot set this rank's rows aside") as e:
        RowsFile(2, str(gone))
    assert "point TMPDIR to a folder on a disk with room" in str(e.value)
    f = RowsFile(2, str(tmp_path))

    class Full:  # a disk that fills up
        def __init__(self, real):
            self.real = real

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.real, name)

    f._file = Full(f._file)
    with pytest.raises(CSVError, match=r"No space left on device; 2 MiB of rows so far"):
        f.append(np.ones((2**17, 2)))
    assert f.n == 0


def test_closing_gives_the_space_back(tmp_path):
    f = _filled(np.ones((4, 2)))
    fd = f._file.fileno()
    os.fstat(fd)
    f.close()
    with pytest.raises(OSError):
        os.fstat(fd)
    f.close()  # twice: nothing happens


def _table(folder, n, cells="", missing="error"):
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.normal(size=(n, 8)), columns=[f"x{j}" for j in range(8)])
    df["label"] = rng.choice(["a", "b", "c"], n)
    if cells == "empty":  # one empty cell
        df.loc[n // 2, "x3"] = np.nan
    if cells == "text":  # a column of categories, an empty cell of it in a later chunk
        df["x3"] = rng.choice(["red", "green", "blue"], n).astype(object)
        df.loc[n // 2 + 1, "x3"] = None if missing != "error" else "red"
    path = folder / f"big{n}{cells}{missing}.csv"
    df.to_csv(path, index=False, float_format="%.6f")
    return path, n * 8 * 8  # the float size


@pytest.fixture
def big(tmp_path):
    return _table(tmp_path, 40_000)


def _traced(path, monkeypatch, **options):
    """(the shard, bytes held at its end, the peak, bytes held while the split is drawn)."""
    seen = {}
    split = csvshard.split_on_root

    def watched(*args, **kwargs):
        seen["split"] = tracemalloc.get_traced_memory()[0]
        return split(*args, **kwargs)

    monkeypatch.setattr(csvshard, "split_on_root", watched)
    tracemalloc.start()
    try:
        d = csvshard.sharded_training_data(path, "label", OneRank(), test_size=0.25, **options)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return d, held, peak, seen["split"]


@pytest.mark.parametrize(
    ("cells", "missing", "slope"),
    [  # the training block (0.75) and labels, masks: a few bytes a row (0.1 of 8 floats)
        ("", "error", 0.92),  # finite numbers: parsed to disk, the training block read back
        ("", "drop", 0.92),
        ("", "mean", 0.92),  # fill values summed a block at a time (fit_fill_global)
        ("empty", "mean", 0.92),  # an empty cell, filled: the rows stay on disk too
        ("empty", "drop", 0.92),  # (rows with an empty cell found on disk, a block at a time)
        # a column of categories: its text cells aside while the plan is drawn (one
        # pointer a row, each distinct text once a chunk), coded into its place on disk
        ("text", "error", 0.92),
        ("text", "drop", 0.92),  # (an empty category cell: its row dropped)
        ("text", "mean", 0.92),  # (the most frequent category filled in)
    ],
)
def test_no_rank_holds_more_than_its_rows_and_none_of_them_while_the_split_is_drawn(
    tmp_path, monkeypatch, cells, missing, slope
):
    blocks = ((csvshard, "BLOCK_ROWS"), (csvspill, "READ_ROWS"), (csvsmall, "FACTORIZE_ROWS"))
    monkeypatch.setattr(csvfast, "CHUNK_CELLS", 2**14)  # pandas' chunks: constant too
    for module, name in blocks:  # a block's
        monkeypatch.setattr(module, name, 2048)  # temporaries: constant against 40-80 k rows
    (small, f1), (large, f2) = (_table(tmp_path, n, cells, missing) for n in (40_000, 80_000))
    encoded = []
    monkeypatch.setattr(csvshard, "encode", lambda *a, **k: encoded.append(1) or encode(*a, **k))
    _, held1, peak1, split1 = _traced(small, monkeypatch, missing=missing)
    d, held2, peak2, split2 = _traced(large, monkeypatch, missing=missing)
    # bytes held per byte of floats: the training block (0.75 of them), or the parsed rows
    assert slope is None or (peak2 - peak1) / (f2 - f1) < slope
    # the split is drawn with none of the rows held: a few bytes a row (labels, indices)
    assert (split2 - split1) / (f2 - f1) < 0.15
    X = d.X_train.parts[0]
    assert isinstance(X, np.ndarray) and X.nbytes == d.n_train * 8 * 8
    assert isinstance(d.X_test.parts[0], FileRows)
    assert d.n_test == 20_000 and d.n_dropped == int(cells != "" and missing == "drop")
    assert not encoded  # never in memory
    # held at the end: the training block and labels, not the test rows (0.25 of f2)
    assert (held2 - held1) / (f2 - f1) < 0.75 + 0.1


def test_a_spill_folder_that_is_missing_is_one_error_on_every_rank(big, tmp_path):
    path, _ = big
    with pytest.raises(DistributedError, match="rank 0 of 1: .*gone: cannot set this rank"):
        csvshard.sharded_training_data(path, "label", OneRank(), spill_dir=str(tmp_path / "gone"))


def test_rows_with_an_empty_cell_are_found_a_block_at_a_time():
    from mlplab.persist.npydata import complete_rows

    R = np.zeros((300_000, 8))
    R[[5, 299_999], [3, 0]] = np.nan
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        ok = complete_rows(R)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(ok, ~np.isnan(R).any(axis=1)) and ok.sum() == 300_000 - 2
    assert peak < 300_000 + 0.05 * R.nbytes  # the mask, and one block's temporaries


def _the_same_error_both_ways(path, **options) -> str:
    """The error of one process on ``path``, which the sharded route raises word for word."""
    with pytest.raises(CSVError) as one:
        training_data(path, "label", **options).features()
    with pytest.raises(DistributedError) as sharded:
        csvshard.sharded_training_data(path, "label", OneRank(), **options)
    assert str(sharded.value).removeprefix("rank 0 of 1: ") == str(one.value)
    return str(one.value)


@pytest.mark.parametrize("missing", ["error", "mean"])
def test_a_cell_the_rows_cannot_stay_on_disk_with_has_the_one_process_message(tmp_path, missing):
    """inf (any policy) and an empty cell under --missing error: the rows are read back
    into memory, where encode names the cell as one process does."""
    df = pd.DataFrame({"a": np.arange(300.0), "b": np.ones(300), "label": ["x", "y"] * 150})
    df.loc[250, "a"] = np.inf if missing == "mean" else np.nan
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    assert "line 252" in _the_same_error_both_ways(path, missing=missing)


def test_columns_left_on_disk_stand_in_with_what_they_held(tmp_path):
    """The frame's view of rows kept on disk holds nothing, but says whether a column held
    a number (the plan asks); an empty column is all NaN, as it would read in memory."""
    from mlplab.persist.csvheader import read_header
    from mlplab.persist.csvrows import frame_of, read_into

    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1.5,,x\n2.5,,y\n")
    hdr = read_header(path, None)
    parsed, _, error = read_into(
        path, hdr.start, path.stat().st_size, hdr, [0, 1], [2], set(), [2], RowsFile(2), True
    )
    assert error is None
    parsed.settle()
    assert parsed.on_disk() and parsed.M.shape == (0, 2) and parsed.sink.n == 2
    frame = frame_of(parsed, path, hdr)
    a, b = frame.data[0], frame.data[1]
    assert a.shape == b.shape == (2,) and not a.flags.writeable
    assert not np.isnan(a).any() and np.isnan(b).all()
    np.testing.assert_array_equal(parsed.sink.read(0, 2)[:, 0], [1.5, 2.5])


def _categories_table(tmp_path, missing):
    rng = np.random.default_rng(5)
    n = 2000
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["color"] = rng.choice(["red", "green", " blue"], n).astype(object)
    df.loc[:600, "color"] = None  # whole chunks with no text: numbers (NaN) on disk
    df["zip"] = rng.choice([75001, 10115, 2000], n)  # numbers, declared categories
    df["label"] = rng.choice(["no", "yes"], n)
    if missing == "error":
        df["color"] = df["color"].fillna("red")
        df.loc[1500, "color"] = None  # the one empty cell: named as one process names it
    path = tmp_path / f"cats-{missing}.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("missing", ["mean", "drop", "error"])
def test_categories_are_coded_into_the_rows_on_disk_as_one_process_codes_them(
    tmp_path, monkeypatch, missing
):
    """A column of text, one of numbers declared --categorical, chunks of a column with no
    text: the rows never come into memory (encode is not called), and the codes, fill
    values and features are the one-process reader's, or its error, word for word."""
    from mlplab.core.data import train_test_split

    monkeypatch.setattr(csvfast, "CHUNK_CELLS", 2**11)  # 341 rows a chunk
    monkeypatch.setattr(csvspill, "READ_ROWS", 128)  # several blocks written in place
    monkeypatch.setattr(csvshard, "encode", lambda *a, **k: pytest.fail("encoded in memory"))
    path = _categories_table(tmp_path, missing)
    opts = {"missing": missing, "categorical": ["zip"]}
    if missing == "error":
        assert "line 1502" in _the_same_error_both_ways(path, **opts)
        return
    d = csvshard.sharded_training_data(path, "label", OneRank(), **opts)
    one = training_data(path, "label", **opts)
    assert [c.categories for c in d.plan.columns] == [c.categories for c in one.plan.columns]
    assert d.plan.columns[2].categories == ["blue", "green", "red"]
    i_tr, i_te, _, _ = train_test_split(np.arange(len(one.y)), one.y, seed=0, stratify=True)
    one.plan.fit_fill(one.codes[i_tr])
    assert [c.fill for c in d.plan.columns[2:]] == [c.fill for c in one.plan.columns[2:]]
    for c, o in zip(d.plan.columns[:2], one.plan.columns[:2], strict=True):
        assert c.fill == o.fill or c.fill == pytest.approx(o.fill, rel=1e-15)  # (exact sums)
    got = d.X_train.rows(np.arange(d.X_train.shape[0]))
    np.testing.assert_array_equal(got, one.features(np.sort(i_tr)))
    got = d.X_test.rows(np.arange(d.X_test.shape[0]))
    np.testing.assert_array_equal(got, one.features(np.sort(i_te)))
    assert d.n_dropped == (601 if missing == "drop" else 0)


def test_columns_are_written_in_place_a_block_at_a_time(monkeypatch):
    monkeypatch.setattr(csvspill, "READ_ROWS", 3)
    rows = np.arange(20.0).reshape(10, 2)
    f = _filled(rows)
    np.testing.assert_array_equal(f.column(1), rows[:, 1])
    f.set_columns({0: -np.arange(10.0)})
    f.append(np.full((1, 2), 7.0))  # appended after the rows written in place
    np.testing.assert_array_equal(f.read(0, 11)[:, 0], [*(-np.arange(10.0)), 7.0])
    np.testing.assert_array_equal(f.read(0, 11)[:, 1], [*rows[:, 1], 7.0])


@pytest.mark.parametrize("cell", [" ", "  7 ", "1_000", "0x10"])
@pytest.mark.parametrize("missing", ["error", "mean"])
def test_numbers_pandas_reads_as_text_are_coded_on_disk_as_one_process_codes_them(
    tmp_path, cell, missing
):
    """A cell pandas leaves as text makes its chunk of a column of numbers text: on disk
    that chunk's place holds NaN until the column is coded from its cells, as one process
    codes it (a number, an empty cell, or the same error), never left NaN."""
    rng = np.random.default_rng(0)
    n = 3000  # several chunks: the cell's chunk is text, the others numbers
    df = pd.DataFrame({"a": rng.normal(size=n).round(3), "b": rng.normal(size=n).round(3)})
    df["label"] = rng.choice(["x", "y"], n)
    df = df.astype({"a": object})
    df.loc[2700, "a"] = cell
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    if cell == "0x10" or (cell == " " and missing == "error"):  # one process: an error
        assert "line 2702" in _the_same_error_both_ways(path, missing=missing)
        return
    want = training_data(path, "label", missing=missing).codes  # (NaN: empty)
    d = csvshard.sharded_training_data(path, "label", OneRank(), missing=missing, test_size=0.25)
    got = np.vstack([d.X_train.parts[0], np.asarray(d.X_test.parts[0])])  # codes, too
    assert got.shape == want.shape and not np.isnan(got[:, 1]).any()
    # the same rows, in another order (training block, then test rows): compare as sets
    np.testing.assert_array_equal(np.sort(got[:, 0]), np.sort(want[:, 0]))
    assert np.isnan(got[:, 0]).sum() == (cell == " ")  # the one empty cell, no other


_FLOAT = st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: f"{v:.3f}")
_ODD = [  # per column (a, b: numbers; c: categories; label): cells one process reads its way
    st.sampled_from(["", " ", " 7 ", "1_000", "x", "inf", "-inf", "1e3", "0x10", '"5"']),
    st.sampled_from(["", " ", " 7 ", "1_000", "x", "inf", "-inf", "1e3", "0x10", '"5"']),
    st.sampled_from(["", "7", "2.5", " ", '"red"', "x"]),
    st.sampled_from(["", "1", " p", "p ", "2"]),
]


_LABEL = st.sampled_from("pq")


def _rows_sorted(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a if a.size == 0 else a[np.lexsort(a.T[::-1])]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            _FLOAT, _FLOAT, st.sampled_from(["red", "green", " blue"]), st.sampled_from("pq")
        ),
        min_size=12,
        max_size=40,
    ),
    st.lists(st.tuples(st.integers(0, 39), st.integers(0, 3), st.data()), max_size=3),
    st.sampled_from(["error", "drop", "mean", "median"]),
    st.booleans(),
    st.integers(1, 9),
)
def test_the_sharded_route_reads_any_table_as_one_process_does(
    tmp_path_factory, rows, odd, missing, declared, chunk
):
    """A table with a few odd cells, read in chunks of a few rows: the rows on disk hold one
    process's codes (in another order: the training block, then the test rows) and the
    same plan, or both routes raise the same error (the split's own errors aside)."""
    rows = [list(r) for r in rows]
    for r, c, data in odd:
        if r < len(rows):
            rows[r][c] = data.draw(_ODD[c])
    path = tmp_path_factory.mktemp("t") / "t.csv"
    path.write_text("\n".join(["a,b,c,label"] + [",".join(r) for r in rows]) + "\n")
    opts = {"missing": missing, "categorical": ["c"] if declared else []}
    one_error = sharded_error = None
    with mock.patch.object(csvfast, "chunk_rows", return_value=chunk):
        try:
            one = training_data(path, "label", **opts)
        except (CSVError, ValueError) as exc:
            one_error = str(exc)
        try:
            d = csvshard.sharded_training_data(path, "label", OneRank(), test_size=0.25, **opts)
        except (DistributedError, ValueError) as exc:
            sharded_error = str(exc).removeprefix("rank 0 of 1: ")
    split = ("test_size", "least populated", "fill value")  # too few rows of a class to split
    if one_error is None and sharded_error is not None and any(s in sharded_error for s in split):
        return
    assert sharded_error == one_error
    if one_error is None:
        got = np.vstack([d.X_train.parts[0], np.asarray(d.X_test.parts[0])])
        np.testing.assert_array_equal(_rows_sorted(got), _rows_sorted(one.codes))
        kinds = [(c.name, c.kind, c.categories) for c in d.plan.columns]
        assert kinds == [(c.name, c.kind, c.categories) for c in one.plan.columns]
