# Two commands: `make run` starts the whole platform, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run demo-traffic test lint bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/ignite dev

# While `make run` is up: a campaign sent through three capture servers and its recipients' opens, clicks,
# unsubscribes and conversions over HTTP, so the Analytics portal has figures; then 90 days of recorded history
# (once), so churn and trends have something to learn from.
demo-traffic: $(VENV)/.installed
	$(BIN)/ignite demo traffic
	$(BIN)/ignite demo history

test: $(VENV)/.installed-test
	scripts/ensure-browser.sh
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check app tests benchmarks migrations

clean:
	rm -rf $(VENV) .data
