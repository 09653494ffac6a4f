"""Faults under load (issue 21): the playground with many concurrent sessions.

A real uvicorn server on 127.0.0.1 (``tests/load/load_server.py``, its own process, which
reports its session count and resident memory) and ``CLIENTS`` threads for ``SECONDS``:

- good clients each create a session, then step it (1-5 epochs), reconfigure it (α, the
  optimizer, or a new architecture, which restarts it at epoch 0) and export it, checking
  every answer: the epoch advances by exactly the epochs this client trained, the
  configuration is the one it sent;
- every fifth client is hostile: malformed JSON, a 2 MB body, a lying Content-Length,
  deep nesting, wrong types, values out of range and unknown fields, sent to its own
  and to the good clients' sessions. Each must get a 4xx, and the good clients' checks
  above show that none of it reached their sessions.

It fails on any 5xx or connection error, on a good request refused, on a session whose
state changed under its owner, on more sessions than the server's limit, and on server
memory past ``RSS_LIMIT_MB``. The figures (requests, statuses, latency percentiles, peak
sessions and memory) are printed. ``make test`` runs a short version (12 clients, 8 s);
``make loadtest`` the full one (``MLPLAB_LOAD_CLIENTS=50 MLPLAB_LOAD_SECONDS=60``).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="the web-test extra is not installed")
pytest.importorskip("uvicorn", reason="the web extra is not installed")

CLIENTS = int(os.environ.get("MLPLAB_LOAD_CLIENTS", "12"))
SECONDS = float(os.environ.get("MLPLAB_LOAD_SECONDS", "8"))
MAX_SESSIONS = 64
RSS_LIMIT_MB = 512  # measured peak: 169 MB (12 clients), 181 MB (50 clients, 60 s)
HOSTILE_EVERY = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """tests/load/load_server.py in a subprocess, and what it reports."""

    def __init__(self) -> None:
        self.port = _free_port()
        script = Path(__file__).parent / "load" / "load_server.py"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(self.port), str(MAX_SESSIONS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise RuntimeError("the playground server did not start")
        self.reports: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.reports.append(json.loads(line))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self._reader.join(timeout=5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


class Tally:
    """Every request's status and latency, and every failed check, from all threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: Counter[str] = Counter()
        self.latency: list[float] = []
        self.failures: list[str] = []

    def request(
        self, client: httpx.Client, method: str, url: str, hostile: bool = False, **kw
    ) -> httpx.Response | None:
        """One request; a hostile one may have its connection closed (a lying length)."""
        t0 = time.perf_counter()
        try:
            r = client.request(method, url, **kw)
        except httpx.TransportError as exc:
            if hostile:
                with self.lock:
                    self.status["closed"] += 1
            else:
                self.fail(f"{method} {url}: {type(exc).__name__}: {exc}")
            return None
        with self.lock:
            self.latency.append(time.perf_counter() - t0)
            self.status[str(r.status_code)] += 1
        if r.status_code >= 500:
            self.fail(f"{method} {url}: {r.status_code} {r.text[:200]}")
        return r

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


def _good(base: str, k: int, tally: Tally, sids: list[str], deadline: float) -> None:
    rng = random.Random(k)
    cfg = {"n_points": 100, "hidden": [{"units": 4, "activation": "tanh"}], "seed": k}
    with httpx.Client(base_url=base, timeout=30) as c:
        r = tally.request(c, "POST", "/api/sessions", json={"config": cfg})
        if r is None or r.status_code != 201:
            return tally.fail(f"client {k}: create answered {r and r.status_code}")
        sid, epoch = r.json()["session"], 0
        sids.append(sid)
        url = f"/api/sessions/{sid}"
        while time.monotonic() < deadline:
            op = rng.random()
            if op < 0.6:
                r = tally.request(c, "POST", url + "/step", json={"epochs": rng.randint(1, 5)})
                if r is None or r.status_code != 200:
                    return tally.fail(f"client {k}: step answered {r and r.status_code}")
                epoch += r.json()["epochs_done"]
                if r.json()["epoch"] != epoch:
                    return tally.fail(f"client {k}: epoch {r.json()['epoch']}, expected {epoch}")
            elif op < 0.9:
                change = rng.choice(
                    [
                        {"lr": rng.choice([0.01, 0.03, 0.1])},
                        {"optimizer": rng.choice(["gd", "adam"])},
                        {"hidden": [{"units": rng.randint(1, 6), "activation": "relu"}]},
                    ]
                )
                r = tally.request(c, "POST", url + "/config", json={"config": change})
                if r is None or r.status_code != 200:
                    return tally.fail(f"client {k}: config answered {r and r.status_code}")
                snap = r.json()
                if any(snap["config"][key] != v for key, v in change.items()):
                    return tally.fail(f"client {k}: config {snap['config']} is not {change}")
                epoch = 0 if snap["rebuilt"] else epoch
                if snap["frame"]["epoch"] != epoch:
                    return tally.fail(f"client {k}: epoch {snap['frame']['epoch']} after config")
            else:
                r = tally.request(c, "GET", url + "/export/python")
                if r is None or r.status_code != 200 or f"epoch {epoch})" not in r.text:
                    return tally.fail(f"client {k}: export answered {r and r.status_code}")


_HOSTILE = [
    ("step", b"{not json", None),
    ("step", b'{"epochs": "many"}', None),
    ("step", b'{"epochs": 1e400}', None),
    ("step", b'{"epochs": 1, "extra": 1}', None),
    ("step", b"[" * 100_000 + b"]" * 100_000, None),
    ("step", b"\xff\xfe\x00", None),
    ("config", b'{"config": {"lr": -1}}', None),
    ("config", b'{"config": {"hidden": [{"units": 10000, "activation": "relu"}]}}', None),
    ("config", b'{"config": {"dataset": "../../etc/passwd"}}', None),
    ("config", b'{"config": {"lr": 0.1}, "reset": "yes"}', None),
    ("config", b'{"config": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, None),
    ("config", b" " * (2 * 1024 * 1024) + b"{}", None),
    ("step", b"{}", {"content-length": "99999999999"}),
    ("config", b'{"config": {}}', {"content-length": "4"}),
]


def _raw(port: int, path: str, body: bytes, length: str) -> str:
    """A request whose Content-Length lies (httpx refuses to send one): the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
        s.sendall(head.encode() + body)
        s.shutdown(socket.SHUT_WR)
        return s.recv(200).decode("latin-1").split("\r\n", 1)[0]


def _hostile(base: str, k: int, tally: Tally, sids: list[str], deadline: float) -> None:
    rng = random.Random(k)
    with httpx.Client(base_url=base, timeout=30) as c:
        r = tally.request(c, "POST", "/api/sessions", json={"config": {"n_points": 20}})
        own = r.json()["session"] if r is not None and r.status_code == 201 else "x" * 20
        while time.monotonic() < deadline:
            sid = rng.choice(sids) if sids and rng.random() < 0.7 else own
            what, body, headers = rng.choice(_HOSTILE)
            path = f"/api/sessions/{sid}/{what}"
            if headers:
                line = _raw(c.base_url.port, path, body, headers["content-length"])
                with tally.lock:
                    tally.status[line.split(" ")[1] if " " in line else "closed"] += 1
                if line and not line.split(" ")[1].startswith("4"):
                    tally.fail(f"hostile Content-Length {headers} to /{what}: {line!r}")
                continue
            r = tally.request(
                c, "POST", path, True, content=body, headers={"content-type": "application/json"}
            )
            if r is not None and not 400 <= r.status_code < 500:
                tally.fail(f"hostile {body[:40]!r} to /{what}: {r.status_code}")


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def test_playground_under_concurrent_sessions_and_hostile_clients():
    server = Server()
    tally, sids = Tally(), []
    deadline = time.monotonic() + SECONDS
    base = f"http://127.0.0.1:{server.port}"
    threads = [
        threading.Thread(
            target=_hostile if k % HOSTILE_EVERY == HOSTILE_EVERY - 1 else _good,
            args=(base, k, tally, sids, deadline),
        )
        for k in range(CLIENTS)
    ]
    t0 = time.monotonic()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SECONDS + 120)
        alive = sum(t.is_alive() for t in threads)
    finally:
        server.stop()
    wall = time.monotonic() - t0
    peak_sessions = max((r["sessions"] for r in server.reports), default=0)
    rss = [r["rss_mb"] for r in server.reports]
    print(
        f"\nplayground load: {CLIENTS} clients ({CLIENTS // HOSTILE_EVERY} hostile), {wall:.1f} s, "
        f"{sum(tally.status.values())} requests ({sum(tally.status.values()) / wall:.0f}/s), "
        f"statuses {dict(sorted(tally.status.items()))}, latency p50 "
        f"{_percentile(tally.latency, 0.5) * 1000:.0f} ms p99 "
        f"{_percentile(tally.latency, 0.99) * 1000:.0f} ms max {max(tally.latency) * 1000:.0f} ms, "
        f"sessions peak {peak_sessions} (limit {MAX_SESSIONS}), server memory "
        f"{min(rss):.0f} -> peak {max(rss):.0f} MB (limit {RSS_LIMIT_MB} MB)"
    )
    assert alive == 0, f"{alive} client threads still running"
    assert not tally.failures, f"{len(tally.failures)} failures, first: {tally.failures[:5]}"
    assert not any(s.startswith("5") for s in tally.status)
    assert tally.status["200"] > CLIENTS  # the good clients did work
    assert sum(tally.status[s] for s in ("400", "413", "422")) > 0  # and the hostile ones
    assert 0 < peak_sessions <= MAX_SESSIONS
    assert max(rss) <= RSS_LIMIT_MB
