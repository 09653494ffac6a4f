"""The fuzzers' source of choices: a fuzz input read as a stream of decisions.

Every target turns its input bytes into structured choices through :class:`Draw`, so the
same bytes always make the same file or request (atheris mutates the bytes; the replay
test in ``tests/test_fuzz.py`` feeds the committed corpus through the same code without
atheris). When the bytes run out every choice is 0: a short input is a valid, simple case.
"""

from __future__ import annotations

import json
import math
from typing import Any

INTERESTING_NUMBERS: list[Any] = [
    0, 1, -1, 2, 3, 255, 256, 65535, 2**31 - 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 10**30,
    0.0, -0.0, 0.5, 1e-300, 5e-324, 1e308, -1e308, 1.7976931348623157e308, 1e30, 2e30,
    math.nan, math.inf, -math.inf, True, False, None,
]  # fmt: skip
INTERESTING_TEXT: list[str] = [
    "", " ", "a", "0", "1e30", "nan", "NaN", "inf", "-inf", "1.5", "-1", "\x00", "\r", "\n",
    "\r\n", '"', ",", ";", "\t", "|", "\ufeff", "é", "\ud800", "x" * 300, "[", "{", "}", "null",
]  # fmt: skip


class Draw:
    """Decisions read from ``data``, one byte (or a few) at a time."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        """The next byte, or 0 when the input is used up."""
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def below(self, n: int) -> int:
        """An integer in ``[0, n)`` (two bytes when n > 256)."""
        if n <= 1:
            return 0
        value = self.byte() if n <= 256 else self.byte() << 8 | self.byte()
        return value % n

    def pick(self, options: list[Any] | tuple[Any, ...]) -> Any:
        """One of ``options``."""
        return options[self.below(len(options))]

    def flag(self) -> bool:
        """A yes/no choice (no when the input is used up)."""
        return self.byte() & 1 == 1

    def take(self, n: int) -> bytes:
        """Up to ``n`` raw bytes."""
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def blob(self, max_len: int = 64) -> bytes:
        """A length byte, then that many raw bytes."""
        return self.take(self.below(max_len + 1))

    def text(self, max_len: int = 64) -> str:
        """A short string: an interesting one or raw bytes decoded leniently."""
        if self.flag():
            return str(self.pick(INTERESTING_TEXT))
        return self.blob(max_len).decode("utf-8", "replace")

    def rest(self) -> bytes:
        """Every byte not yet read."""
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out

    def json_value(self, depth: int = 0) -> Any:
        """Any JSON value (NaN and infinities included, as Python's json writes them)."""
        kind = self.below(8 if depth < 4 else 4)
        if kind == 0:
            return self.pick(INTERESTING_NUMBERS)
        if kind == 1:
            return self.text()
        if kind == 2:
            return int.from_bytes(self.take(self.below(12)), "little", signed=True)
        if kind == 3:
            raw = self.take(8).ljust(8, b"\0")
            return float.fromhex(raw.hex()[:13]) * self.pick([1, -1, 1e-300, 1e300])
        if kind in (4, 5):
            return [self.json_value(depth + 1) for _ in range(self.below(4))]
        if kind == 6:
            return {self.text(8): self.json_value(depth + 1) for _ in range(self.below(4))}
        return self.pick([[[[[[[[[[[]]]]]]]]]], "[" * 3000, {"": None}])


def mutate_json(value: Any, draw: Draw, depth: int = 0) -> Any:
    """``value`` with one node somewhere below it replaced, removed or added."""
    action = draw.below(8)
    if isinstance(value, dict) and value and action < 5:
        key = draw.pick(sorted(value, key=str))
        out = dict(value)
        if action == 0:
            del out[key]
        elif action == 1:
            out[draw.text(12)] = draw.json_value()
        else:
            out[key] = mutate_json(value[key], draw, depth + 1)
        return out
    if isinstance(value, list) and value and action < 5:
        i = draw.below(len(value))
        out_list = list(value)
        if action == 0:
            del out_list[i]
        elif action == 1:
            out_list.insert(i, draw.json_value())
        else:
            out_list[i] = mutate_json(value[i], draw, depth + 1)
        return out_list
    if isinstance(value, (int, float)) and not isinstance(value, bool) and action < 6:
        return draw.pick([value + 1, value - 1, -value, value * 2**40, value / 3, str(value)])
    return draw.json_value()


def dumps(value: Any) -> bytes:
    """JSON text as Python writes it (NaN and Infinity allowed); deep values as text."""
    try:
        return json.dumps(value).encode()
    except (RecursionError, ValueError):
        return b"null"


def mutate_bytes(raw: bytes, draw: Draw) -> bytes:
    """``raw`` with a few bytes replaced, inserted or removed."""
    out = bytearray(raw)
    for _ in range(1 + draw.below(4)):
        pos = draw.below(len(out) + 1)
        action = draw.below(4)
        chunk = draw.blob(8)
        if action == 0 and pos < len(out):
            out[pos : pos + len(chunk)] = chunk
        elif action == 1:
            out[pos:pos] = chunk
        elif action == 2:
            del out[pos : pos + 1 + draw.below(16)]
        else:
            out[pos:pos] = draw.pick(INTERESTING_TEXT).encode("utf-8", "surrogatepass")
    return bytes(out)
