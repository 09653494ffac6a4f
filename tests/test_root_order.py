"""The sharded CSV path's split and epoch batches drawn on rank 0 alone (issue 18):
rank 0 draws the split and each epoch's permutation, rank 1 holds the split's ``relabel``
and cuts the batches; every rank gets its test rows and its rows of each batch, and no
other rank holds anything over all rows. One launch
of 3 ranks (tests/mpi_scripts/root_order.py): the same split, blocks, batches (with
dropout's places, and batch gradient descent's) and random state as every rank
drawing them, and traced peaks that show where the arrays over all rows are."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mlplab.persist import csvsplit
from mlplab.persist.npydata import file_blocks
from test_distributed import SCRIPTS, mpirun, needs_mpi

N = 1_000_000


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("root") / "out.json"
    proc, _ = mpirun(3, str(SCRIPTS / "root_order.py"), str(out), str(N))
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


@needs_mpi
def test_the_root_draws_what_every_rank_drew(ranks):
    checks = ("relabel", "no_relabel", "mapper", "test", "blocks", "cut", "batches", "rng")
    checks += ("batch_gd", "in_order")
    for r, got in enumerate(ranks):
        assert {c: got[c] for c in checks} == dict.fromkeys(checks, True), f"rank {r}"


@needs_mpi
def test_only_ranks_0_and_1_hold_an_array_over_all_training_rows(ranks):
    whole = 4 * ranks[0]["n_train"]  # one int32 array over all training rows
    assert ranks[0]["split_peak"] > whole  # the labels, the split's buffer: on the root
    assert ranks[0]["epoch_peak"] > whole  # the permutation
    # rank 1 holds relabel (checked equal above), received before these peaks; every
    # other rank: its test rows, its rows of each batch, its own share only
    for got in ranks[1:]:
        assert got["split_peak"] < whole
        assert got["epoch_peak"] < whole
    # the batches are cut GROUP_ROWS rows of the permutation at a time: a rank that
    # neither draws nor maps holds its rows of one group, not 4 bytes a row of its block
    assert ranks[2]["epoch_peak"] < ranks[2]["own"]


@pytest.mark.parametrize("stratify", [False, True])
@pytest.mark.parametrize("n", [10, 4099, 70_001])
def test_relabel_is_written_over_the_split_and_its_buffer_shrunk(stratify, n):
    labels = np.random.default_rng(n).integers(0, 3, n).astype(np.uint8) if stratify else None
    split = list(csvsplit._draw(n, labels, stratify, 0.25, 0))
    want = file_blocks(split[0].copy(), n, 0, 1)[2]
    at = None if split[0].base is None else split[0].base.ctypes.data  # (no reference kept)
    got = csvsplit._relabel(split)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int32 and got.base is None and got.flags.owndata
    assert at is None or got.ctypes.data == at  # the split's buffer shrunk, not copied


def test_nth_true_names_a_mask_too_short():
    with pytest.raises(IndexError, match="2 marked rows, not 3"):
        csvsplit._nth_true(np.array([True, False, True]), 2)


def test_an_error_that_cannot_be_pickled_is_sent_as_its_text():
    class OddError(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a} and {b}")

    assert isinstance(csvsplit._sendable(ValueError("x")), ValueError)
    sent = csvsplit._sendable(OddError(1, 2))
    assert isinstance(sent, RuntimeError) and str(sent) == "OddError: 1 and 2"
