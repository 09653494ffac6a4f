"""Small CSV files read without pandas (issue 19, ``persist/csvsmall.py``): every file
gives the same frame, training data, errors and warnings, bit for bit, whether the stdlib
route or pandas' reads it — over generated files full of tricky number spellings, the
committed fuzz inputs and hand-made files — and the route is taken for ordinary files."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlplab.persist import csvdata, csvfast, csvsmall
from mlplab.persist.csvexact import CSVError

pd = pytest.importorskip("pandas")
FUZZ = Path(__file__).parent / "fuzz"

TRICKY = [
    *["-0", "+0", "-00", "0", "007", "-007", "1.", ".5", "+.5", "-.5e-3", "0.0", "-0.0"],
    *["1e5", "1E5", "1e+05", "1e-22", "1e22", "1e23", "1e-23", "9e-7", "123.456e-10"],
    *["123456789012345", "1234567890123456", "12345678901234567", "0.1234567890123456789"],
    *["9007199254740993", "0.30000000000000004", "1.7976931348623157e308", "4.9e-324"],
    *["1e400", "-1e400", "1e-400", "5e-324", "2.2250738585072011e-308", "1e-320"],
    *["0x10", "0x1p3", "inf", "-inf", "+inf", "Infinity", "-Infinity", "INF", "iNf"],
    *["nan", "NaN", "-nan", "True", "False", "true", "FALSE", "TRUE", "yes", "t"],
    *["1_000", " 1", "1 ", " 1.5", "1.5 ", "\t2", "\x0b3", "\u0661\u0662", "\xa01", "1\xa0"],
    *["1e", "1e+", ".", "-", "+", "e5", "--1", "1.2.3", "1-2", "2024-01-01", "1e5e5"],
    *["9223372036854775807", "9223372036854775808", "-9223372036854775809"],
    *["18446744073709551616", "abc", "north", "", "", " ", "  ", "NA", "null", "information"],
]
SAFE = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.6g}"),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.4e}"),
    st.from_regex(r"[+-]?[0-9]{0,9}\.?[0-9]{0,6}([eE][+-]?[0-9]{1,2})?", fullmatch=True),
)
CELL = st.one_of(st.sampled_from(TRICKY), SAFE, st.sampled_from(["a", "b", "east", "x1"]))


@contextlib.contextmanager
def pandas_route() -> Iterator[None]:
    """Every file read by pandas, as before this module."""
    with mock.patch.object(csvsmall, "SMALL_BYTES", 0):
        yield


def outcome(read: Callable[[], Any]) -> Any:
    """What ``read`` gives (or raises), and the warnings it issues, as comparable data."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: Any = ("ok", read())
        except (CSVError, ValueError) as exc:
            result = ("error", type(exc).__name__, str(exc))
    return result, [(w.category.__name__, str(w.message)) for w in caught]


def array(a: np.ndarray | None) -> Any:
    """An array as data: dtype and bits (numbers), or the type and value of each entry."""
    if a is None:
        return None
    if a.dtype == np.float64:
        return ("f8", a.tobytes())
    if a.dtype == object:
        return ("O", [(type(v).__name__, v if v == v else "nan") for v in a.tolist()])
    return (a.dtype.str, a.tobytes())


def frame_data(frame: csvfast.Frame) -> Any:
    lines = outcome(lambda: [frame.line(i) for i in range(frame.n_rows)])
    data = [array(a) for a in frame.data]
    return frame.columns, frame.sep, frame.header_line, frame.n_rows, data, lines


def training(data: csvdata.TrainingData) -> Any:
    X = data.features() if data.plan is not None else data.X
    plan = data.plan.to_json() if data.plan is not None else None
    return array(X), array(data.y), array(data.classes), data.task, plan, data.n_dropped


def same_both_ways(read: Callable[[], Any]) -> Any:
    """``read`` through both routes: the same outcome; returns it."""
    small = outcome(read)
    with pandas_route():
        big = outcome(read)
    assert small == big
    return small


def check_file(path: Path, sep: str | None = None, **options: Any) -> None:
    same_both_ways(lambda: frame_data(csvdata.read_frame(path, sep)))
    header = csvfast.read_header(path, sep)
    if header is None:
        return
    for target in header.columns:
        if target:
            same_both_ways(
                lambda t=target: training(csvdata.training_data(path, t, sep=sep, **options))
            )


def write(path: Path, header: list[str], rows: list[list[str]], sep: str = ",") -> Path:
    path.write_text("\n".join(sep.join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------- generated files
@given(
    st.integers(1, 3).flatmap(
        lambda k: st.lists(st.lists(CELL, min_size=k + 1, max_size=k + 1), min_size=1, max_size=9)
    ),
    st.sampled_from([",", ";", "\t"]),
    st.sampled_from(["error", "drop", "mean"]),
)
def test_generated_files_read_the_same_both_ways(tmp_path_factory, rows, sep, missing):
    cells = [[c.replace(sep, "") for c in r] for r in rows]
    path = tmp_path_factory.mktemp("g") / "g.csv"
    write(path, [f"c{j}" for j in range(len(cells[0]))], cells, sep)
    with mock.patch.object(csvfast, "chunk_rows", return_value=3):  # several chunks
        check_file(path, sep, missing=missing)


@given(st.lists(SAFE, min_size=1, max_size=40))
def test_numbers_converted_here_are_pandas_bits(tmp_path_factory, tokens):
    """Each token the stdlib route converts is pandas' float64, bit for bit (as a whole
    number and in a column of fractions); and such a file is read without pandas."""
    path = tmp_path_factory.mktemp("n") / "n.csv"
    write(path, ["a", "b"], [[t, t] for t in tokens] + [["0", "0.5"]])  # b: fractions
    got = same_both_ways(lambda: frame_data(csvdata.read_frame(path)))
    if all(csvsmall._numbers([t]) is not None for t in tokens):
        header = csvfast.read_header(path, None)
        assert csvsmall.read_small(path, header.start, 1, ",", 2, [0, 1], set(), 100)
        assert got[0][0] == "ok" and [d[0] for d in got[0][1][4]] == ["f8", "f8"]


@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "", " a", "1"]), st.floats())))
def test_factorize_is_pandas_factorize(values):
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    codes, uniques = csvsmall.factorize_py(arr)
    theirs = pd.factorize(arr, use_na_sentinel=True)
    np.testing.assert_array_equal(codes, theirs[0])
    assert codes.dtype == theirs[0].dtype and uniques.dtype == theirs[1].dtype == object
    assert [repr(u) for u in uniques] == [repr(u) for u in theirs[1]]


@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "", " a", "1"]), st.floats())),
    st.integers(1, 5),
)
def test_factorize_in_blocks_is_pandas_factorize_of_the_whole(values, block):
    """A long column goes to pandas a block at a time (its hash table is sized for all it
    is given): the codes and uniques are those of the whole column at once."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    with mock.patch.object(csvsmall, "FACTORIZE_ROWS", block):
        codes, uniques = csvsmall.factorize(arr)
    theirs = pd.factorize(arr, use_na_sentinel=True)
    np.testing.assert_array_equal(codes, theirs[0])
    assert codes.dtype == theirs[0].dtype and uniques.dtype == theirs[1].dtype == object
    assert [repr(u) for u in uniques] == [repr(u) for u in theirs[1]]


# ----------------------------------------------------------------- committed inputs
def _fuzz_inputs() -> list[Path]:
    return sorted((FUZZ / "corpus" / "csv").glob("*")) + sorted(
        (FUZZ / "crashes" / "csv").glob("*")
    )


@pytest.mark.parametrize("path", _fuzz_inputs(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_fuzz_inputs_read_the_same_both_ways(tmp_path, path):
    sys.path.insert(0, str(FUZZ))
    try:
        from draw import Draw
    finally:
        sys.path.remove(str(FUZZ))
    d = Draw(path.read_bytes())  # the csv target's choices, as tests/fuzz/targets.py draws them
    sep = d.pick([None, ",", ";", "\t", "|"])
    d.below(3), d.byte(), d.pick([None, "classification", "regression"])
    missing = d.pick(["error", "drop", "mean", "median"])
    file = tmp_path / "in.csv"
    file.write_bytes(d.rest())
    check_file(file, sep, missing=missing)


@pytest.mark.parametrize(
    "path",
    sorted((Path(__file__).parent / "fixtures").rglob("*.csv")),
    ids=lambda p: p.name,
)
def test_fixture_files_read_the_same_both_ways(path):
    check_file(path)
    check_file(path, missing="drop")


FILES = {
    "categories": "x,city,y\n1.5,north,yes\n2,south,no\n-0,north,yes\n3e-2,east,no\n",
    "ids and gaps": "id,a,b,y\nr1,1,,0\nr2,2,5,1\nr3,,6,0\nr4,4,7,1\n",
    "text target numbers": "a,y\n1,1\n2,1.0\n3,x\n4,2\n",
    "regression": "a,b,price\n1,2,3.25\n2,3,4.5\n3,4,-0.0\n4,5,1e3\n",
    "mixed column": "a,b,y\n1,2,0\n3,x,1\n4,5,0\n",
    "inf cell": "a,b,y\n1,inf,0\n3,2,1\n",
    "bool column": "a,b,y\n1,True,0\n3,False,1\n",
    "long digits": "a,b,y\n0.12345678901234567,2,0\n3,4,1\n",
    "short row": "a,b,y\n1,2,0\n3,4\n5,6,1\n",
    "long row": "a,b,y\n1,2,0\n3,4,1,9\n",
    "trailing separators": "a,b\n1,2,\n3,4,\n",
    "blank lines": "a,b,y\n\n1,2,0\n   \n3,4,1\n\n",
    "quoted": 'a,b,y\n1,"2",0\n3,4,"x, y"\n',
    "quoted empty line": 'a,b,t\n""\n1,2,x\n3,4,y\n',
    "crlf": "a,b,y\r\n1,2,0\r\n3,4,1\r\n",
    "no rows": "a,b,y\n",
    "empty target": "a,b,y\n1,2,0\n3,4,\n5,6,1\n",
    "index column": ",a,y\n0,1.5,a\n1,2.5,b\n2,3.5,a\n",
}


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("missing", ["error", "drop", "median"])
def test_hand_made_files_read_the_same_both_ways(tmp_path, name, missing):
    path = tmp_path / "f.csv"
    path.write_text(FILES[name], encoding="utf-8")
    check_file(path, missing=missing)
    check_file(path, ";", missing=missing)


def test_ordinary_files_take_the_stdlib_route_and_chunks_are_typed_alone(tmp_path):
    """A column that is numbers in one chunk and text in the next is typed per chunk, as
    pandas types it (the number chunk as float64, so "2" reads 2.0): the same frame."""
    rows = [[str(i), "north" if i % 2 else "south", str(i % 3)] for i in range(2100)]
    rows[2050][2] = "x"  # the target's last chunk holds text
    path = write(tmp_path / "o.csv", ["a", "city", "y"], rows)
    header = csvfast.read_header(path, None)
    assert csvsmall.read_small(path, header.start, 1, ",", 3, [0, 1, 2], set(), 1024)
    with mock.patch.object(csvfast, "chunk_rows", return_value=1024):
        frame = csvdata.read_frame(path)
        assert frame.data[2][:2].tolist() == [0.0, 1.0] and frame.data[2][2050] == "x"
        assert frame.data[2][2049] == "0" and frame.line(2050) == 2052
        check_file(path)


# ----------------------------------------------------------------- no pandas in the process
HEAVY = ("pandas", "sklearn", "matplotlib")
RUN_CLI = """import atexit, runpy, sys
atexit.register(lambda: print("HEAVY", *[m for m in {heavy} if m in sys.modules]))
sys.argv = ["mlplab", *sys.argv[1:]]
runpy.run_module("mlplab", run_name="__main__")
"""


def heavy_modules(tmp_path: Path, *args: str) -> list[str]:
    """The heavy packages loaded when ``mlplab ARGS`` exits (in a fresh interpreter)."""
    script = tmp_path / "run_cli.py"
    script.write_text(RUN_CLI.format(heavy=HEAVY))
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split()[1:]


def test_the_cli_and_read_csv_never_import_pandas_for_a_small_file(tmp_path):
    rows = [[f"{i * 0.37:.2f}", ["north", "south"][i % 2], str(i % 5), "yes" if i % 3 else "no"]
            for i in range(60)]  # fmt: skip
    rows[4][2] = ""  # an empty cell: filled by the median
    write(tmp_path / "t.csv", ["a", "town", "b", "y"], rows)
    train = ["train", "--data", "t.csv", "--target", "y", "--epochs", "2", "--missing", "median"]
    assert heavy_modules(tmp_path, *train, "--json", "--quiet") == []
    assert "pandas" not in heavy_modules(tmp_path, *train, "--quiet", "--out", "run")  # + a PNG
    assert heavy_modules(tmp_path, "predict", "run/model.npz", "t.csv", "--quiet") == []
    assert heavy_modules(tmp_path, "evaluate", "run/model.npz", "t.csv", "--json") == []
    code = "import sys, mlplab; d = mlplab.read_csv('t.csv', 'y', missing='mean'); print(d.X.shape)"
    code += "; assert not [m for m in ('pandas', 'sklearn') if m in sys.modules], sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == b"(60, 4)", done.stderr
