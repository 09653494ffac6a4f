# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test lint install install-dev clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e ".[dev,mpi]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(VENV)/bin/mlplab train

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks

test: install-dev lint
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist src/*.egg-info

# The playground's tests (tests/test_playground*.py) need the web extra, Playwright and
# Debian's chromium. Playwright drives the system chromium: never `playwright install`.
# Without root or apt-get, chromium is left out and the browser tests skip, saying why.
.PHONY: install-web browser
$(VENV)/.installed-web: pyproject.toml $(VENV)/.installed-dev
	$(PIP) install -q -e ".[web,web-test]"
	touch $@

install-web: $(VENV)/.installed-web

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the playground's browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: apt-get could not install chromium; the browser tests will be skipped"; \
	  else \
	    echo "warning: chromium is missing and cannot be installed (not root or no apt-get); the browser tests will be skipped"; \
	  fi; }

test: install-web browser
