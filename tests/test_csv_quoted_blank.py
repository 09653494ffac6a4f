"""A line of only "" is a blank line to the exact reader and a row to pandas (found by
fuzzing): a clear CSVError, never an IndexError from numbering the rows."""

import pytest

from mlplab.persist import csvdata
from mlplab.persist.csvexact import CSVError


@pytest.mark.parametrize("body", ['""', '""\n1,2,x\n3,4,y\n', '1,2,x\n"  "\n3,,y\n'])
@pytest.mark.parametrize("missing", ["error", "mean"])
def test_quoted_blank_line_is_named(tmp_path, body, missing):
    path = tmp_path / "in.csv"
    path.write_text("a,b,t\n" + body)
    with pytest.raises(CSVError, match=r'only a quoted empty or blank cell \(such as ""\)'):
        _train_rows(path, missing)


def _train_rows(path, missing):
    return csvdata.training_data(path, "t", None, missing=missing).features()


def test_dropped_quoted_blank_line_trains_as_the_exact_reader(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('a,b,t\n""\n1,2,x\n3,4,y\n')
    found = csvdata.training_data(path, "t", None, missing="drop")
    assert found.features().shape == (2, 2)
    assert len(csvdata.read_table(path, ",").rows) == 2
