"""The playground's sessions: one per browser tab, bounded in number and idle time,
and the limits every request is held to (used by :mod:`mlplab.playground.api`)."""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from pathlib import Path

from mlplab.playground import engine
from mlplab.playground.engine import RequestError

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 1024 * 1024
"""Largest request body accepted (an uploaded CSV is at most 256 KiB of it)."""
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
LOCK_WAIT_SECONDS = 5.0

log = logging.getLogger("mlplab.playground")


class SessionStore:
    """At most ``max_sessions`` sessions; idle ones expire after ``ttl`` seconds.

    When the store is full, the least recently used session that is not training is
    dropped to make room.
    """

    def __init__(self, max_sessions: int = 32, ttl: float = 3600.0) -> None:
        self.max_sessions = max_sessions
        self.ttl = ttl
        self._sessions: dict[str, engine.Session] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, session: engine.Session) -> str:
        sid = secrets.token_urlsafe(18)
        now = time.monotonic()
        with self._lock:
            for key, s in list(self._sessions.items()):
                if now - s.last_used > self.ttl and not s.lock.locked():
                    del self._sessions[key]
            while len(self._sessions) >= self.max_sessions:
                idle = [(s.last_used, k) for k, s in self._sessions.items() if not s.lock.locked()]
                if not idle:
                    raise RequestError("too many sessions are training; try again later", 503)
                del self._sessions[min(idle)[1]]
            self._sessions[sid] = session
        return sid

    def get(self, sid: str) -> engine.Session:
        if not SESSION_ID.match(sid):
            raise RequestError("malformed session id", status=404)
        with self._lock:
            session = self._sessions.get(sid)
        if session is None:
            raise RequestError(
                "unknown or expired session; reload the page to start a new one", status=404
            )
        session.last_used = time.monotonic()
        return session

    def remove(self, sid: str) -> bool:
        with self._lock:
            return self._sessions.pop(sid, None) is not None
