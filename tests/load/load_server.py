"""The playground served by uvicorn on 127.0.0.1, watched from inside (tests/test_load.py).

    python tests/load/load_server.py PORT MAX_SESSIONS

Prints ``ready`` once the port answers, then every 0.2 s one JSON line: the number of
sessions in the store and the process's resident memory (MB, from /proc). Stops on
SIGTERM.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{os.getpid()}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    """Serve, and report the sessions and memory until stopped."""
    import uvicorn

    from mlplab.playground.app import create_app

    port, max_sessions = int(sys.argv[1]), int(sys.argv[2])
    app = create_app(max_sessions=max_sessions)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))

    def watch() -> None:
        while not server.started:
            time.sleep(0.05)
        print("ready", flush=True)
        while not server.should_exit:
            line = {"t": time.time(), "sessions": len(app.state.store), "rss_mb": rss_mb()}
            print(json.dumps(line), flush=True)
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    server.run()


if __name__ == "__main__":
    main()
