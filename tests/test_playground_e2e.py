"""End-to-end tests of the playground page in a real headless browser.

Playwright for Python drives Debian's ``chromium`` (never a browser that Playwright
downloads: ``make test`` installs chromium with apt-get where it can). Set
``MLPLAB_SCREENSHOT=docs/playground.png`` to also write the screenshot there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the playground needs the 'web' extra")
pytest.importorskip("uvicorn", reason="the playground needs the 'web' extra")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (make test installs it with apt-get when run as "
        "root); skipping the browser tests",
        allow_module_level=True,
    )

from mlplab.playground import create_app  # noqa: E402

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


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
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("playground-data")
    rows = ["x1,x2,label"] + [
        f"{(i % 7) / 7 + (2 if i % 2 else -2):.3f},{(i % 5) / 5:.3f},{'b' if i % 2 else 'a'}"
        for i in range(60)
    ]
    (folder / "two-blobs.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def url(data_dir):
    with live_server(create_app(data_dir=data_dir)) as u:
        yield u


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, url):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # (a refused request shows up as "Failed to load resource: ... 422": expected in tests)
    pg.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    pg.goto(url)
    pg.wait_for_function("window.playground && window.playground.ready", timeout=10_000)
    yield pg
    context.close()
    assert errors == [], f"the page logged errors: {errors}"


def test_train_watch_the_test_cost_fall_switch_a_preset_and_screenshot(page, tmp_path):
    costs0 = page.evaluate("playground.testCosts")
    assert len(costs0) == 1
    assert costs0[0] > 0.5
    assert page.evaluate("playground.state.snap.layer_sizes") == [2, 8, 8, 1]
    assert (
        page.evaluate("playground.state.snap.train.length + playground.state.snap.test.length")
        == 500
    )

    page.click("#play")
    page.wait_for_function(
        "playground.epoch >= 30 && playground.testCosts.at(-1) < 0.5 * playground.testCosts[0]",
        timeout=15_000,
    )
    page.wait_for_timeout(1500)  # let the frame rate settle over a couple of seconds
    fps = page.evaluate("playground.fps()")
    print(f"\nplayground in chromium, [2, 8, 8, 1] on 500 points: {fps:.1f} frames/s")
    assert fps >= 10
    page.click("#play")  # pause
    epoch = page.evaluate("playground.epoch")
    page.wait_for_timeout(300)
    assert page.evaluate("playground.epoch") in (epoch, epoch + 1)  # at most one frame in flight
    assert float(page.inner_text("#test-cost")) < 0.5 * costs0[0]

    page.select_option("#preset", "xavier-depth10")
    page.wait_for_function("playground.hiddenLayers === 10 && playground.epoch === 0")
    assert "Xavier" in page.inner_text("#banner")
    assert page.locator("#layers .layer-row").count() == 10
    assert page.locator("#act-strips .strip").count() == 10
    assert page.input_value("#init") == "xavier"
    page.click("#step")
    page.wait_for_function("playground.epoch === 1")
    page.click("#play")
    page.wait_for_function("playground.epoch >= 40", timeout=15_000)
    page.click("#play")
    page.wait_for_timeout(200)
    assert page.locator("#grad-legend span").count() == 11  # ‖dW[1]‖ ... ‖dW[11]‖

    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000
    target = os.environ.get("MLPLAB_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


def test_csv_from_the_folder_settings_reset_and_export(page, tmp_path):
    page.click("#datasets button[data-value=csv]")
    page.select_option("#csv-file", "two-blobs.csv")
    page.wait_for_function("playground.state.snap.config.dataset === 'csv'")
    assert page.inner_text("#class0") == "class a"
    assert page.inner_text("#class1") == "class b"

    page.click("#add-layer")  # live structure change: [2, 8, 8, 8, 1]
    page.wait_for_function("playground.hiddenLayers === 3")
    page.fill("#lr", "99")  # outside [1e-6, 10]: the server refuses, the page says why
    page.dispatch_event("#lr", "change")
    page.wait_for_selector("#error:not(.hidden)")
    assert "lr must lie in" in page.inner_text("#error")
    assert page.input_value("#lr") == "0.03"  # the form shows what the server runs

    page.click("#step")
    page.wait_for_function("playground.epoch === 1")
    page.click("#reset")
    page.wait_for_function("playground.epoch === 0")

    with page.expect_download() as info:
        page.click("#export-model")
    path = tmp_path / "model.npz"
    info.value.save_as(path)
    import mlplab

    assert mlplab.load(path).layer_sizes == [2, 8, 8, 8, 1]
    page.click("#export-python")
    page.wait_for_selector("#snippet:not(.hidden)")
    assert "mlplab.Network([2, 8, 8, 8, 1]" in page.inner_text("#snippet")


def test_two_tabs_train_independently_and_a_csv_upload_works(browser, url, tmp_path):
    # two windows, so that neither is a hidden background tab (which pauses its animation)
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(2)]
    try:
        tabs = [c.new_page() for c in contexts]
        for tab in tabs:
            tab.goto(url)
            tab.wait_for_function("window.playground && window.playground.ready")
        sids = [tab.evaluate("playground.state.sid") for tab in tabs]
        assert sids[0] != sids[1]

        upload = tmp_path / "upload.csv"
        upload.write_text(
            "x1;x2;label\n" + "".join(f"{i / 10};{i % 3};{i % 2}\n" for i in range(30))
        )
        tabs[1].click("#datasets button[data-value=csv]")
        tabs[1].set_input_files("#csv-upload", str(upload))
        tabs[1].wait_for_function("playground.state.snap.config.csv_uploaded === true")
        assert (
            tabs[1].evaluate(
                "playground.state.snap.train.length + playground.state.snap.test.length"
            )
            == 30
        )

        for tab in tabs:
            tab.click("#play")
        for tab in tabs:
            tab.wait_for_function("playground.epoch >= 15", timeout=15_000)
            tab.click("#play")
        # each tab kept its own data and network
        assert tabs[0].evaluate("playground.state.snap.config.dataset") == "circles"
        assert tabs[1].evaluate("playground.state.snap.config.dataset") == "csv"
    finally:
        for c in contexts:
            c.close()
