# Two doors: `make demo` (set up, then play the operator scenario on the built-in
# simulator) and `make test` (set up, install redis-server if missing, then lint,
# type-check and run every test; the Redis tests start their own server on loopback).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/resync-mcp demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

# The official MCP conformance suite (tests/test_conformance.py), from the npm registry.
conformance/node_modules/.installed: conformance/package.json conformance/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix conformance --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the conformance tests will be skipped (CI fails instead)"; fi

test: lint conformance/node_modules/.installed
	bash scripts/ensure-services.sh
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/bench_tools.py
	$(BIN)/python bench/bench_startup.py
	$(BIN)/python bench/bench_surface.py
	$(BIN)/python bench/bench_warmup.py
	$(BIN)/python bench/bench_auth.py
	$(BIN)/python bench/bench_replicas.py
	$(BIN)/python bench/bench_storm.py
	$(BIN)/python bench/bench_control.py
	$(BIN)/python bench/bench_audit.py
	$(BIN)/python bench/bench_knowledge.py
	$(BIN)/python bench/eval_knowledge.py
	$(BIN)/python bench/rerank_knowledge.py
	$(BIN)/python bench/bench_graph.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_oql_fallback.py

clean:
	rm -rf $(VENV) build src/*.egg-info
