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
	$(SOUVERAIN) report latest --out $(SOUVERAIN_HOME)/report
	@echo "report: $(SOUVERAIN_HOME)/report/index.html"

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

test: setup lint
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/scan_bench.py
	$(PY) benchmarks/attribution_bench.py
	$(PY) benchmarks/assessment_bench.py

lab-down: setup
	$(SOUVERAIN) lab down

clean:
	-$(SOUVERAIN) lab down
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
