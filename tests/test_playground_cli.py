"""``mlplab playground``: the command line around the app."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from mlplab.cli import main


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["playground", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--port", "--host", "--data-dir", "127.0.0.1"):
        assert option in out


def test_bad_port_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["playground", "--port", "70000"])
    assert exc.value.code == 2
    assert "--port: must lie in [0, 65535], got 70000" in capsys.readouterr().err


def test_missing_data_dir_is_a_one_line_error(tmp_path, capsys):
    pytest.importorskip("uvicorn")
    code = main(["playground", "--data-dir", str(tmp_path / "nope")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("mlplab: error: --data-dir")
    assert "does not exist" in err


def test_without_the_web_extra_it_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError
    assert main(["playground"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'mlplab[web]'" in err
    assert "Traceback" not in err


def test_importing_mlplab_and_its_cli_does_not_import_the_web_stack():
    code = (
        "import sys, mlplab, mlplab.cli; mlplab.cli.build_parser(); "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'mlplab.playground.app') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_command_serves_the_page_on_localhost(tmp_path):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    (tmp_path / "points.csv").write_text("x1,x2,label\n" + "0,0,0\n1,1,1\n" * 10)
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlplab",
            "playground",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(base + "/", timeout=2) as r:
                    page = r.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the playground did not start"
                time.sleep(0.1)
        assert "mlplab playground" in page
        with urllib.request.urlopen(base + "/api/options", timeout=5) as r:
            options = json.load(r)
        assert options["csv_files"] == ["points.csv"]
        assert options["data_dir"] is True
    finally:
        proc.terminate()
        out, _err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in out


def test_a_busy_port_is_a_clear_error_before_any_url(capsys):
    pytest.importorskip("uvicorn")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["playground", "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert "http://" not in out  # no URL announced for a server that never started
    assert err.startswith(f"mlplab: error: cannot serve on 127.0.0.1:{port}: ")
    assert "in use" in err
    assert "--port 0" in err
    assert len(err.strip().splitlines()) == 1


def test_port_zero_announces_the_port_it_serves_on():
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "mlplab", "playground", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        url = line.split()[3]
        assert url.startswith("http://127.0.0.1:")
        assert not url.endswith(":0/")
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    assert "mlplab playground" in r.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the playground did not start"
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
