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

The handlers and the route table are in :mod:`mlplab.playground.api`, which
:func:`create_app` imports (so importing this module needs no web framework).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlplab.playground.store import (  # noqa: F401  (the limits are documented here too)
    LOCK_WAIT_SECONDS,
    MAX_BODY_BYTES,
    SESSION_ID,
    STATIC,
    SessionStore,
    log,
)


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

    from mlplab.playground import api

    folder = _data_folder(data_dir)
    store = SessionStore(max_sessions, session_ttl)
    app = Starlette(
        routes=api.routes(api.PlaygroundApi(folder, store)),
        exception_handlers=dict(api.EXCEPTION_HANDLERS),
    )
    app.state.store = store
    app.state.data_dir = folder
    return app


def _data_folder(data_dir: str | Path | None) -> Path | None:
    """``data_dir`` resolved, or None; a folder that does not exist is an error."""
    if data_dir is None:
        return None
    folder = Path(data_dir).expanduser().resolve()
    if not folder.is_dir():
        raise NotADirectoryError(f"data folder {data_dir} does not exist or is not a folder")
    return folder
