# The two commands a fresh clone needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_ROWS ?= 1000000

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python examples/demo.py --rows $(DEMO_ROWS)

test: $(VENV)/.installed
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/send_modes.py

lint: $(VENV)/.installed
	$(BIN)/ruff check pump tests benchmarks examples grafana
	$(BIN)/ruff format --check pump tests benchmarks examples grafana

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
