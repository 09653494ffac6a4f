# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test lint install install-dev clean bench bench-quick docs docs-serve install-docs

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

# numba: the compiled steps for small networks and their tests (tests/test_fast_compiled.py).
$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e ".[dev,mpi,numba]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(VENV)/bin/mlplab train

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks docs
	$(VENV)/bin/ruff format --check src tests benchmarks

# Everything the tests need: dev tools, the MPI extra, the playground's web extra with Playwright
# and Debian's chromium, and the array-library extras (PyTorch CPU, array-api-strict). Each block
# below says why.
test: install-dev lint install-web browser $(VENV)/.installed-backends install-docs $(VENV)/.installed-fuzz
	$(PY) -m pytest -q

# Fuzzing (issue 21, tests/test_fuzz.py): atheris. `make test` replays the committed corpus and
# crashes and fuzzes each target for 20 s (about 2 min in all); `make fuzz` for FUZZ_SECONDS
# each. Should atheris have no wheel for this Python, the bounded runs skip, saying why.
FUZZ_SECONDS ?= 600
$(VENV)/.installed-fuzz: pyproject.toml $(VENV)/.installed-dev
	$(PIP) install -q -e ".[fuzz]" || echo "warning: atheris could not be installed; the fuzz runs will be skipped"
	touch $@

# Faults under load (issue 21, tests/test_load.py): 50 clients, 10 of them hostile, for 60 s
# against a real uvicorn server on 127.0.0.1 (`make test` runs 12 clients for 8 s).
.PHONY: loadtest
loadtest: install-dev install-web
	MLPLAB_LOAD_CLIENTS=50 MLPLAB_LOAD_SECONDS=60 $(PY) -m pytest -q -s -p no:cacheprovider tests/test_load.py

# Mutation testing of the lecture core (issue 21; not part of `make test`: it takes long).
# One module at a time with its own test files; MODULES= picks some (e.g. MODULES=heads).
MODULES ?=
.PHONY: mutation
mutation: install-dev
	$(PIP) install -q -e ".[mutation]"
	$(PY) tests/mutation/mutation_run.py $(MODULES)

.PHONY: fuzz
fuzz: install-dev install-web $(VENV)/.installed-fuzz
	MLPLAB_FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz.py -k atheris

# Benchmarks of issue 6 (not part of `make test`): mlplab vs scikit-learn vs PyTorch CPU.
# TORCH pins the CPU wheel available on this machine's disk; a plain "torch" would pull a
# multi-GB CUDA build. OpenBLAS's coretype override is dropped for the run only.
TORCH ?= torch==2.13.0
BENCH := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) benchmarks/bench.py

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(PIP) install -q "$(TORCH)" -e ".[bench]"
	touch $@

# bench: with the issue-19 peers (JAX, the NumPy reference, mlplab-compiled, mlplab-torch) the
# full suite takes well over the 13 min it took with three libraries; BENCH_ARGS narrows it
# (e.g. BENCH_ARGS="--workloads tabular,moons --repeats 7"). time-to-model: whole processes.
BENCH_ARGS ?=
bench: $(VENV)/.installed-bench  ## writes benchmarks/RESULTS.md
	MLPLAB_BENCH_CMD="make bench$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" $(BENCH) $(BENCH_ARGS) --out benchmarks/RESULTS.md

.PHONY: time-to-model
time-to-model: $(VENV)/.installed-bench  ## whole processes: import, CSV, train, predict (~5 min)
	$(PY) benchmarks/time_to_model.py --rounds 5

.PHONY: bench-reference
bench-reference: $(VENV)/.installed-bench  ## mlplab vs the NumPy reference loop in one process, 15 alternating pairs (~2 min)
	$(PY) benchmarks/reference_ab.py --pairs 15

bench-quick: $(VENV)/.installed-bench  ## small data, few rounds (~30 s), prints the report
	MLPLAB_BENCH_CMD="make bench-quick" $(BENCH) --quick

# Before/after the package redesign: the tree at BEFORE (checked out into a temporary git
# worktree, removed afterwards, also on failure or Ctrl-C) against this one, in one
# interleaved run of the workloads above and of benchmarks/distributed.py (MPI ranks 1 and
# 2: the mpi extra). Each run is its own process with its tree's src/ first on sys.path.
# COMPARE_ARGS adds options (e.g. --rounds 12, --quick, --workloads wide); see
# benchmarks/compare.py. Full run: about 30 min on 2 cores; run it on a quiet machine.
BEFORE ?= 1413e4d
COMPARE_ARGS ?=
COMPARE := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) benchmarks/compare.py

.PHONY: bench-compare
bench-compare: $(VENV)/.installed-bench $(VENV)/.installed-dev  ## writes benchmarks/RESULTS-redesign.md
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/mlplab-before.XXXXXX") || exit 1; \
	trap 'git worktree remove --force "$$tmp" 2>/dev/null || rm -rf "$$tmp"' EXIT; \
	trap 'exit 130' INT TERM HUP; \
	echo "before: $(BEFORE) in the temporary worktree $$tmp"; \
	git worktree add --quiet --detach "$$tmp" $(BEFORE) && \
	MLPLAB_BENCH_CMD="make bench-compare BEFORE=$(BEFORE)$(if $(COMPARE_ARGS), COMPARE_ARGS='$(COMPARE_ARGS)')" \
	  $(COMPARE) --before "$$tmp" --after . --distributed $(COMPARE_ARGS) \
	  --out benchmarks/RESULTS-redesign.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist src/*.egg-info site .cache

# The documentation site: `make docs` builds it into site/ with --strict (a warning or a broken
# link fails) and executes every tutorial; `make docs-serve` serves it on 127.0.0.1:8000.
# `make test` builds it too (tests/test_docs_site.py) and opens it in headless chromium.
# NO_MKDOCS_2_WARNING silences Material's end-of-life banner (printed at every build).
MKDOCS := NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs

$(VENV)/.installed-docs: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e ".[docs]"
	touch $@

install-docs: $(VENV)/.installed-docs

docs: $(VENV)/.installed-docs
	$(MKDOCS) build --strict

docs-serve: $(VENV)/.installed-docs
	$(MKDOCS) serve

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


# The array-library tests (tests/test_backends*.py) run the core on PyTorch CPU tensors and
# array-api-strict arrays: the CPU wheel pinned by TORCH (never a plain "torch").
$(VENV)/.installed-backends: pyproject.toml $(VENV)/.installed-dev
	$(PIP) install -q "$(TORCH)" -e ".[backends-test]"
	touch $@

