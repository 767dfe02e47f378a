# Developer entry points. `make test` is what CI runs (see .ci/run).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` installs only what runs (requirements.txt), `make test` and the
# tools add the rest (requirements-dev.txt); each is redone when its file changes.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: test run bench lint format wheel clean

$(RUN_STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The main job on embedded defaults (SQLite, filesystem broker): web, worker and demo API.
run: $(RUN_STAMP)
	$(BIN)/python -m project.runner

# The wheel a Django project installs (README, "Install into your project"), into $(DIST).
# setuptools' build/ would carry files deleted since the last build into the wheel: drop it.
DIST ?= dist
wheel: $(RUN_STAMP)
	rm -rf build bitstore.egg-info
	$(BIN)/pip wheel -q --no-deps -w $(DIST) .
	rm -rf build bitstore.egg-info
	@ls $(DIST)/bitstore-*.whl

# The throughput cases read from nginx (Debian's nginx-light), installed here when missing.
bench: $(DEV_STAMP)
	test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx-light)
	$(BIN)/python -m bench

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache test-output build dist *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
