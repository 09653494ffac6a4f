"""Where the data of a CSV file start, how its fields are separated, and where to cut it.

:func:`read_header` reads the header record with the exact reader's rules (quotes, BOM,
blank lines, names checked, :mod:`mlplab.persist.csvexact`) and finds the separator
(:func:`detect_sep`) when none is given; :func:`newline_cuts` and :func:`cut_points`
cut the rows after it into byte ranges at record boundaries, for threads
(:mod:`mlplab.persist.csvfast`) or MPI ranks (:mod:`mlplab.persist.csvshard`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlplab.persist.csvexact import SEPARATORS, blank_record, check_names

_BOM = b"\xef\xbb\xbf"


@dataclass
class Header:
    """Where the data of a CSV file start, and how its fields are separated."""

    columns: list[str]
    line: int
    start: int
    """Byte offset of the first data line (after the header record)."""
    sep: str


# ---------------------------------------------------------------------- the header
def _lines_of(path: Path, limit: int = 64, max_bytes: int = 2**20) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for k, raw in enumerate(f):
            yield raw[3:] if k == 0 and raw.startswith(_BOM) else raw
            max_bytes -= len(raw)
            if k + 1 >= limit or max_bytes <= 0:
                return


def detect_sep(lines: list[str]) -> str:
    """The separator among ``, ; tab |`` that gives the header two fields or more and the
    most rows with the header's number of fields (ties: the earlier one; none: ``,``)."""
    best, best_score = ",", (0, 0)
    for sep in SEPARATORS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=sep) if not blank_record(r)]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        score = (sum(len(r) == len(rows[0]) for r in rows[1:]), len(rows[0]))
        if score > best_score:
            best, best_score = sep, score
    return best


def read_header(path: Path, sep: str | None = None) -> Header | None:
    """The header record, its line, the offset of the data and the separator; None for a
    file the exact reader must read (not UTF-8, bare CR line ends, odd quoting)."""
    try:
        if sep is None:
            sep = detect_sep([raw.decode("utf-8") for raw in _lines_of(path)])
        consumed = 0
        with open(path, "rb") as f:

            def lines() -> Iterator[str]:
                nonlocal consumed
                for k, raw in enumerate(f):
                    consumed += len(raw)
                    yield (raw[3:] if k == 0 and raw.startswith(_BOM) else raw).decode("utf-8")

            reader = csv.reader(lines(), delimiter=sep, strict=True)
            for cells in reader:
                if not blank_record(cells):  # the exact reader's rule: it must agree
                    columns = [c.strip() for c in cells]
                    check_names(path, reader.line_num, columns)
                    return Header(columns, reader.line_num, consumed, sep)
    except (UnicodeDecodeError, csv.Error):
        return None
    return None


# ---------------------------------------------------------------------- the cuts
def newline_cuts(path: Path, start: int, k: int) -> list[int]:
    """``start``, up to k−1 offsets just after the first newline past each k-th of the
    file, and the file size: record boundaries unless a cut falls inside a quoted field
    (:func:`_fast` checks the quotes it read before each cut, and cuts again with
    :func:`cut_points` when one did)."""
    size = os.path.getsize(path)
    cuts = [start]
    with open(path, "rb") as f:
        for j in range(1, k):
            f.seek(max(start + (size - start) * j // k, cuts[-1]))
            f.readline()
            cuts.append(f.tell())
    return [*sorted({c for c in cuts if c < size}), size]


def cut_points(path: Path, start: int, k: int, block: int = 8 * 2**20) -> list[int]:
    """``start``, then up to k−1 offsets just after a newline outside quotes (an even
    number of ``"`` since ``start``), then the file size: record boundaries."""
    size = os.path.getsize(path)
    targets = [start + (size - start) * j // k for j in range(1, k)]
    cuts, quotes, pos = [start], 0, start
    with open(path, "rb") as f:
        f.seek(start)
        while targets and (data := f.read(block)):
            o = 0
            while targets:
                o = max(o, targets[0] - pos)
                nl = data.find(b"\n", o)
                if nl < 0:
                    break
                if (quotes + data.count(b'"', 0, nl)) % 2 == 0:
                    cuts.append(pos + nl + 1)
                    targets.pop(0)
                o = nl + 1
            quotes += data.count(b'"')
            pos += len(data)
    return sorted(set(cuts)) + ([size] if cuts[-1] != size else [])
