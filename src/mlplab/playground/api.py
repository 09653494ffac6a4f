"""The request handlers and routes of the playground's JSON API (Starlette).

:func:`mlplab.playground.app.create_app` imports this module when it builds an app, so
importing :mod:`mlplab.playground.app` itself needs no web framework. The routes, the
error format and the limits are described there; the limits (``MAX_BODY_BYTES``,
``LOCK_WAIT_SECONDS``) and the static folder are read from that module.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mlplab.playground import engine
from mlplab.playground import store as _store
from mlplab.playground.engine import RequestError


def error(message: str, status: int, field: str | None = None) -> JSONResponse:
    """The JSON error response: ``{"error": message, "field": name-or-null}``."""
    return JSONResponse({"error": message, "field": field}, status_code=status)


async def read_json(request: Request, allowed: set[str]) -> dict[str, Any]:
    """The body as a JSON object: at most MAX_BODY_BYTES, only ``allowed`` keys."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise RequestError("malformed Content-Length header", status=400)
        if int(length) > _store.MAX_BODY_BYTES:
            raise RequestError(f"request body larger than {_store.MAX_BODY_BYTES} bytes", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _store.MAX_BODY_BYTES:
            raise RequestError(f"request body larger than {_store.MAX_BODY_BYTES} bytes", 413)
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"the body is not valid JSON: {exc}", status=400) from None
    except RecursionError:  # [[[[...: a 1 MB body can nest deeper than Python's stack
        raise RequestError("the body is not valid JSON: nested too deeply", status=400) from None
    if not isinstance(data, dict):
        raise RequestError(f"the body must be a JSON object, got {type(data).__name__}", 400)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RequestError(
            f"unknown field(s) {unknown}; this request accepts {sorted(allowed)}",
            field=unknown[0],
        )
    return data


def _snapshot(session: engine.Session) -> dict[str, Any]:
    """The session's snapshot as sent to the page (without an uploaded CSV's text)."""
    snap = session.snapshot()
    cfg = dict(snap["config"])
    cfg["csv_uploaded"] = cfg.pop("csv_text") is not None  # never echo the upload back
    snap["config"] = cfg
    return snap


async def locked(session: engine.Session, fn: Any) -> Any:
    """Run ``fn()`` in the thread pool while holding the session's lock."""

    def work() -> Any:
        if not session.lock.acquire(timeout=_store.LOCK_WAIT_SECONDS):
            raise RequestError("this session is busy with another request", status=409)
        try:
            return fn()
        finally:
            session.lock.release()

    return await run_in_threadpool(work)


class PlaygroundApi:
    """The request handlers of one app, over its data folder and its session store."""

    def __init__(self, folder: Path | None, store: _store.SessionStore) -> None:
        self.folder = folder
        self.store = store

    # -- pages -------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        """GET /: the page."""
        return FileResponse(_store.STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def options(self, request: Request) -> Response:
        """GET /api/options: choices, limits, presets and the data folder's CSV files."""
        files = await run_in_threadpool(engine.list_csv_files, self.folder)
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
                "data_dir": self.folder is not None,
            }
        )

    async def files(self, request: Request) -> Response:
        """GET /api/files: the CSV files in the data folder."""
        return JSONResponse({"files": await run_in_threadpool(engine.list_csv_files, self.folder)})

    # -- sessions ------------------------------------------------------------------
    async def create_session(self, request: Request) -> Response:
        """POST /api/sessions: a new session and its snapshot."""
        body = await read_json(request, {"config"})
        cfg = engine.validate_config(body.get("config", {}))

        def build() -> dict[str, Any]:
            session = engine.Session(cfg, self.folder)
            with session.lock:
                snap = _snapshot(session)
            return {"session": self.store.add(session), **snap}

        return JSONResponse(await run_in_threadpool(build), status_code=201)

    async def configure(self, request: Request) -> Response:
        """POST /api/sessions/{sid}/config: apply a configuration (rebuilding if needed)."""
        session = self.store.get(request.path_params["sid"])
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

    async def step(self, request: Request) -> Response:
        """POST /api/sessions/{sid}/step: train some epochs, answer with one frame."""
        session = self.store.get(request.path_params["sid"])
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

    async def reset(self, request: Request) -> Response:
        """POST /api/sessions/{sid}/reset: fresh weights, epoch 0."""
        session = self.store.get(request.path_params["sid"])
        await read_json(request, set())

        def run() -> dict[str, Any]:
            session.reset()
            return {"rebuilt": True, **_snapshot(session)}

        return JSONResponse(await locked(session, run))

    async def delete(self, request: Request) -> Response:
        """DELETE /api/sessions/{sid}: forget the session."""
        sid = request.path_params["sid"]
        self.store.get(sid)  # 404 for an unknown id
        self.store.remove(sid)
        return Response(status_code=204)

    # -- export --------------------------------------------------------------------
    async def export_model(self, request: Request) -> Response:
        """GET /api/sessions/{sid}/export/model: the network as an mlplab model file."""
        session = self.store.get(request.path_params["sid"])

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

    async def export_python(self, request: Request) -> Response:
        """GET /api/sessions/{sid}/export/python: a Python snippet that rebuilds it."""
        session = self.store.get(request.path_params["sid"])
        text = await locked(session, session.python_snippet)
        return PlainTextResponse(
            text,
            media_type="text/x-python; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="playground_model.py"'},
        )

    async def save(self, request: Request) -> Response:
        """POST /api/sessions/{sid}/save: write the model file into the data folder."""
        session = self.store.get(request.path_params["sid"])
        body = await read_json(request, {"name", "overwrite"})
        name = body.get("name")
        if not isinstance(name, str):
            raise RequestError("'name' must be a file name such as model.npz", field="name")
        overwrite = body.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise RequestError("'overwrite' must be true or false", field="overwrite")
        path = engine.resolve_in_folder(self.folder, name, engine.MODEL_NAME)

        def run() -> dict[str, Any]:
            if path.exists() and not overwrite:
                raise RequestError(f"{name} already exists in the data folder", 409, "name")
            session.save(path)
            return {"saved": path.name, "bytes": path.stat().st_size}

        return JSONResponse(await locked(session, run), status_code=201)


def routes(api: PlaygroundApi) -> list[Route | Mount]:
    """Every route of the app (listed in :mod:`mlplab.playground.app`), to ``api``'s handlers."""
    sid = "/api/sessions/{sid}"
    return [
        Route("/", api.index),
        Route("/api/options", api.options),
        Route("/api/files", api.files),
        Route("/api/sessions", api.create_session, methods=["POST"]),
        Route(sid, api.delete, methods=["DELETE"]),
        Route(sid + "/config", api.configure, methods=["POST"]),
        Route(sid + "/step", api.step, methods=["POST"]),
        Route(sid + "/reset", api.reset, methods=["POST"]),
        Route(sid + "/save", api.save, methods=["POST"]),
        Route(sid + "/export/model", api.export_model),
        Route(sid + "/export/python", api.export_python),
        Mount("/static", app=StaticFiles(directory=_store.STATIC), name="static"),
    ]


# -- errors ----------------------------------------------------------------------------
async def on_request_error(request: Request, exc: Exception) -> Response:
    """A :class:`RequestError`: its message, status and field."""
    assert isinstance(exc, RequestError)
    return error(str(exc), exc.status, exc.field)


async def on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (404 for an unknown path, 405, ...), as JSON."""
    assert isinstance(exc, HTTPException)
    return error(str(exc.detail), exc.status_code)


async def on_value_error(request: Request, exc: Exception) -> Response:
    """mlplab's own checks (ValueError/TypeError) name the problem: pass them on as 422."""
    return error(str(exc), 422)


async def on_server_error(request: Request, exc: Exception) -> Response:
    """Anything else: logged with its traceback; the client gets one line."""
    _store.log.exception("playground request failed", exc_info=exc)
    return error(f"internal error ({type(exc).__name__}); see the server log", 500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    RequestError: on_request_error,
    HTTPException: on_http_error,
    ValueError: on_value_error,
    TypeError: on_value_error,
    Exception: on_server_error,
}
"""Every error answers with :func:`error`'s JSON object, never with a traceback."""
