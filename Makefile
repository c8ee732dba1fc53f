# The one task runner. README's two commands are `make run` and `make test`;
# .ci/run calls `make test` verbatim.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
DEMO_CITY ?= huaibei

.PHONY: setup run db test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	scripts/system-packages.sh server
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "creating a virtualenv failed; on Debian install python3-venv (apt-get install -y python3-venv)"; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

db: setup
	$(BIN)/stations db up

# Set up everything, load the demo city and serve on http://127.0.0.1:8000
run: db
	$(BIN)/stations demo --city $(DEMO_CITY)
	$(BIN)/stations serve

test: setup
	scripts/system-packages.sh test
	$(BIN)/stations db up
	$(BIN)/ruff check stations api maps tests bench
	$(BIN)/ruff format --check stations api maps tests bench
	$(BIN)/mypy
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check stations api maps tests bench
	$(BIN)/ruff format --check stations api maps tests bench
	$(BIN)/mypy

bench: setup
	scripts/system-packages.sh bench
	$(BIN)/stations db up
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	-$(BIN)/stations db down
	rm -rf $(VENV) .data
