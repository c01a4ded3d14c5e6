# meterwatch: the two commands a newcomer needs are `make demo` and `make test`.
# Both install everything on a fresh machine (Python venv, Mosquitto, PostgreSQL, Kafka).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test unit lint services-up services-down services-status bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

services-up: $(STAMP)
	$(BIN)/meterwatch services up

services-down:
	bash deploy/local/services.sh down

services-status:
	bash deploy/local/services.sh status

demo: services-up
	$(BIN)/meterwatch demo

# The whole suite, integration tests against the real services included.
test: services-up
	$(BIN)/pytest

# Unit tests only: no services needed.
unit: $(STAMP)
	$(BIN)/pytest -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: services-up
	$(BIN)/python bench/bench_pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
