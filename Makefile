# The project's commands. Every target creates and uses the virtual environment in .venv.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed
# reformat-gherkin pins an old gherkin parser that pytest-bdd cannot use: it gets a venv of its own.
GHERKIN_VENV ?= .venv-gherkin
GHERKIN_STAMP := $(GHERKIN_VENV)/.installed

.PHONY: venv system-deps up down status verify test lint format bench clean fresh-machine-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[service,stack,dev]'
	touch $(STAMP)

venv: $(STAMP)

$(GHERKIN_STAMP):
	$(PYTHON) -m venv $(GHERKIN_VENV)
	$(GHERKIN_VENV)/bin/python -m pip install -q 'reformat-gherkin==3.0.1'
	touch $(GHERKIN_STAMP)

# PostgreSQL, RabbitMQ and Chromium from Debian's packages, installed only where missing.
system-deps:
	@bash scripts/install-system-deps

up: venv
	$(BIN)/qtask-stack up

down: venv
	$(BIN)/qtask-stack down

status: venv
	$(BIN)/qtask-stack status

# The stack the other commands would use (./.qtask-stack, or the one started from here that runs
# elsewhere), so that the suite reads that stack's stack.env and controls that stack.
verify: venv
	@dir="$$($(BIN)/qtask-stack where)" && \
	QTASK_STACK_DIR="$$dir" $(BIN)/qtask-stack up && \
	QTASK_STACK_DIR="$$dir" $(BIN)/qtask-verify

lint: venv $(GHERKIN_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(GHERKIN_VENV)/bin/reformat-gherkin --check features

format: venv $(GHERKIN_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(GHERKIN_VENV)/bin/reformat-gherkin features

# pytest's exit code 5 (no test collected) is a failure here, never a silent success.
test: venv system-deps lint
	$(BIN)/pytest --durations=20 tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: venv
	$(BIN)/python -m benchmarks

# The README's two commands on a fresh Debian root (debootstrap), as root; ~20 min, not in CI.
fresh-machine-test:
	@bash scripts/fresh-machine-test

clean:
	-$(BIN)/qtask-stack down
	-$(BIN)/qtask-stack --state-dir .qtask-stack destroy
	rm -rf $(VENV) $(GHERKIN_VENV) reports .qtask-stack
