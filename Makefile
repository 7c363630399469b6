# quotebot: `make demo` runs the bot once over the bundled example mailbox; `make test` runs lint and tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint fmt clean bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf var/outbox var/quotebot.db var/quotebot.db-wal var/quotebot.db-shm
	$(BIN)/quotebot run --once --config examples/quotebot.toml --show-reply

lint: $(STAMP)
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

fmt: $(STAMP)
	$(BIN)/ruff format bot tests
	$(BIN)/ruff check --fix bot tests

# the issue-7 figures against a throwaway Dovecot: N=10,000 by default; ARGS=--large for
# 100,000, ARGS="--messages 2000" for a quick run, ARGS=--profile for where the backlog goes
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
