# Two commands do everything on a fresh machine: `make run` and `make test`.
# Each step is a file target, so repeated runs reuse what already exists.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB := data/cx.duckdb
SAMPLE := data/sample_files/.complete
INDEX := data/index/.complete
WHEELS := $(wildcard /opt/wheels)

# Nothing may download at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup data index run test lint bench clean

setup: $(STAMP)

# torch goes in first, pinned to the CPU build, so nothing later pulls a CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(if $(WHEELS),--find-links $(WHEELS)) torch==2.13.0
	$(BIN)/pip install -q $(if $(WHEELS),--find-links $(WHEELS)) -e '.[dev]'
	touch $@

data: $(DB)

$(DB): $(STAMP) data/sample/scenario.yaml cxengine/schema.py cxengine/ingest.py cxengine/validation.py cxengine/sample.py cxengine/sample_writer.py cxengine/scenario.py cxengine/reports.py $(wildcard data/sample/reports/*.md)
	$(BIN)/cxassist data build

index: $(INDEX)

# index/config.py holds the chunking defaults: changing them re-chunks the corpus.
$(INDEX): $(DB) $(wildcard data/sample/docs/methodology/*.md) index/config.py index/chunking.py index/corpus.py index/mentions.py index/metadata.py
	$(BIN)/cxassist index build

run: $(INDEX)
	$(BIN)/streamlit run streamlit_app.py

test: $(INDEX)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(INDEX)
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_index.py
	$(BIN)/python benchmarks/bench_assistant.py
	$(BIN)/python benchmarks/bench_load.py

clean:
	rm -rf data/cx.duckdb data/sample_files data/index data/sample/docs/wave_reports
