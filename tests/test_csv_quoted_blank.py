"""A line of only "" (or "  ") after the header is a row of one empty cell, as pandas'
parser reads it and as Python's csv module writes a record of one empty field; a line of
spaces and tabs is a blank line. Every route reads it so: in a file of several columns
it is a row with too few cells, refused naming its line (whatever ``missing`` says, as
every short row); in a file of one column it is a row with an empty cell. Before the
header it is skipped, as blank lines are."""

import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from mlplab.persist import csvdata, csvsmall
from mlplab.persist.csvexact import CSVError
from mlplab.persist.csvshard import sharded_training_data
from mlplab.train.mpi import DistributedError

sys.path.insert(0, str(Path(__file__).parent))
from test_csv_rank_memory import OneRank

SHORT = (
    '{}, line {}: 1 cells, but the header (line 1) has 3 columns (a line of only "" is a '
    "row of one empty cell, not a blank line: delete the line, or give it a cell for every "
    "column)"
)


def _write(tmp_path, text):
    path = tmp_path / "in.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("body", "line"),
    [('""\n1,2,x\n3,4,y\n', 2), ('1,2,x\n"  "\n3,,y\n', 3), ('1,2,x\n3,4,y\n""\n', 4)],
)
@pytest.mark.parametrize("missing", ["error", "drop", "mean"])
@pytest.mark.parametrize("small_bytes", [0, csvsmall.SMALL_BYTES])
def test_a_quoted_blank_line_among_several_columns_is_a_short_row(
    tmp_path, body, line, missing, small_bytes
):
    path = _write(tmp_path, "a,b,t\n" + body)
    expected = SHORT.format(path, line)
    with mock.patch.object(csvsmall, "SMALL_BYTES", small_bytes), pytest.raises(CSVError) as error:
        csvdata.training_data(path, "t", None, missing=missing).features()
    assert str(error.value) == expected
    with pytest.raises(CSVError) as error:  # the exact reader
        csvdata.read_table(path, ",")
    assert str(error.value) == expected
    with pytest.raises((CSVError, DistributedError)) as error:  # a rank's part (MPI)
        sharded_training_data(path, "t", OneRank(), missing=missing)
    assert str(error.value).removeprefix("rank 0 of 1: ").removeprefix("CSVError: ") == expected


def test_a_quoted_blank_line_in_one_column_is_a_row_with_an_empty_cell(tmp_path):
    path = _write(tmp_path, 'a\n1\n""\n2\n')
    frame = csvdata.read_frame(path)
    np.testing.assert_array_equal(frame.data[0], [1.0, np.nan, 2.0])
    assert frame.where(1, 0) == f"{path}, line 3, column 'a' (column 1)"
    table = csvdata.read_table(path, ",")
    assert table.rows == [["1"], [""], ["2"]] and table.lines == [2, 3, 4]
    path = _write(tmp_path, 'a\nx\n"  "\n')  # blanks in quotes: a row too
    assert csvdata.read_frame(path).data[0].tolist() == ["x", "  "]
    table = csvdata.read_table(path, ",")
    assert table.rows == [["x"], ["  "]] and table.lines == [2, 3]


def test_blank_lines_and_a_quoted_blank_line_before_the_header_are_skipped(tmp_path):
    path = _write(tmp_path, '""\na,b,t\n1,2,x\n \t \n\n3,4,y\n')
    for small_bytes in (0, csvsmall.SMALL_BYTES):
        with mock.patch.object(csvsmall, "SMALL_BYTES", small_bytes):
            found = csvdata.training_data(path, "t", None)
        assert found.features().tolist() == [[1.0, 2.0], [3.0, 4.0]]
    table = csvdata.read_table(path, ",")
    assert table.rows == [["1", "2", "x"], ["3", "4", "y"]] and table.lines == [3, 6]
