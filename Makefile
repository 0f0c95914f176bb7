# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo test test-deep lint typecheck bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/loyalty demo

test: venv
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

test-deep: venv
	HYPOTHESIS_PROFILE=deep $(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: venv
	$(BIN)/ruff check src adapters tests benchmarks
	$(BIN)/ruff format --check src adapters tests benchmarks

typecheck: venv
	$(BIN)/mypy src adapters

bench: venv
	$(BIN)/python benchmarks/ledger_ingest.py
	$(BIN)/python benchmarks/sync_woocommerce.py

docs: venv
	$(BIN)/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis demo-out
