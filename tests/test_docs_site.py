"""The documentation site: a strict build, the API reference's coverage, and the built pages
in headless chromium.

``mkdocs build --strict`` fails on any warning (a broken link, an anchor that does not
exist, a docstring griffe cannot parse) and executes every tutorial (mkdocs-jupyter, no
cache); the build runs once per session into a temporary folder. The browser test serves
that folder on 127.0.0.1 and opens the home page, a tutorial and an API page in Debian's
chromium (as tests/test_playground_e2e.py does; never a browser Playwright downloads).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import mlplab

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"

# The public modules of the API reference (besides the names of ``mlplab.__all__``).
PUBLIC_MODULES = [
    "mlplab.core.activations", "mlplab.core.heads", "mlplab.core.initializers",
    "mlplab.core.optimizers", "mlplab.core.schedules", "mlplab.core.layers",
    "mlplab.core.backprop", "mlplab.core.params", "mlplab.core.dropout",
    "mlplab.core.batchnorm", "mlplab.core.data", "mlplab.core.diagnostics",
    "mlplab.train.callbacks", "mlplab.train.checkpoint", "mlplab.train.mpi", "mlplab.saving",
    "mlplab.persist.modelfile", "mlplab.persist.tableplan", "mlplab.persist.csvdata",
    "mlplab.plots", "mlplab.experiments",
]  # fmt: skip


def api_identifiers() -> set[str]:
    """Every ``::: identifier`` of the API reference's pages."""
    found = set()
    for page in API.glob("*.md"):
        found |= set(re.findall(r"^::: ([\w.]+)", page.read_text("utf-8"), re.M))
    return found


def test_every_public_name_has_an_api_entry():
    listed = api_identifiers()
    for name in mlplab.__all__:
        if name == "__version__":
            continue
        obj = getattr(mlplab, name)
        if inspect.ismodule(obj):  # listed under its own name (mlplab.core.optimizers)
            assert obj.__name__ in listed, f"module mlplab.{name} has no API page"
        elif name in ("MLPClassifier", "MLPRegressor"):
            assert f"mlplab.sklearn.{name}" in listed
        else:
            assert f"mlplab.{name}" in listed, f"mlplab.{name} is not in docs/api/"
    missing = [m for m in PUBLIC_MODULES if m not in listed]
    assert not missing, f"public modules without an API entry: {missing}"


def resolve(dotted: str):
    """A public module by the name the docs use (``mlplab.schedules`` is an attribute)."""
    obj = mlplab
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part, None) or importlib.import_module(f"{obj.__name__}.{part}")
    return obj


def _public_members(module):
    names = getattr(module, "__all__", None) or [
        n
        for n, o in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(o) or inspect.isclass(o))
        and o.__module__ == module.__name__
    ]
    for name in names:
        obj = getattr(module, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield f"{module.__name__}.{name}", obj


def test_every_public_function_class_and_method_has_a_docstring():
    missing = []
    modules = [mlplab, *(resolve(m) for m in PUBLIC_MODULES)]
    for module in modules:
        for qualname, obj in _public_members(module):
            if not (obj.__doc__ or "").strip():
                missing.append(qualname)
            if not inspect.isclass(obj):
                continue
            for attr, value in vars(obj).items():
                func = getattr(value, "__func__", value)
                if attr.startswith("_") or not (
                    isinstance(func, property) or inspect.isfunction(func)
                ):
                    continue
                if not (func.__doc__ or "").strip():
                    missing.append(f"{qualname}.{attr}")
    assert not missing, f"public names without a docstring: {sorted(set(missing))}"


def test_license_is_an_spdx_string_with_its_file():
    text = (ROOT / "pyproject.toml").read_text("utf-8")  # (tomllib needs Python 3.11)
    assert re.search(r'(?m)^license = "MIT"$', text)
    assert re.search(r'(?m)^license-files = \["LICENSE"\]$', text)
    assert (ROOT / "LICENSE").read_text("utf-8").startswith("MIT License")
    # setuptools reads an SPDX string from 77 on; older ones print a deprecation box or fail.
    assert re.search(r'(?m)^requires = \["setuptools>=77", "wheel"\]$', text)
    assert (ROOT / "CHANGELOG.md").read_text("utf-8").startswith("# Changelog")


# ------------------------------------------------------------------ the built site

for _plugin in ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter"):
    if importlib.util.find_spec(_plugin) is None:
        SITE_SKIP = f"{_plugin} is not installed (make install-docs, or pip install -e '.[docs]')"
        break
else:
    SITE_SKIP = None


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if SITE_SKIP:
        pytest.skip(SITE_SKIP)
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    warnings = [line for line in log.splitlines() if line.startswith("WARNING")]
    assert not warnings, warnings
    return out


def test_site_builds_strictly_with_every_page(site):
    for page in [
        "index.html",
        "getting-started/index.html",
        "guide/mpi/index.html",
        "api/mlplab/index.html",
        "architecture/index.html",
        "changelog/index.html",
    ]:
        assert (site / page).is_file(), page
    tutorials = sorted((ROOT / "docs" / "tutorials").glob("*.py"))
    assert len(tutorials) == 7
    for script in tutorials:
        html = (site / "tutorials" / script.stem / "index.html").read_text("utf-8")
        assert "data:image/png;base64," in html, f"{script.name}: no figure in the page"
        assert "Traceback (most recent call last)" not in html


def test_api_pages_have_an_anchor_for_every_public_name(site):
    html = "".join(p.read_text("utf-8") for p in (site / "api").rglob("index.html"))
    targets = []
    for name in mlplab.__all__:
        obj = getattr(mlplab, name)
        if name == "__version__" or inspect.ismodule(obj):
            continue
        targets.append(f"mlplab.sklearn.{name}" if name.startswith("MLP") else f"mlplab.{name}")
    for module in PUBLIC_MODULES:  # a page that renders its module, members included
        targets += [qualname for qualname, _ in _public_members(resolve(module))]
    missing = [t for t in targets if f'id="{t}"' not in html]
    assert not missing, f"no entry on the API pages for {missing}"


@contextlib.contextmanager
def serve(folder: Path):
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def test_the_built_site_renders_in_chromium(site):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    with serve(site) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base, wait_until="load")
            assert page.title().startswith("mlplab")
            assert "backpropagation written out by hand" in page.inner_text("article")
            picture = page.locator("article img[src$='playground.png']")
            assert picture.evaluate("img => img.complete && img.naturalWidth") > 600
            nav = page.inner_text("nav.md-nav--primary")
            assert "Tutorials" in nav
            assert "API reference" in nav

            page.goto(base + "tutorials/03_activations_depth/", wait_until="load")
            assert "1.5^L and 0.5^L" in page.inner_text("article")
            figures = page.locator("article img[src^='data:image/png']")
            assert figures.count() >= 3
            widths = figures.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth)")
            assert all(w > 200 for w in widths), widths
            assert "L = 30, s = 1.5" in page.inner_text("article")  # a cell's output

            page.goto(base + "api/mlplab/", wait_until="load")
            heading = page.locator('[id="mlplab.Network"]')
            assert heading.is_visible()
            body = page.inner_text("article")
            assert "layer_sizes" in body
            assert "Parameters" in body
            assert not errors, errors
        finally:
            browser.close()


def test_the_docs_extension_turns_rst_into_markdown():
    pytest.importorskip("griffe", reason="the docs extra is not installed")
    spec = importlib.util.spec_from_file_location(
        "griffe_rst", ROOT / "docs" / "_ext" / "griffe_rst.py"
    )
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    doc = (
        "See :func:`~mlplab.core.backprop.forward` and :class:`mlplab.Network`::\n\n"
        "    code\n\n.. math:: z = Wa + b\n\n"
        "Parameters\n----------\nb1, b2 : float, default=0.9, 0.999\n    As in Adam.\n"
    )
    assert ext.to_markdown(doc) == (
        "See `forward` and `mlplab.Network`:\n\n    code\n\n\n    z = Wa + b\n\n"
        "Parameters\n----------\nb1 : float, default=0.9\n    As in Adam.\n"
        "b2 : float, default=0.999\n    As in Adam.\n"
    )
