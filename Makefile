# The two commands a fresh clone needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_ROWS ?= 1000000
REPEATS ?= 5

.PHONY: demo test test-unit bench bench-pacing bench-compare fuzz lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python examples/demo.py --rows $(DEMO_ROWS)

# The whole suite: the unit tests first (seconds; they start no process, conftest.py sees to it), then the tests
# that run real processes (brokers, Apache Kafka, Prometheus, pump's own CLI)
test: test-unit
	$(BIN)/python -m pytest -m integration

test-unit: $(VENV)/.installed
	$(BIN)/python -m pytest -m "not integration"

# Send modes vs. a librdkafka script and Kafka's perf-test, whole processes, rotating order:
#   make bench BROKER=kafka REPEATS=5      (BROKER: embedded, kafka, or HOST:PORT)
BROKER ?= embedded
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/send_modes.py --broker $(BROKER) --repeats $(REPEATS)

# How well --rate and --speed keep their pace: whole processes against Tansu, records per second read back
bench-pacing: $(VENV)/.installed
	$(BIN)/python benchmarks/pacing.py

# Whole CLI processes of this tree against a git revision of it (default: origin/main, else HEAD), interleaved:
#   make bench-compare BASE=cad56b2 REPEATS=5
BASE ?= $(shell git rev-parse --verify -q origin/main || git rev-parse HEAD)
bench-compare: $(VENV)/.installed
	rm -rf .bench-base && git worktree prune && git worktree add --detach -f .bench-base $(BASE)
	$(BIN)/python benchmarks/compare.py --baseline .bench-base --repeats $(REPEATS)
	git worktree remove --force .bench-base

# Coverage-guided fuzzing of the decoders (atheris): each target for FUZZ_SECONDS; a failure is left as crash-*
FUZZ_SECONDS ?= 60
fuzz: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[fuzz]'
	for target in fuzz/csv_paths.py fuzz/chunking.py fuzz/shares.py fuzz/framing.py; do \
		$(BIN)/python $$target -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -timeout=20 || exit 1; done

lint: $(VENV)/.installed
	$(BIN)/ruff check pump tests benchmarks examples grafana fuzz docs
	$(BIN)/ruff format --check pump tests benchmarks examples grafana fuzz docs

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
