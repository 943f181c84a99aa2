# The two commands that matter on a fresh machine: `make run` and `make test`.
# Each bootstraps .venv/ (Python 3.11) with the project and its dev dependencies by itself, at the exact
# versions and hashes of requirements-dev.lock (`make lock` regenerates both lock files from pyproject.toml).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean soak bench lock api-client

$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The lock files: requirements.lock (what the image installs) and requirements-dev.lock (make, CI). Run after
# changing a dependency in pyproject.toml; tests/unit/test_lock_files.py fails until then.
PIP_COMPILE = $(BIN)/pip-compile --quiet --strip-extras --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-tools
	$(PIP_COMPILE) --output-file requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev --output-file requirements-dev.lock pyproject.toml

install: $(STAMP)

# The HTTP client's wire models and command methods, generated again from the API's OpenAPI document: run
# after changing a command, a body or a view; tests/unit/test_api_client_generated.py fails until then.
api-client: $(STAMP)
	$(BIN)/python -m api.client_codegen

run: $(STAMP)
	$(BIN)/styletrial dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two test processes (pytest-xdist), each with its own Temporal servers, taking a test module each as they
# finish, in collection order (the fault campaigns first, see tests/conftest.py): the machines here have two
# cores, and most tests wait on timers and servers rather than compute (one serial run used one core on
# average). `make test PYTEST_WORKERS=0` runs the suite in one process.
PYTEST_WORKERS ?= 2
test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The fault campaign: random trials over HTTP against separate processes (dev server, two workers, API)
# while workers are SIGKILLed and the server and the API restarted; 200 on the simulated gateway, then 60
# on the Stripe adapter with localstripe behind a proxy that delays and drops payment calls. About 25
# minutes; exits 1 on any lost, duplicated or stuck trial or unexpected 5xx. A smaller run is in `make test`.
soak: $(STAMP)
	$(BIN)/python -m soak --trials 200
	$(BIN)/python -m soak --trials 60 --payments stripe --seed 2

# The benchmarks, one after the other (about 30 minutes); each prints its report, and the run ends with the
# headline figures as name=value lines (ratio_engine_bare=, history_kb=, read_p99_ms=, ...). See docs/performance.md.
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data test-output .pytest_cache .mypy_cache .ruff_cache
