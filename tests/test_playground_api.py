"""API tests of the playground (Starlette's TestClient; one live-server concurrency test)."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import math
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the playground needs the 'web' extra")
pytest.importorskip("httpx", reason="the tests need httpx (the 'web-test' extra)")

with warnings.catch_warnings():
    # Starlette >= 1.0 prefers httpx2 and warns when its TestClient falls back to httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import mlplab
from mlplab.playground import create_app, engine

STATIC = Path(engine.__file__).parent / "static"


def strict_json(text: str):
    """JSON as a browser parses it: NaN/Infinity are errors."""

    def bad(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=bad)


@pytest.fixture
def client():
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def folder_client(data_dir):
    with TestClient(create_app(data_dir=data_dir)) as c:
        yield c


def new_session(client, config=None):
    r = client.post("/api/sessions", json={"config": config or {}})
    assert r.status_code == 201, r.text
    return r.json()


def csv_text(n=60, seed=0, labels=("no", "yes")):
    rng = np.random.default_rng(seed)
    lines = ["x1,x2,label"]
    for i in range(n):
        c = i % 2
        x = rng.normal(0, 0.5, 2) + (1.5 if c else -1.5)
        lines.append(f"{x[0]:.4f},{x[1]:.4f},{labels[c]}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------- page and options


def test_page_and_static_files_are_served_and_fetch_nothing_from_outside(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js">' in page.text
    for name, kind in [("app.js", "javascript"), ("style.css", "text/css")]:
        r = client.get(f"/static/{name}")
        assert r.status_code == 200
        assert kind in r.headers["content-type"]
    # no CDN: nothing on the page may be loaded from another machine
    for path in STATIC.iterdir():
        text = path.read_text()
        for marker in ("http://", "https://", "//cdn", "@import"):
            assert marker not in text, f"{path.name} refers to {marker}"


def test_options_list_choices_limits_and_valid_presets(client):
    opts = client.get("/api/options").json()
    assert opts["datasets"] == ["circles", "moons", "xor", "spiral", "gaussian", "csv"]
    assert {"zeros", "large", "he", "xavier", "identity(1.5)", "identity(0.5)"} <= set(
        opts["inits"]
    )
    assert opts["optimizers"] == ["gd", "minibatch", "momentum", "adam"]
    assert opts["limits"]["hidden_layers"] == [0, 12]
    ids = [p["id"] for p in opts["presets"]]
    assert {"identity-1.5", "identity-0.5", "zeros", "he-depth10", "xavier-depth10"} <= set(ids)
    assert {"gd", "momentum"} <= set(ids)
    for p in opts["presets"]:
        assert engine.validate_config(p["config"]) == p["config"]
    assert opts["csv_files"] == []
    assert opts["data_dir"] is False


# ----------------------------------------------------------------- training


def test_default_session_is_2_8_8_1_on_500_points_and_the_test_cost_falls(client):
    snap = new_session(client)
    assert snap["layer_sizes"] == [2, 8, 8, 1]
    assert len(snap["train"]) + len(snap["test"]) == 500
    f0 = snap["frame"]
    assert f0["epoch"] == 0
    assert len(base64.b64decode(f0["boundary"])) == f0["grid"] ** 2
    assert len(f0["grad_norms"]) == 3
    assert all(g > 0 for g in f0["grad_norms"])
    assert [a["layer"] for a in f0["activations"]] == [1, 2]
    for a in f0["activations"]:
        assert len(a["hist"]) == engine.HIST_BINS
        assert sum(a["hist"]) == pytest.approx(1.0, abs=2e-3)
    sid = snap["session"]
    r = client.post(f"/api/sessions/{sid}/step", json={"epochs": 20})
    assert r.status_code == 200
    f = strict_json(r.text)
    assert f["epoch"] == f["epochs_done"] == 20
    assert f["test_cost"] < 0.5 * f0["test_cost"]
    assert f["test_accuracy"] > 0.9
    assert f["boundary"] != f0["boundary"]


def test_live_settings_keep_the_network_and_structural_ones_rebuild(client):
    sid = new_session(client)["session"]
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 3})
    r = client.post(f"/api/sessions/{sid}/config", json={"config": {"lr": 0.01, "l2": 0.1}})
    body = r.json()
    assert r.status_code == 200
    assert body["rebuilt"] is False
    assert body["frame"]["epoch"] == 3
    assert body["config"]["lr"] == 0.01
    r = client.post(
        f"/api/sessions/{sid}/config",
        json={"config": {"hidden": [{"units": 4, "activation": "tanh"}]}},
    )
    body = r.json()
    assert body["rebuilt"] is True
    assert body["frame"]["epoch"] == 0
    assert body["layer_sizes"] == [2, 4, 1]
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 2})
    r = client.post(f"/api/sessions/{sid}/config", json={"config": {"lr": 0.02}, "reset": True})
    assert r.json()["rebuilt"] is True
    assert r.json()["frame"]["epoch"] == 0
    assert r.json()["config"]["lr"] == 0.02
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 2})
    r = client.post(f"/api/sessions/{sid}/reset", json={})
    assert r.json()["frame"]["epoch"] == 0
    assert r.json()["layer_sizes"] == [2, 4, 1]
    r = client.post(f"/api/sessions/{sid}/config", json={"config": {}, "reset": "yes"})
    assert r.status_code == 422
    assert r.json()["field"] == "reset"


@pytest.mark.parametrize("optimizer", ["gd", "minibatch", "momentum", "adam"])
def test_every_optimizer_lowers_the_cost(client, optimizer):
    cfg = {"optimizer": optimizer, "lr": 0.5 if optimizer in ("gd", "momentum") else 0.05}
    snap = new_session(client, {**cfg, "dataset": "moons", "n_points": 200})
    f = client.post(f"/api/sessions/{snap['session']}/step", json={"epochs": 30}).json()
    assert f["train_cost"] < snap["frame"]["train_cost"]


def test_zero_hidden_layers_is_logistic_regression(client):
    snap = new_session(client, {"hidden": [], "dataset": "gaussian"})
    assert snap["layer_sizes"] == [2, 1]
    assert snap["frame"]["activations"] == []
    f = client.post(f"/api/sessions/{snap['session']}/step", json={"epochs": 20}).json()
    assert f["test_accuracy"] > 0.9


def test_normalization_and_x2_scale_are_applied(client):
    snap = new_session(client, {"x2_scale": 100.0, "normalize": False})
    (lo1, hi1), (lo2, hi2) = snap["bounds"]
    assert (hi2 - lo2) > 50 * (hi1 - lo1)
    sess = client.app.state.store._sessions[snap["session"]]
    assert sess.net.standardizer is None
    snap = new_session(client, {"x2_scale": 100.0, "normalize": True})
    sess = client.app.state.store._sessions[snap["session"]]
    np.testing.assert_allclose(sess.net.standardizer.mean_, sess.X_train.mean(axis=0))


def test_divergence_is_reported_and_json_stays_valid(client):
    cfg = {
        "hidden": [{"units": 32, "activation": "identity"}] * 8,
        "init": "large",
        "optimizer": "gd",
        "lr": 10.0,
    }
    snap = new_session(client, cfg)
    r = client.post(f"/api/sessions/{snap['session']}/step", json={"epochs": 50})
    f = strict_json(r.text)  # non-finite numbers are sent as null, never as NaN
    assert r.status_code == 200
    assert f["diverged"]
    assert "diverged" in f["diverged"]
    again = client.post(f"/api/sessions/{snap['session']}/step", json={"epochs": 5}).json()
    assert again["epochs_done"] == 0
    assert again["epoch"] == f["epoch"]
    reset = client.post(f"/api/sessions/{snap['session']}/reset").json()
    assert reset["frame"]["diverged"] is None


# ----------------------------------------------------------------- lecture presets


def preset(client, sid, pid):
    cfg = next(p for p in client.get("/api/options").json()["presets"] if p["id"] == pid)
    r = client.post(f"/api/sessions/{sid}/config", json={"config": cfg["config"], "reset": True})
    assert r.status_code == 200, r.text
    assert r.json()["rebuilt"] is True
    assert r.json()["frame"]["epoch"] == 0
    return r.json()


def test_identity_presets_explode_and_vanish(client):
    sid = new_session(client)["session"]
    big = preset(client, sid, "identity-1.5")
    small = preset(client, sid, "identity-0.5")
    assert big["layer_sizes"] == [2] + [2] * 10 + [1]
    stds_big = [a["std"] for a in big["frame"]["activations"]]
    stds_small = [a["std"] for a in small["frame"]["activations"]]
    # a[l] = s^l x: the spread grows by 1.5 and shrinks by 0.5 per layer
    assert all(b > a for a, b in itertools.pairwise(stds_big))
    assert all(b < a for a, b in itertools.pairwise(stds_small))
    assert stds_big[-1] / stds_big[0] == pytest.approx(1.5**9, rel=0.05)
    assert min(big["frame"]["grad_norms"]) > 1000 * max(small["frame"]["grad_norms"])
    assert small["frame"]["train_cost"] == pytest.approx(math.log(2), abs=1e-3)


def test_zeros_preset_gives_zero_hidden_gradients_and_he_beats_xavier_at_depth_10(client):
    sid = new_session(client)["session"]
    zeros = preset(client, sid, "zeros")["frame"]
    assert zeros["grad_norms"][0] == 0.0
    assert zeros["grad_norms"][1] == 0.0
    he = preset(client, sid, "he-depth10")["frame"]
    xavier = preset(client, sid, "xavier-depth10")["frame"]
    assert he["activations"][-1]["std"] > 3 * xavier["activations"][-1]["std"]
    assert sum(he["grad_norms"]) > 3 * sum(xavier["grad_norms"])


def test_momentum_preset_beats_gd_preset_with_the_same_lr(client):
    sid = new_session(client)["session"]
    costs = {}
    for pid in ("gd", "momentum"):
        cfg = preset(client, sid, pid)["config"]
        assert cfg["lr"] == 0.1
        f = {"epoch": 0}
        while f["epoch"] < 200:  # the server may stop early to bound one request's work
            epochs = min(100, 200 - f["epoch"])
            f = client.post(f"/api/sessions/{sid}/step", json={"epochs": epochs}).json()
        costs[pid] = f["train_cost"]
    assert costs["momentum"] < 0.5 * costs["gd"]


# ----------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"lr": -1}, "lr"),
        ({"lr": 0}, "lr"),
        ({"lr": "0.1"}, "lr"),
        ({"lr": True}, "lr"),
        ({"lr": 11}, "lr"),
        ({"n_points": 5}, "n_points"),
        ({"n_points": 10**9}, "n_points"),
        ({"n_points": 100.5}, "n_points"),
        ({"noise": -0.1}, "noise"),
        ({"test_fraction": 0.95}, "test_fraction"),
        ({"beta": 1.0}, "beta"),
        ({"batch_size": 0}, "batch_size"),
        ({"l2": -1}, "l2"),
        ({"seed": -1}, "seed"),
        ({"x2_scale": 0}, "x2_scale"),
        ({"normalize": "yes"}, "normalize"),
        ({"dataset": "mnist"}, "dataset"),
        ({"init": "__import__('os')"}, "init"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"hidden": "8,8"}, "hidden"),
        ({"hidden": [{"units": 8, "activation": "relu"}] * 13}, "hidden"),
        ({"hidden": [{"units": 33, "activation": "relu"}]}, "hidden"),
        ({"hidden": [{"units": 0, "activation": "relu"}]}, "hidden"),
        ({"hidden": [{"units": 4, "activation": "softmax"}]}, "hidden"),
        ({"hidden": [{"units": 4}]}, "hidden"),
        ({"hidden": [8, 8]}, "hidden"),
        ({"layers": [8]}, "layers"),
        ({"dataset": "csv"}, "csv_file"),
        ({"dataset": "csv", "csv_file": "a.csv", "csv_text": "1,2,0"}, "csv_file"),
        ({"csv_text": 3}, "csv_text"),
    ],
)
def test_bad_configurations_get_a_422_naming_the_field(client, config, field):
    r = client.post("/api/sessions", json={"config": config})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field
    assert body["error"]
    assert "Traceback" not in body["error"]


def test_nan_and_infinity_in_json_are_rejected(client):
    r = client.post(
        "/api/sessions",
        content=b'{"config": {"lr": NaN}}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["field"] == "lr"
    r = client.post("/api/sessions", content=b'{"config": {"noise": Infinity}}')
    assert r.status_code == 422
    assert r.json()["field"] == "noise"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"epochs": 0}, 422),
        ({"epochs": 101}, 422),
        ({"epochs": "5"}, 422),
        ({"epochs": 2.5}, 422),
        ({"epochs": None}, 422),
        ({"steps": 5}, 422),
        ([1, 2], 400),
    ],
)
def test_bad_step_requests(client, body, status):
    sid = new_session(client)["session"]
    r = client.post(f"/api/sessions/{sid}/step", json=body)
    assert r.status_code == status, r.text
    assert "error" in r.json()


def test_malformed_and_oversized_bodies(client):
    r = client.post("/api/sessions", content=b"{not json")
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["error"]
    r = client.post("/api/sessions", content=b"\xff\xfe")
    assert r.status_code == 400
    huge = b'{"config": {"csv_text": "' + b"1" * (2 * 1024 * 1024) + b'"}}'
    r = client.post("/api/sessions", content=huge)
    assert r.status_code == 413
    assert r.json()["error"]
    text = "0,0,0\n" * 50_000  # 300 KB: under the body limit, over the CSV limit
    r = client.post("/api/sessions", json={"config": {"dataset": "csv", "csv_text": text}})
    assert r.status_code == 413
    assert r.json()["field"] == "csv_text"


def test_unknown_sessions_routes_and_methods_are_json_errors(client):
    r = client.post("/api/sessions/" + "A" * 24 + "/step", json={})
    assert r.status_code == 404
    assert "unknown or expired session" in r.json()["error"]
    r = client.post("/api/sessions/..%2F..%2Fetc/step", json={})
    assert r.status_code == 404
    assert r.json()["error"]
    r = client.get("/api/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]
    r = client.get("/api/sessions")
    assert r.status_code == 405
    assert r.json()["error"]
    sid = new_session(client)["session"]
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    assert client.post(f"/api/sessions/{sid}/step", json={}).status_code == 404


def test_sessions_are_separate_and_the_store_is_bounded():
    app = create_app(max_sessions=3)
    with TestClient(app) as c:
        a = new_session(c)["session"]
        b = new_session(c, {"hidden": []})["session"]
        fa = c.post(f"/api/sessions/{a}/step", json={"epochs": 4}).json()
        fb = c.post(f"/api/sessions/{b}/step", json={"epochs": 1}).json()
        assert (fa["epoch"], fb["epoch"]) == (4, 1)
        assert len(fb["grad_norms"]) == 1
        for _ in range(3):
            new_session(c)
        assert len(app.state.store) == 3
        # the least recently used sessions made room
        assert c.post(f"/api/sessions/{a}/step", json={}).status_code == 404


# ----------------------------------------------------------------- CSV data


def test_csv_upload_with_header_and_named_labels(client):
    snap = new_session(client, {"dataset": "csv", "csv_text": csv_text(80)})
    assert snap["classes"] == ["no", "yes"]
    assert len(snap["train"]) + len(snap["test"]) == 80
    assert snap["config"]["csv_uploaded"] is True
    assert "csv_text" not in snap["config"]
    sid = snap["session"]
    # later partial configs keep the uploaded data
    r = client.post(f"/api/sessions/{sid}/config", json={"config": {"lr": 0.01}})
    assert r.json()["rebuilt"] is False
    f = client.post(f"/api/sessions/{sid}/step", json={"epochs": 20}).json()
    assert f["test_accuracy"] > 0.9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x1,x2,label\n" + "1,2\n" * 20, "line 2: expected 3 columns"),
        ("1,2,0\n" * 5 + "1,abc,1\n" + "1,2,1\n" * 10, "line 6: 'abc' is not a number"),
        ("1,2,0\n" * 30, "exactly 2 values"),
        ("1,2,0\n1,2,1\n1,2,2\n" * 10, "exactly 2 values"),
        ("1,2,0\n1,2,1\n", "at least 10 data rows"),
        ("1,nan,0\n" + "1,2,1\n" * 20, "finite"),
    ],
)
def test_bad_csv_uploads_name_the_line(client, text, message):
    r = client.post("/api/sessions", json={"config": {"dataset": "csv", "csv_text": text}})
    assert r.status_code == 422
    assert message in r.json()["error"]


def test_csv_from_the_data_folder(folder_client, data_dir):
    (data_dir / "blobs.csv").write_text(csv_text(40))
    (data_dir / "notes.txt").write_text("not listed")
    opts = folder_client.get("/api/options").json()
    assert opts["csv_files"] == ["blobs.csv"]
    assert opts["data_dir"] is True
    assert folder_client.get("/api/files").json() == {"files": ["blobs.csv"]}
    snap = new_session(folder_client, {"dataset": "csv", "csv_file": "blobs.csv"})
    assert len(snap["train"]) + len(snap["test"]) == 40
    r = folder_client.post(
        "/api/sessions", json={"config": {"dataset": "csv", "csv_file": "gone.csv"}}
    )
    assert r.status_code == 404


# ----------------------------------------------------------------- files: path traversal


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text(csv_text(30))
    return path


@pytest.mark.parametrize(
    "name",
    [
        "../secret.csv",
        "..",
        "/etc/passwd",
        "sub/x.csv",
        "..\\secret.csv",
        "%2e%2e/secret.csv",
        ".hidden.csv",
        "secret.csv\x00.txt",
        "a" * 200 + ".csv",
        "secret.CSV.py",
    ],
)
def test_csv_names_cannot_leave_the_data_folder(folder_client, secret, name):
    r = folder_client.post("/api/sessions", json={"config": {"dataset": "csv", "csv_file": name}})
    assert r.status_code == 422
    assert r.json()["field"] == "csv_file"


def test_symlinks_out_of_the_data_folder_are_refused(folder_client, data_dir, secret):
    (data_dir / "link.csv").symlink_to(secret)
    assert folder_client.get("/api/options").json()["csv_files"] == []
    r = folder_client.post(
        "/api/sessions", json={"config": {"dataset": "csv", "csv_file": "link.csv"}}
    )
    assert r.status_code == 403
    assert "outside the data folder" in r.json()["error"]


def test_without_a_data_folder_no_file_is_read_or_written(client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "local.csv").write_text(csv_text(30))
    r = client.post("/api/sessions", json={"config": {"dataset": "csv", "csv_file": "local.csv"}})
    assert r.status_code == 403
    assert "no data folder" in r.json()["error"]
    sid = new_session(client)["session"]
    r = client.post(f"/api/sessions/{sid}/save", json={"name": "m.npz"})
    assert r.status_code == 403
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local.csv"]


@pytest.mark.parametrize(
    "name", ["../m.npz", "a/m.npz", "/tmp/m.npz", "m.py", "m", "..npz", "", ".npz", "m.npz/"]
)
def test_model_names_cannot_leave_the_data_folder(folder_client, data_dir, name):
    sid = new_session(folder_client)["session"]
    before = sorted(os.listdir(data_dir.parent))
    r = folder_client.post(f"/api/sessions/{sid}/save", json={"name": name})
    assert r.status_code in (400, 403), r.text
    assert r.json()["error"]
    assert sorted(os.listdir(data_dir.parent)) == before
    assert list(data_dir.iterdir()) == []


def test_static_route_cannot_read_package_sources(client):
    for path in ["/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/engine.py"]:
        r = client.get(path)
        assert r.status_code == 404, path
        assert "create_app" not in r.text


# ----------------------------------------------------------------- export


def trained(client, config=None, epochs=10):
    snap = new_session(client, config)
    sid = snap["session"]
    client.post(f"/api/sessions/{sid}/step", json={"epochs": epochs})
    return sid, client.app.state.store._sessions[sid]


def test_export_model_file_loads_with_mlplab_load(client, tmp_path):
    sid, sess = trained(client)
    r = client.get(f"/api/sessions/{sid}/export/model")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    path = tmp_path / "m.npz"
    path.write_bytes(r.content)
    net, header = mlplab.io.load_with_header(path)
    assert net.layer_sizes == [2, 8, 8, 1]
    assert header["metadata"]["epoch"] == 10
    assert header["metadata"]["playground"]["dataset"] == "circles"
    assert header["history"]["epoch"][-1] == 10
    X = np.random.default_rng(1).uniform(-1.5, 1.5, (50, 2))
    np.testing.assert_array_equal(net.predict_proba(X), sess.net.predict_proba(X))


def test_python_snippet_rebuilds_the_same_network(client):
    sid, sess = trained(
        client,
        {"hidden": [{"units": 5, "activation": "tanh"}, {"units": 3, "activation": "leaky_relu"}]},
    )
    r = client.get(f"/api/sessions/{sid}/export/python")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/x-python")
    namespace: dict = {}
    exec(compile(r.text, "playground_model.py", "exec"), namespace)
    net = namespace["net"]
    assert net.layer_sizes == [2, 5, 3, 1]
    assert [g.name for g in net.hidden] == ["tanh", "leaky_relu"]
    for W, W0 in zip(net.weights, sess.net.weights, strict=True):
        np.testing.assert_array_equal(W, W0)
    X = np.random.default_rng(2).uniform(-1.5, 1.5, (50, 2))
    np.testing.assert_array_equal(net.predict_proba(X), sess.net.predict_proba(X))


def test_save_to_the_data_folder(folder_client, data_dir):
    sid, sess = trained(folder_client)
    r = folder_client.post(f"/api/sessions/{sid}/save", json={"name": "circles-model.npz"})
    assert r.status_code == 201
    assert r.json()["saved"] == "circles-model.npz"
    net = mlplab.load(data_dir / "circles-model.npz")
    np.testing.assert_array_equal(net.get_flat_params(), sess.net.get_flat_params())
    r = folder_client.post(f"/api/sessions/{sid}/save", json={"name": "circles-model.npz"})
    assert r.status_code == 409
    r = folder_client.post(
        f"/api/sessions/{sid}/save", json={"name": "circles-model.npz", "overwrite": True}
    )
    assert r.status_code == 201
    for bad in ({"name": 3}, {"name": "m.npz", "overwrite": "yes"}, {"name": "m.npz", "x": 1}):
        assert folder_client.post(f"/api/sessions/{sid}/save", json=bad).status_code == 422


# ----------------------------------------------------------------- concurrency (live server)


@contextlib.contextmanager
def live_server(app):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_one_tab_training_never_blocks_another():
    import httpx

    pytest.importorskip("uvicorn")
    heavy = {
        "n_points": 2000,
        "test_fraction": 0.1,
        "hidden": [{"units": 32, "activation": "tanh"}] * 12,
        "optimizer": "adam",
        "batch_size": 1,
        "lr": 0.001,
    }
    with live_server(create_app()) as url, httpx.Client(base_url=url, timeout=30) as c:
        a = c.post("/api/sessions", json={"config": heavy}).json()["session"]
        b = c.post("/api/sessions", json={"config": {}}).json()["session"]
        result = {}

        def train_a():
            t0 = time.perf_counter()
            r = c.post(f"/api/sessions/{a}/step", json={"epochs": 100})
            result["seconds"] = time.perf_counter() - t0
            result["frame"] = r.json()

        thread = threading.Thread(target=train_a)
        t0 = time.perf_counter()
        thread.start()
        time.sleep(0.05)
        latencies = []
        while thread.is_alive() and time.perf_counter() - t0 < 20:
            t = time.perf_counter()
            r = c.post(f"/api/sessions/{b}/step", json={"epochs": 1})
            assert r.status_code == 200
            latencies.append(time.perf_counter() - t)
        thread.join(30)
    # A asked for 100 epochs of the largest network allowed; the server did a bounded
    # amount (it stops once MAX_SECONDS_PER_REQUEST has passed) ...
    assert 1 <= result["frame"]["epochs_done"] < 100
    assert result["seconds"] < 5
    # ... and B's tab kept getting frames meanwhile, each far quicker than A's request.
    assert len(latencies) >= 3
    assert max(latencies) < result["seconds"]


def test_l2_shrinks_the_weights(client):
    norms = {}
    for l2 in (0.0, 5.0):
        _sid, sess = trained(client, {"l2": l2, "optimizer": "gd", "lr": 0.5}, epochs=100)
        assert sess.epoch == 100
        norms[l2] = math.sqrt(sum(float((W**2).sum()) for W in sess.net.weights))
    assert norms[5.0] < 0.7 * norms[0.0]


def test_a_refused_configuration_leaves_the_session_as_it_was(folder_client):
    snap = new_session(folder_client)
    sid = snap["session"]
    folder_client.post(f"/api/sessions/{sid}/step", json={"epochs": 2})
    r = folder_client.post(
        f"/api/sessions/{sid}/config", json={"config": {"dataset": "csv", "csv_file": "gone.csv"}}
    )
    assert r.status_code == 404
    r = folder_client.post(f"/api/sessions/{sid}/config", json={"config": {"lr": 50}})
    assert r.status_code == 422
    f = folder_client.post(f"/api/sessions/{sid}/step", json={"epochs": 1}).json()
    assert f["epoch"] == 3
    sess = folder_client.app.state.store._sessions[sid]
    assert sess.cfg["dataset"] == "circles"
    assert sess.cfg["lr"] == snap["config"]["lr"]
    assert sess.classes == ["0", "1"]
