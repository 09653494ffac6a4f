"""The playground's ASGI app (Starlette): a JSON API over :mod:`mlplab.playground.engine`.

Routes (every error is a JSON object ``{"error": message, "field": name-or-null}`` with
a 4xx status; nothing ever answers with a traceback)::

    GET    /                                  the page (static/index.html)
    GET    /static/...                        its script and style sheet
    GET    /api/options                       choices, limits, presets, CSV files
    POST   /api/sessions                      {"config": {...}} -> new session + snapshot
    POST   /api/sessions/{id}/config          {"config": {...}, "reset": bool} -> snapshot
    POST   /api/sessions/{id}/step            {"epochs": k}     -> one frame
    POST   /api/sessions/{id}/reset           {}                -> snapshot
    GET    /api/sessions/{id}/export/model    the network as an mlplab model file (.npz)
    GET    /api/sessions/{id}/export/python   a Python snippet that rebuilds it
    POST   /api/sessions/{id}/save            {"name": "m.npz"} -> written to the data folder
    DELETE /api/sessions/{id}                 forget the session

A session belongs to one browser tab (the page keeps its id in memory). Training runs
in Starlette's thread pool, one session at a time under that session's lock, and each
request does a bounded amount of work (at most ``LIMITS["epochs"]`` epochs and about
``MAX_SECONDS_PER_REQUEST`` of wall time), so the event loop keeps answering other tabs
while one of them trains. Files are only read from and written to the configured data
folder, by plain file name.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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


def _snapshot(session: engine.Session) -> dict[str, Any]:
    snap = session.snapshot()
    cfg = dict(snap["config"])
    cfg["csv_uploaded"] = cfg.pop("csv_text") is not None  # never echo the upload back
    snap["config"] = cfg
    return snap


def create_app(
    data_dir: str | Path | None = None,
    max_sessions: int = 32,
    session_ttl: float = 3600.0,
) -> Any:
    """Build the Starlette application.

    Parameters
    ----------
    data_dir : path, optional
        The only folder the app reads CSV files from and saves model files to (by plain
        file name). Without it, CSV data can only be uploaded and models only downloaded.
    max_sessions : int, default=32
        Sessions (browser tabs) kept at once.
    session_ttl : float, default=3600
        Seconds after which an idle session is forgotten.
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    folder: Path | None = None
    if data_dir is not None:
        folder = Path(data_dir).expanduser().resolve()
        if not folder.is_dir():
            raise NotADirectoryError(f"data folder {data_dir} does not exist or is not a folder")
    store = SessionStore(max_sessions, session_ttl)

    def error(message: str, status: int, field: str | None = None) -> JSONResponse:
        return JSONResponse({"error": message, "field": field}, status_code=status)

    async def read_json(request: Request, allowed: set[str]) -> dict[str, Any]:
        """The body as a JSON object: at most MAX_BODY_BYTES, only ``allowed`` keys."""
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise RequestError("malformed Content-Length header", status=400)
            if int(length) > MAX_BODY_BYTES:
                raise RequestError(f"request body larger than {MAX_BODY_BYTES} bytes", 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise RequestError(f"request body larger than {MAX_BODY_BYTES} bytes", 413)
        if not body.strip():
            return {}
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(f"the body is not valid JSON: {exc}", status=400) from None
        if not isinstance(data, dict):
            raise RequestError(f"the body must be a JSON object, got {type(data).__name__}", 400)
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise RequestError(
                f"unknown field(s) {unknown}; this request accepts {sorted(allowed)}",
                field=unknown[0],
            )
        return data

    async def locked(session: engine.Session, fn: Any) -> Any:
        """Run ``fn()`` in the thread pool while holding the session's lock."""

        def work() -> Any:
            if not session.lock.acquire(timeout=LOCK_WAIT_SECONDS):
                raise RequestError("this session is busy with another request", status=409)
            try:
                return fn()
            finally:
                session.lock.release()

        return await run_in_threadpool(work)

    # -- pages -------------------------------------------------------------------
    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def options(request: Request) -> Response:
        files = await run_in_threadpool(engine.list_csv_files, folder)
        return JSONResponse(
            {
                "datasets": list(engine.DATASETS),
                "activations": list(engine.ACTIVATIONS),
                "inits": list(engine.INITS),
                "optimizers": list(engine.OPTIMIZERS),
                "limits": engine.LIMITS,
                "defaults": engine.DEFAULT_CONFIG,
                "presets": [
                    {**{k: p[k] for k in ("id", "title", "text")}, "config": c}
                    for p in engine.PRESETS
                    for c in [engine.preset_config(p["id"])]
                ],
                "csv_files": files,
                "data_dir": folder is not None,
            }
        )

    # -- sessions ------------------------------------------------------------------
    async def create_session(request: Request) -> Response:
        body = await read_json(request, {"config"})
        cfg = engine.validate_config(body.get("config", {}))

        def build() -> dict[str, Any]:
            session = engine.Session(cfg, folder)
            with session.lock:
                snap = _snapshot(session)
            return {"session": store.add(session), **snap}

        return JSONResponse(await run_in_threadpool(build), status_code=201)

    async def configure(request: Request) -> Response:
        session = store.get(request.path_params["sid"])
        body = await read_json(request, {"config", "reset"})
        if "config" not in body:
            raise RequestError("missing field 'config'", field="config")
        force = body.get("reset", False)
        if not isinstance(force, bool):
            raise RequestError("'reset' must be true or false", field="reset")

        def apply() -> dict[str, Any]:
            cfg = engine.validate_config(body["config"], base=session.cfg)
            rebuilt = session.reconfigure(cfg)
            if force and not rebuilt:
                session.reset()
            return {"rebuilt": rebuilt or force, **_snapshot(session)}

        return JSONResponse(await locked(session, apply))

    async def step(request: Request) -> Response:
        session = store.get(request.path_params["sid"])
        body = await read_json(request, {"epochs"})
        epochs = engine.validate_epochs(body.get("epochs", 1))

        def run() -> dict[str, Any]:
            t0 = time.perf_counter()
            done = session.train(epochs)
            frame = session.frame()
            frame["epochs_done"] = done
            frame["server_ms"] = round((time.perf_counter() - t0) * 1000, 2)
            return frame

        return JSONResponse(await locked(session, run))

    async def reset(request: Request) -> Response:
        session = store.get(request.path_params["sid"])
        await read_json(request, set())

        def run() -> dict[str, Any]:
            session.reset()
            return {"rebuilt": True, **_snapshot(session)}

        return JSONResponse(await locked(session, run))

    async def delete(request: Request) -> Response:
        sid = request.path_params["sid"]
        store.get(sid)  # 404 for an unknown id
        store.remove(sid)
        return Response(status_code=204)

    # -- export --------------------------------------------------------------------
    async def export_model(request: Request) -> Response:
        session = store.get(request.path_params["sid"])

        def run() -> bytes:
            with tempfile.TemporaryDirectory(prefix="mlplab-playground-") as tmp:
                path = session.save(Path(tmp) / "model.npz")
                return path.read_bytes()

        data = await locked(session, run)
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": 'attachment; filename="playground-model.npz"'},
        )

    async def export_python(request: Request) -> Response:
        session = store.get(request.path_params["sid"])
        text = await locked(session, session.python_snippet)
        return PlainTextResponse(
            text,
            media_type="text/x-python; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="playground_model.py"'},
        )

    async def save(request: Request) -> Response:
        session = store.get(request.path_params["sid"])
        body = await read_json(request, {"name", "overwrite"})
        name = body.get("name")
        if not isinstance(name, str):
            raise RequestError("'name' must be a file name such as model.npz", field="name")
        overwrite = body.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise RequestError("'overwrite' must be true or false", field="overwrite")
        path = engine.resolve_in_folder(folder, name, engine.MODEL_NAME)

        def run() -> dict[str, Any]:
            if path.exists() and not overwrite:
                raise RequestError(f"{name} already exists in the data folder", 409, "name")
            session.save(path)
            return {"saved": path.name, "bytes": path.stat().st_size}

        return JSONResponse(await locked(session, run), status_code=201)

    async def files(request: Request) -> Response:
        return JSONResponse({"files": await run_in_threadpool(engine.list_csv_files, folder)})

    # -- errors ----------------------------------------------------------------------
    async def on_request_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestError)
        return error(str(exc), exc.status, exc.field)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(str(exc.detail), exc.status_code)

    async def on_value_error(request: Request, exc: Exception) -> Response:
        # mlplab's own checks (ValueError/TypeError) name the problem: pass them on as 422.
        return error(str(exc), 422)

    async def on_server_error(request: Request, exc: Exception) -> Response:
        log.exception("playground request failed", exc_info=exc)
        return error(f"internal error ({type(exc).__name__}); see the server log", 500)

    sid = "/api/sessions/{sid}"
    routes = [
        Route("/", index),
        Route("/api/options", options),
        Route("/api/files", files),
        Route("/api/sessions", create_session, methods=["POST"]),
        Route(sid, delete, methods=["DELETE"]),
        Route(sid + "/config", configure, methods=["POST"]),
        Route(sid + "/step", step, methods=["POST"]),
        Route(sid + "/reset", reset, methods=["POST"]),
        Route(sid + "/save", save, methods=["POST"]),
        Route(sid + "/export/model", export_model),
        Route(sid + "/export/python", export_python),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            RequestError: on_request_error,
            HTTPException: on_http_error,
            ValueError: on_value_error,
            TypeError: on_value_error,
            Exception: on_server_error,
        },
    )
    app.state.store = store
    app.state.data_dir = folder
    return app
