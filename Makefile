# Two commands set everything up on a machine with Python 3.11+ and make:
#   make run    the whole backend on the embedded PostgreSQL and Redis
#   make test   the default test suite, the slow tests left out (starts every server it needs)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
INSTALLED := $(VENV)/.installed
# Two stamps: the runtime dependencies alone (`make run`), and the dev extras on top (tests,
# lint, benchmarks); both pinned by requirements.lock, the one pin file.
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock

.PHONY: run run-national test test-slow test-contract test-browser lint bench lock clean

$(RUNTIME): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $(RUNTIME)

$(INSTALLED): $(RUNTIME)
	$(PIP) -e '.[dev]'
	touch $(INSTALLED)

run: $(RUNTIME)
	$(BIN)/zs up

run-national: $(RUNTIME)  ## `zs up` with the national demo too, on a data folder of its own
	ZS_DATA_DIR=.zs-national $(BIN)/zs up --national

test: $(INSTALLED)  ## unit and integration tests but those marked slow (docs/testing.md)
	$(BIN)/pytest -m "not slow"

test-slow: $(INSTALLED)  ## only the tests marked slow: faults, `zs up` processes, volumes (CI runs them)
	$(BIN)/pytest -m slow

test-contract: $(INSTALLED)  ## schemathesis against /openapi.json with a token of each role
	$(BIN)/pytest tests/contract

test-browser: $(INSTALLED)  ## the dashboard in Debian's Chromium (apt-get install chromium)
	$(BIN)/pytest tests/browser

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy events projections services infra

SCALE ?= full
BENCH_ARGS ?=
bench: $(INSTALLED)  ## every benchmark, one table; SCALE=quick for a short run, BENCH_ARGS="--only e2e"
	$(BIN)/python -m tests.benchmarks.run --scale $(SCALE) $(BENCH_ARGS)

lock: $(INSTALLED)  ## re-pin every dependency after changing pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^zielsteuerung' > requirements.lock

clean:
	rm -rf $(VENV) .zs .zs-national
