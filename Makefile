# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test lint install install-dev clean bench bench-quick

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(VENV)/bin/mlplab train

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks

test: install-dev lint
	$(PY) -m pytest -q

# Benchmarks of issue 6 (not part of `make test`): mlplab vs scikit-learn vs PyTorch CPU.
# TORCH pins the CPU wheel available on this machine's disk; a plain "torch" would pull a
# multi-GB CUDA build. OpenBLAS's coretype override is dropped for the run only.
TORCH ?= torch==2.13.0
BENCH := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) benchmarks/bench.py

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(PIP) install -q "$(TORCH)" -e ".[bench]"
	touch $@

bench: $(VENV)/.installed-bench  ## full suite (~5 min), writes benchmarks/RESULTS.md
	MLPLAB_BENCH_CMD="make bench" $(BENCH) --out benchmarks/RESULTS.md

bench-quick: $(VENV)/.installed-bench  ## small data, few rounds (~30 s), prints the report
	MLPLAB_BENCH_CMD="make bench-quick" $(BENCH) --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist src/*.egg-info
