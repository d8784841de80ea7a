# Two commands do all the set-up on a fresh machine:
#   make demo   - runs the full analysis on the built-in GP-cluster corpus
#   make test   - lint + the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/gp_clusters

.PHONY: demo test lint venv bench clean corpus

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/stakeholder-nlp analyze corpus/gp_clusters/quotes.jsonl \
		--out $(OUT) --codebook corpus/gp_clusters/codebook.toml --force

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

test: $(STAMP) lint
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q

corpus: $(STAMP)
	$(BIN)/stakeholder-nlp corpus build --source ../shared/seeds/000_34b4ab0115b42951.txt \
		--out corpus/gp_clusters/quotes.jsonl

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) out
