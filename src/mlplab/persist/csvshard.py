"""A CSV file read by K MPI ranks, each parsing only its own byte range.

``mpiexec -n K mlplab train --distributed --data FILE.csv`` comes here
(:func:`sharded_training_data`). Rank k reads bytes ``cut_k:cut_{k+1}`` of the file, the
cuts falling just after a newline outside quotes (:func:`~mlplab.persist.csvheader.newline_cuts`,
checked with the quotes each rank counted, and cut again with
:func:`~mlplab.persist.csvheader.cut_points` when one fell inside a quoted field), and
parses those rows with pandas' C parser as one process does. Everything global is then
agreed through the communicator, so that every rank makes the decisions one process
makes on the whole file:

* the row counts (each rank's first row and line, for messages naming a cell);
* the table plan: each column's kind (numbers, categories, or an error for a column
  mixing both), the sorted union of the categories, the id-like check;
* the target: the task when it is inferred, the sorted class labels;
* the train/test split, drawn on rank 0 from all rows' labels, each rank sent its test
  rows (:mod:`mlplab.persist.csvsplit`: no other rank holds an array over all rows);
* the fill values of empty cells, from the training rows (mean: exact sums, the same
  bits for any K; median: the column's training values gathered one column at a time;
  a category: summed counts);
* the standardizer's μ and σ, from summed moments (:func:`mlplab.train.mpi.fit_standardizer`,
  exact sums: a checkpoint's digest of the standardized rows is the same for any K, so a
  run resumes on another number of ranks).

The feature columns are parsed chunk by chunk straight into an unlinked temporary file
(:mod:`mlplab.persist.csvspill`), which holds the rank's rows as the codes matrix when
every cell of numbers was finite, or empty under a ``--missing`` policy that fills or
drops (:data:`FILLED_OR_DROPPED`): the rank then never holds its rows whole. A column's
text cells (categories) are kept aside meanwhile, NaN in their place on disk, and their
codes are written into that place once the plan is agreed
(:func:`~mlplab.persist.csvrows.encode_on_disk`). Else (an infinite cell, or an empty
one under ``--missing error``: a problem to name) the rows are read back into one float64
matrix, where :func:`~mlplab.persist.csvrows.encode` names the problem's line as one
process does. Rows dropped for an empty cell stay in the file, left out by a mask. The
training rows then stay in the file's order: rank k keeps block k of them
(:func:`~mlplab.persist.npydata.file_blocks`), which lies in the rows it read give or
take those near the edges of the ranks' parts (one ``Alltoallv`` moves them). One pass
over the file reads the block back into one matrix (:mod:`mlplab.persist.csvblock`; a
batch is one ``take`` of it, through no index) and copies the rank's test rows, in the
file's order, to a second file read a block at a time (the validation curve, the
metrics); fill values and one-hot codes are applied as the rows are read. The
permutation is drawn over the split's order and mapped to the file's (``relabel``; under
K > 1 rank 0 draws it and rank 1 maps it, :class:`mlplab.train.rootorder.RootOrder`, each
rank sent its rows of each batch): the batches, and the weights, are those of one
process. Metrics on the test rows are sums over the ranks.

An error on any rank (a cell that is not a number, a ragged row, a file a rank cannot
read) is raised on every rank as the same :class:`~mlplab.train.mpi.DistributedError`,
naming the rank and the file's line.
"""

from __future__ import annotations

import functools
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlplab.persist.cells import number_error, parse_number, text_codes, text_table
from mlplab.persist.csvblock import Aside, training_block
from mlplab.persist.csvexact import CSVError, check_file
from mlplab.persist.csvfast import Frame, _exact
from mlplab.persist.csvheader import Header, cut_points, newline_cuts, read_header
from mlplab.persist.csvrows import Parsed, encode, encode_on_disk, frame_of, read_into
from mlplab.persist.csvspill import FileRows, RowsFile
from mlplab.persist.csvsplit import split_on_root, training_blocks
from mlplab.persist.csvtarget import target as target_column
from mlplab.persist.npydata import BLOCK_ROWS
from mlplab.persist.tableplan import ID_LIKE_ROWS, MAX_CATEGORIES, Column, TablePlan
from mlplab.train.exactsum import column_sums, mean
from mlplab.train.mpi import agree
from mlplab.train.rootorder import RootOrder
from mlplab.train.rows import MappedRows

__all__ = ["Shard", "read_shard", "sharded_training_data"]

FILLED_OR_DROPPED = ("mean", "median", "drop")
"""The ``--missing`` policies under which an empty cell needs no message: the rows may
stay on disk as parsed (:meth:`~mlplab.persist.csvrows.Parsed.settle`)."""


# ---------------------------------------------------------------------- reading
def _rank_cuts(path: Path, start: int, size: int, exact: bool) -> list[int]:
    """size + 1 offsets: record boundaries (the last ranks may get empty ranges)."""
    cuts = cut_points(path, start, size) if exact else newline_cuts(path, start, size)
    end = cuts[-1]
    return cuts + [end] * (size + 1 - len(cuts))


def read_shard(
    path: str | os.PathLike[str], comm: Any, sep: str | None = None, text: Any = ()
) -> Frame:
    """This rank's rows of a CSV file, as a :class:`Frame` of every column.

    ``frame.row_offset`` is the number of data rows before them (for messages naming
    their lines). ``text``: columns kept as text (ids, declared categories).
    """
    return _read(path, comm, sep, text)[0]


def _read(
    path: str | os.PathLike[str],
    comm: Any,
    sep: str | None,
    text: Any,
    target: str | None = None,
    options: dict[str, Any] | None = None,
    spill_dir: str | None = None,
) -> tuple[Frame, Parsed]:
    """This rank's rows; with ``options`` (a table plan's), its feature columns parsed
    straight into a file in ``spill_dir`` (kept there when every cell was a number,
    else read into one float matrix: :meth:`~mlplab.persist.csvrows.Parsed.settle`,
    :mod:`mlplab.persist.csvrows`), the target beside."""
    rank, size = comm.Get_rank(), comm.Get_size()
    p, hdr, nbytes = agree(comm, functools.partial(_header, path, sep))
    seen = comm.allgather((nbytes, hdr.columns))
    for r, (b, cols) in enumerate(seen):
        if (b, cols) != seen[0]:
            raise _different_file(p, r, seen[0], (b, cols))
    features: list[int] = []
    aside = list(range(len(hdr.columns)))
    if options is not None:  # the plan's columns, from the header alone
        empty = Frame(p, hdr.columns, [np.empty(0)] * len(hdr.columns), hdr.sep, hdr.line)
        names = agree(comm, lambda: TablePlan.choose(empty, target, **options).features)
        features = [hdr.columns.index(n) for n in names]
        aside = [k for k, c in enumerate(hdr.columns) if c == target]
    coded = aside if options is not None else []  # the target: encoded as it is parsed
    text_idx = {k for k, c in enumerate(hdr.columns) if c in set(text)}

    def parse(cuts: list[int]) -> tuple[Parsed, int, Exception | None]:
        a, b = cuts[rank], cuts[rank + 1]

        def read() -> tuple[Parsed, int, Exception | None]:
            sink = None if options is None else RowsFile(len(features), spill_dir)
            empty_ok = options is not None and options.get("missing") in FILLED_OR_DROPPED
            return read_into(p, a, b, hdr, features, aside, text_idx, coded, sink, empty_ok)

        got: tuple[Parsed, int, Exception | None] = agree(comm, read)
        return got

    cuts = comm.bcast(_rank_cuts(p, hdr.start, size, False) if rank == 0 else None, root=0)
    got = parse(cuts)
    parities = comm.allgather(got[1] % 2)
    if any(q % 2 for q in itertools.accumulate(parities[:-1])):  # a cut inside quotes
        cuts = comm.bcast(_rank_cuts(p, hdr.start, size, True) if rank == 0 else None, root=0)
        got = None  # type: ignore[assignment]  # free the first parse before the second
        got = parse(cuts)
    agree(comm, lambda: _raise_exact(p, hdr, got[2], text_idx))
    parsed = got[0]
    agree(comm, parsed.settle)  # text or empty cells: the rows read back into memory
    frame = frame_of(parsed, p, hdr)
    counts = comm.allgather(parsed.n)
    frame.row_offset = int(sum(counts[:rank]))
    if any(comm.allgather(parsed.last_empty)):
        agree(comm, frame.check_structure)  # a short row: the exact reader names it
    if sum(counts) == 0:
        raise CSVError(f"{p}: no data rows after the header (line {hdr.line})")
    return frame, parsed


def _header(path: str | os.PathLike[str], sep: str | None) -> tuple[Path, Header, int]:
    """The file (checked readable), its header and its size in bytes."""
    p = check_file(path)
    if not os.access(p, os.R_OK):
        raise CSVError(f"{p}: cannot be read (permission denied)")
    hdr = read_header(p, sep)
    if hdr is None:
        raise CSVError(
            f"{p}: the header cannot be read fast (bytes that are not UTF-8, bare CR line "
            "ends or odd quoting); train in one process to have the problem named"
        )
    return p, hdr, os.path.getsize(p)


def _different_file(p: Path, r: int, first: Any, mine: Any) -> CSVError:
    return CSVError(
        f"{p}: rank {r} sees a different file than rank 0 ({mine[0]} bytes, columns "
        f"{mine[1][:5]} against {first[0]} bytes, {first[1][:5]}); every rank must read "
        "the same file (a shared file system, or the same copy on every node)"
    )


def _raise_exact(p: Path, hdr: Header, error: Exception | None, text: set[int]) -> None:
    """pandas refused this rank's range: the exact reader names the line (whole file)."""
    if error is None:
        return
    _exact(p, hdr.sep, [], text)  # raises the exact error (e.g. a row of other width)
    raise CSVError(f"{p}: {error}")


# ---------------------------------------------------------------------- the plan
def _summary(frame: Frame, k: int, declared: bool) -> tuple[bool, bool, Any, int, int]:
    """(has numbers, has text, the distinct texts or None if too many, non-empty cells,
    the first row holding text or -1) of column k on this rank."""
    values = frame.data[k]
    assert values is not None
    if not declared and values.dtype == np.float64:
        return bool((~np.isnan(values)).any()), False, set(), 0, -1
    # each cell's text is table[codes] (−1: the last, ""): per row only small arrays
    codes, table = text_table(frame, k) if declared else text_codes(values)
    texts = table.tolist()
    uniq = set(texts) - {""}
    n = int(np.count_nonzero(np.array([t != "" for t in texts])[codes]))
    if declared:
        return False, True, (uniq if len(uniq) <= MAX_CATEGORIES else None), n, -1
    numeric = {u for u in uniq if parse_number(u) is not None}
    words = uniq - numeric
    first = -1
    if words:
        first = int(np.argmax(np.array([t in words for t in texts])[codes]))
    return bool(numeric), bool(words), (words if len(words) <= MAX_CATEGORIES else None), n, first


def choose_plan(frame: Frame, comm: Any, target: str | None, **options: Any) -> TablePlan:
    """:meth:`TablePlan.choose` over the rows of every rank: the same plan as one process
    on the whole file."""
    local = agree(comm, lambda: TablePlan.choose(_no_rows(frame), target, **options))
    declared = set(options.get("categorical", ()))
    cols = []
    for c in local.columns:
        k = frame.index(c.name)
        summary = functools.partial(_summary, frame, k, c.name in declared)
        parts = comm.allgather(agree(comm, summary))
        decide = functools.partial(_decide, frame, k, c.name, declared, parts, comm.rank)
        cols.append(agree(comm, decide))
    return TablePlan(
        cols, local.target, local.id_column, local.missing, local.unknown, local.ignored
    )


def _no_rows(frame: Frame) -> Frame:
    """The frame's header with no rows: choose names the columns without looking at cells."""
    empty = [None if a is None else a[:0] for a in frame.data]
    return Frame(frame.path, frame.columns, empty, frame.sep, frame.header_line)


def _decide(frame: Frame, k: int, name: str, declared: set[str], parts: Any, rank: int) -> Column:
    has_num, has_text = any(p[0] for p in parts), any(p[1] for p in parts)
    if name not in declared and not has_text:
        return Column(name)
    if name not in declared and has_num:  # numbers and text: the first text names it
        first_rank = next(r for r, p in enumerate(parts) if p[1])
        if rank == first_rank:
            hint = (
                f" (column {name!r} holds numbers and text; to use it as categories, "
                f"pass --categorical {name})"
            )
            raise number_error(frame, parts[rank][4], k, hint)
        return Column(name)  # the first rank with text raises: agree() names it
    sets = [p[2] for p in parts]
    cats = sorted(set().union(*sets)) if all(s is not None for s in sets) else None
    n = sum(p[3] for p in parts)
    if (
        cats is None
        or len(cats) > MAX_CATEGORIES
        or (name not in declared and len(cats) == n > ID_LIKE_ROWS)
    ):
        shown = "more than 1000" if cats is None else str(len(cats))
        raise CSVError(
            f"{frame.where(None, k)}: {shown} distinct texts in {n} rows, not "
            f"categories; leave the column out (--drop {name}) or name it as the id "
            f"column (--id-column {name})"
        )
    return Column(name, "category", cats)


# ---------------------------------------------------------------------- fill values
def fit_fill_global(plan: TablePlan, R: np.ndarray, comm: Any) -> TablePlan:
    """:meth:`TablePlan.fit_fill` on the training rows of every rank (``R``: this rank's
    codes of training rows). Means and category counts are summed a block of rows at a
    time (exactly: the same bits for any K); the median gathers one column at a time."""
    if plan.missing not in ("mean", "median"):
        return plan
    cats = [j for j, c in enumerate(plan.columns) if c.kind == "category"]
    nums = [j for j in range(len(plan.columns)) if j not in cats]
    counts = {j: np.zeros(len(plan.columns[j].categories or []), np.int64) for j in cats}
    sums = {j: [0, 0] for j in nums}  # exact sum, values
    for s in range(0, R.shape[0], BLOCK_ROWS):
        block = R[s : s + BLOCK_ROWS]
        for j in cats:
            x = block[:, j][block[:, j] >= 0]  # (NaN: not >= 0)
            counts[j] += np.bincount(x.astype(np.int64), minlength=counts[j].shape[0])
        for j in nums if plan.missing == "mean" else []:
            x = block[:, j][~np.isnan(block[:, j])]
            sums[j][0] += column_sums(x[:, None])[0]
            sums[j][1] += x.shape[0]
    for j, c in enumerate(plan.columns):
        _set_fill(c, R, j, plan.missing, counts.get(j), sums.get(j), comm)
    return plan


def _set_fill(
    c: Column, R: np.ndarray, j: int, missing: str, counts: Any, sums: Any, comm: Any
) -> None:
    """Column c's fill value from every rank's counts (a category), exact sums (mean) or
    values (median: R's column j gathered)."""
    if c.kind == "category":
        total = np.sum(comm.allgather(counts), axis=0)
        if total.sum() == 0:
            raise ValueError(f"column {c.name!r} has no value to compute a fill value from")
        c.fill = (c.categories or [])[int(total.argmax())]
    elif missing == "mean":  # exact sums: the same bits for any K
        parts = comm.allgather(tuple(sums))
        n = sum(p[1] for p in parts)
        if n == 0:
            raise ValueError(f"column {c.name!r} has no value to compute a fill value from")
        c.fill = mean(sum(p[0] for p in parts), n)
    else:  # the exact median needs the values: one column at a time
        x = R[:, j][~np.isnan(R[:, j])]
        allx = np.concatenate(comm.allgather(x))
        if allx.size == 0:
            raise ValueError(f"column {c.name!r} has no value to compute a fill value from")
        c.fill = float(np.median(allx))


# ---------------------------------------------------------------------- the split
@dataclass
class Shard:
    """This rank's part of a CSV training file, ready for :func:`mlplab.recipes.train_csv`."""

    X_train: np.ndarray | MappedRows  # the training block: one contiguous part, no index
    y_train: np.ndarray
    X_test: np.ndarray | MappedRows
    y_test: np.ndarray
    n_train: int
    n_test: int
    task: str
    task_inferred: bool
    plan: TablePlan
    classes: np.ndarray | None = None
    n_dropped: int = 0
    rows: tuple[int, int] = (0, 0)
    """The rows ``a:b`` of the file (rows with an empty cell dropped) that this rank's
    block of the training rows lies in (:func:`~mlplab.persist.npydata.file_blocks`)."""
    n_read: int = field(default=0, repr=False)
    """Data rows this rank parsed."""


def sharded_training_data(
    path: str | os.PathLike[str],
    target: str,
    comm: Any,
    task: str | None = None,
    *,
    sep: str | None = None,
    test_size: float = 0.25,
    seed: int = 0,
    spill_dir: str | None = None,
    **plan_options: Any,
) -> Shard:
    """This rank's training block and test rows of ``path`` (see the module docstring)."""
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be classification or regression, got {task!r}")
    text = [plan_options.get("id_column"), *plan_options.get("categorical", ())]
    frame, parsed = _read(path, comm, sep, [n for n in text if n], target, plan_options, spill_dir)
    t = agree(comm, lambda: frame.index(target))
    plan = choose_plan(frame, comm, target, **plan_options)
    aside, complete = parsed.sink, None  # every cell of numbers finite (or filled): on disk
    if aside is not None:  # the codes of categories written into their columns there
        agree(comm, lambda: encode_on_disk(plan, frame, parsed, plan.missing != "error"))
    if aside is not None and plan.missing == "drop" and not parsed.finite:
        complete = agree(comm, aside.complete_rows)  # rows with an empty cell, on disk
    if aside is None:  # an infinite cell, or an empty one under --missing error: the rows
        agree(comm, lambda: encode(plan, frame, parsed, plan.missing != "error"))  # in memory
        raise RuntimeError("rows that cannot stay on disk were encoded")  # pragma: no cover
    coded = parsed.coded[t]
    y, keep, task_, classes = target_column(frame, t, coded, complete, plan.missing, task, comm)
    frame.data[:] = [None] * len(frame.data)  # the target's cells too: the file and y hold it all
    parsed.pieces.clear()  # text cells
    parsed.coded.clear()  # the target's codes
    del complete
    counts = comm.allgather(int(np.count_nonzero(keep)))
    lo, n_rows = int(sum(counts[: comm.rank])), sum(counts)
    stratify = task_ == "classification"
    relabel, test = split_on_root(y, counts, stratify, test_size, seed, comm)  # root: relabel
    n_test, width = sum(comm.allgather(int(test.shape[0]))), len(plan.output_names)
    is_test = np.zeros(counts[comm.rank], dtype=bool)  # of the kept rows
    is_test[test] = True
    del test
    own = ~is_test  # which of my rows are training rows
    starts, cut, (a, b) = training_blocks(own, lo, n_rows, comm)
    tests = agree(comm, lambda: RowsFile(aside.width, aside.folder))  # in the file's order
    F, y_tr = training_block(Aside(aside, keep), y, lo, own, cut, comm, (is_test, tests))
    aside.close()
    if plan.missing in ("mean", "median"):  # from the training rows: all ranks' blocks
        fit_fill_global(plan, F, comm)
    X_tr = MappedRows([F]).encoded(plan.expand, width)  # no index: a batch is one take
    X_te = MappedRows([FileRows(tests)]).encoded(plan.expand, width)  # fill, one-hot: when read
    if comm.size == 1:
        X_tr.relabel = relabel  # rows in the file's order, batches in the split's
    else:  # rank 0 draws the permutations, rank 1 maps them (relabel): no other rank
        X_tr.order_source, relabel = RootOrder(comm, starts, relabel), None
    dropped = sum(comm.allgather(int((~keep).sum())))
    out = Shard(X_tr, y_tr, X_te, y[is_test], starts[-1], n_test, task_, task is None, plan)
    out.classes, out.n_dropped, out.rows = classes, dropped, (a, b)
    out.n_read = int(keep.shape[0])
    return out
