"""mlplab playground: the lecture, live in the browser (``mlplab playground``).

A small Starlette app (:func:`create_app`, needs the ``web`` extra: ``pip install
'mlplab[web]'``) serves one page of vanilla HTML/JS/canvas; the training runs on mlplab
itself (:mod:`mlplab.playground.engine`), one session per browser tab.
"""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any) -> Any:
    """Build the ASGI app; see :func:`mlplab.playground.app.create_app`."""
    from mlplab.playground.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["create_app"]
