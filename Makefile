# Developer entry points. `make test` is what CI runs (see .ci/run).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: .venv test run bench lint format clean

# The virtualenv; dependencies are reinstalled whenever a requirements file changes.
.venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

test: .venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The main job on embedded defaults (SQLite, filesystem broker): web, worker and demo API.
run: .venv
	$(BIN)/python -m project.runner

# The throughput cases read from nginx (Debian's nginx-light), installed here when missing.
bench: .venv
	test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx-light)
	$(BIN)/python -m bench

lint: .venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: .venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache test-output
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
