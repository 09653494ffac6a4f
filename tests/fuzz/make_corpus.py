"""Write the fuzzers' seed corpus (``tests/fuzz/corpus/TARGET/``): valid and interesting
inputs each fuzzer starts from. Deterministic; run it again after changing a target's
input format: ``python tests/fuzz/make_corpus.py``.

For the CSV target an input is five option bytes (separator, reader, target column,
task, empty-cell policy: see ``targets.csv_target``) and then the file; for the others
any bytes are a valid input (a short one is a valid, unmutated file or request).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent

CSV_FILES = [
    b"x,y\n1,0\n2,1\n3,0\n4,1\n",
    b"id,x,colour,label\nr1,0.5,red,yes\nr2,1.5,blue,no\nr3,,green,yes\nr4,2,red,no\n",
    b"\xef\xbb\xbfa;b;t\n1;2;x\n3;4;y\n5;6;x\n",
    b'a,b,t\n"1,5",2,0\n"q""uote",3,1\n4,5,0\n',
    b"a\tb\tt\n1\t2\t3.5\n4\t5\t6.5\n7\t8\t9.25\n",
    b",x,y\n0,1,a\n1,2,b\n2,3,a\n",
    b"x,y\n1,1e30\n2,2e30\n3,0\n",
    b"x,y\n1,nan\n2,inf\n3,NA\n",
    b"x,y\r\n1,2\r\n\r\n3,4\r\n",
    b"x|y\n1|2\n",
]
OPTIONS = [b"\x00\x00\x00\x00\x00", b"\x00\x01\x00\x00\x00", b"\x00\x02\x01\x01\x00",
           b"\x00\x02\x05\x02\x02", b"\x00\x02\x03\x00\x01"]  # fmt: skip


def _write(target: str, data: bytes) -> None:
    folder = HERE / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def main() -> None:
    """(Re)write every seed."""
    for i, text in enumerate(CSV_FILES):
        _write("csv", OPTIONS[i % len(OPTIONS)] + text)
        _write("csv", OPTIONS[(i + 2) % len(OPTIONS)] + text)
    rng = np.random.default_rng(0)
    for target in ("modelfile", "checkpoint", "playground", "cli"):
        _write(target, b"")
        for k in range(1, 9):
            _write(target, bytes([k]) + rng.bytes(8 * k))


if __name__ == "__main__":
    main()
