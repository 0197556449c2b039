# ticketsim: every target sets itself up from nothing (python3 + pip, and apt-get where present).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_DIR ?= runs/demo
DEMO_TICKETS ?= 2000
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup sysdeps demo test test-slow lint bench bench-large clean

setup: $(STAMP)

# torch first, pinned: letting pip choose pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

# System packages used by browser tests (chromium) and the WordNet augmenter; skipped without apt.
sysdeps:
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  if ! command -v chromium >/dev/null || [ ! -d /usr/share/wordnet ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wordnet-base wordnet-sense-index >/dev/null) \
	    || echo "sysdeps: apt-get failed; browser/WordNet tests will fail"; \
	  fi; \
	fi

DEMO_SET = --set data.tickets=$(abspath $(RUN_DIR))/data/tickets.csv \
	--set data.links=$(abspath $(RUN_DIR))/data/links.json \
	--set data.links_store=$(abspath $(RUN_DIR))/links.sqlite

demo: setup
	$(BIN)/ticketsim demo-data $(RUN_DIR)/data --tickets $(DEMO_TICKETS) --seed 0
	$(BIN)/ticketsim run configs/demo.yaml --run-dir $(RUN_DIR) $(DEMO_SET)
	$(BIN)/ticketsim search --run-dir $(RUN_DIR) -k 5 "cannot connect to vpn from home, keeps dropping"

test: setup sysdeps
	$(BIN)/python -m pytest -q

test-slow: setup sysdeps
	$(BIN)/python -m pytest -q -m slow

# ruff on everything; mypy on the library (settings in pyproject.toml [tool.mypy])
lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench.run_all

bench-large: setup
	$(BIN)/python -m bench.run_all --large

clean:
	rm -rf $(VENV) runs .pytest_cache
