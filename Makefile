# Two commands for a fresh machine: `make run` (dashboard on the default data) and `make test`.
# Both create and use .venv themselves; re-running them only reinstalls when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8501
FACILITATOR ?=
PYTEST_ARGS ?=
# Two workers, a test file each: the suite's files share module fixtures (a played history, a server).
# Files go out longest first (tests/conftest.py LONG_FILES_FIRST), not xdist's most-tests-first.
TEST_WORKERS ?= 2

.PHONY: run test bench lint format browser clean

$(BIN)/python:
	@echo "Creating .venv with $(PYTHON)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip prints each package it fetches, so the first install (a minute or two) shows its progress.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	@echo "Installing OpsLab and its dependencies into .venv (the first time takes a minute or two)..."
	$(BIN)/python -m pip install --progress-bar off -e . | grep -E '^(Collecting|Successfully)' || true
	@$(BIN)/python -c "import pipelines, streamlit" || (echo "The install failed: run '$(BIN)/python -m pip install -e .' to see why."; exit 1)
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "Installing OpsLab with its test tools into .venv (the first time takes a minute or two)..."
	$(BIN)/python -m pip install --progress-bar off -e '.[dev]' | grep -E '^(Collecting|Successfully)' || true
	@$(BIN)/python -c "import pipelines, streamlit, pytest, playwright" || (echo "The install failed: run '$(BIN)/python -m pip install -e .[dev]' to see why."; exit 1)
	@touch $@ $(VENV)/.installed-run

# `make run HOST=0.0.0.0` serves a workshop room (one warning line); FACILITATOR=1 starts facilitator mode.
# `opslab dashboard` passes every security setting as a flag, so they do not depend on the folder.
run: $(VENV)/.installed-run
	@echo "The CLI is $(BIN)/opslab (or run 'source $(BIN)/activate' once, then plain 'opslab')."
	$(BIN)/opslab init
	$(BIN)/opslab dashboard --host $(HOST) --port $(PORT) $(if $(FACILITATOR),--facilitator)

browser:
	@bash .ci/ensure-chromium

# The suite starts with lint, so CI (.ci/run -> make test) fails on a lint or type error too.
test: lint browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25 $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check pipelines dashboard tests benchmarks
	$(BIN)/ruff format --check pipelines dashboard tests benchmarks
	$(BIN)/mypy pipelines

format: $(VENV)/.installed-dev
	$(BIN)/ruff format pipelines dashboard tests benchmarks
	$(BIN)/ruff check --fix pipelines dashboard tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info browser_check_out
