"""``mlplab playground``: serve the interactive playground on a local web page."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

HELP = "serve the interactive playground (a local web page; needs the 'web' extra)"

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser("playground", help=HELP, description=HELP)
    p.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: only this machine can connect)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder the page may read CSV datasets from and save models to (nothing else)",
    )
    return p


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must lie in [0, 65535], got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from mlplab.playground.app import create_app
    except ImportError as exc:
        print(
            f"mlplab: error: the playground needs the 'web' extra ({exc.name} is missing): "
            "pip install 'mlplab[web]'",
            file=sys.stderr,
        )
        return 2
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise NotADirectoryError(f"--data-dir {args.data_dir} does not exist or is not a folder")
    app = create_app(data_dir=args.data_dir)
    if args.host not in LOCAL_HOSTS:
        print(
            f"mlplab: warning: serving on {args.host}: other machines can reach the playground",
            file=sys.stderr,
        )
    sock = _listen(args.host, args.port)  # a busy port fails here, before any URL is printed
    port = sock.getsockname()[1]  # --port 0: the free port the system chose
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"mlplab playground on http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    config = uvicorn.Config(app, host=args.host, port=port, log_level="warning")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port``, or raise one clear ``OSError`` (e.g. a busy port)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise OSError(f"--host {host!r}: cannot resolve it ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        hint = " (is another playground running?); pass --port N, or --port 0 for a free one"
        raise OSError(f"cannot serve on {host}:{port}: {reason}{hint}") from None
    return sock
