# souverain — see README.md. Every target runs scripts/setup.sh first (idempotent).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SOUVERAIN := $(VENV)/bin/souverain
export SOUVERAIN_HOME ?= $(CURDIR)/var
DEMO_SIZE ?= 200

.PHONY: setup demo test lint bench lab-down clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(SOUVERAIN) lab up --size $(DEMO_SIZE)
	$(SOUVERAIN) scan --lab
	@# The procurement pillar on SYNTHETIC DECP (same seed, same file) plus the official examples.
	$(SOUVERAIN) procurement generate $(SOUVERAIN_HOME)/decp-synthetic-demo.csv --contracts 20000 --seed 1
	$(SOUVERAIN) procurement ingest $(SOUVERAIN_HOME)/decp-synthetic-demo.csv \
		tests/procurement/data/example_v2_marches_avec_modifications.json \
		tests/procurement/data/example_v1.5_paquet.json
	$(SOUVERAIN) report latest --out $(SOUVERAIN_HOME)/report
	@echo "report: $(SOUVERAIN_HOME)/report/index.html (procurement figures from synthetic DECP)"
	@echo "web: $(SOUVERAIN) serve  then open http://127.0.0.1:8000/"

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

test: setup lint
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/scan_bench.py
	$(PY) benchmarks/attribution_bench.py
	$(PY) benchmarks/assessment_bench.py
	$(PY) benchmarks/opendata_bench.py
	$(PY) benchmarks/web_bench.py
	$(PY) benchmarks/procurement_bench.py

lab-down: setup
	$(SOUVERAIN) lab down

clean:
	-$(SOUVERAIN) lab down
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
