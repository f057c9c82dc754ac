# Keel: `make demo` runs the main job on embedded defaults; `make test` runs every check.
# Both set everything up first (a virtualenv from requirements.lock, npm packages from package-lock.json).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY_STAMP  := $(VENV)/.keel-installed
NPM_STAMP := node_modules/.keel-installed

.PHONY: setup demo test lint bench clean

$(PY_STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(PY_STAMP) $(NPM_STAMP)

demo: setup
	$(BIN)/keel simulate examples/eth_options_desk.toml

lint: setup
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

# Browser tests (tests/service) drive Debian's chromium through Playwright; installed only when missing, never downloaded by Playwright.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -q && apt-get install -y -q chromium

# Tests of in-process code (no servers, no kills, no shared ports) run on two workers, a file per worker at a time;
# the rest (PostgreSQL, NATS, Hardhat soaks, Ray, the browser, SIGKILL timing) runs after them in one process.
PARALLEL_TESTS := tests/domain tests/pricing tests/mc tests/risk tests/venues tests/execution tests/oracle \
	tests/marketdata tests/fuzz tests/sim tests/runtime tests/engine tests/agents

test: lint $(CHROMIUM)
	$(BIN)/pytest -n 2 --dist loadfile $(PARALLEL_TESTS)
	$(BIN)/pytest $(addprefix --ignore=,$(PARALLEL_TESTS))

# Benchmarks install the peers (NautilusTrader, py_vollib_vectorized) on top; never part of `make test`.
# Install order: see requirements-bench.lock (py_lets_be_rational pinned to 1.0.1 and force-reinstalled last).
# Each bench's output (machine, versions, load average included) is also kept in bench/results/NAME-<UTC>.txt.
BENCH_STAMP := $(VENV)/.keel-bench-installed
BENCHES ?= $(wildcard bench/[a-z]*.py)  # e.g. make bench BENCHES="bench/pricing.py bench/cli_startup.py"
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check

$(BENCH_STAMP): $(PY_STAMP) requirements-bench.lock
	$(PIP) -r requirements-bench.lock
	$(PIP) --force-reinstall --no-deps lets_be_rational==1.1.2
	$(PIP) --force-reinstall --no-deps py_lets_be_rational==1.0.1
	$(BIN)/python -c "import py_vollib_vectorized, nautilus_trader"
	touch $@

bench: setup $(BENCH_STAMP)
	@mkdir -p bench/results
	@test -x bench/.venv-degenbot/bin/python || ($(PYTHON) -m venv bench/.venv-degenbot && \
	  bench/.venv-degenbot/bin/python -m pip install -q -r bench/requirements-degenbot.txt) || \
	  echo "degenbot venv not built (bench/requirements-degenbot.txt): bench/amm.py runs without that peer"
	@for b in $(BENCHES); do \
	  out=bench/results/$$(basename $$b .py)-$$(date -u +%Y%m%dT%H%M%SZ).txt; echo "== $$b -> $$out"; \
	  $(BIN)/python $$b > $$out 2>&1; rc=$$?; cat $$out; [ $$rc -eq 0 ] || exit 1; done

clean:
	rm -rf $(VENV) node_modules runs .mypy_cache .pytest_cache .ruff_cache
