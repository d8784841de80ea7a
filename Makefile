# Two commands do all the set-up on a fresh machine:
#   make demo   - runs the full analysis on the built-in GP-cluster corpus
#   make test   - lint + the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/gp_clusters

.PHONY: demo test lint venv bench clean corpus browser

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

# the report test opens the page in a real browser: Debian's chromium, installed when missing
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 || \
		echo "warning: could not install chromium; the browser test will fail"; }

test: $(STAMP) lint browser
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q

corpus: $(STAMP)
	$(BIN)/stakeholder-nlp corpus build --source ../shared/seeds/000_34b4ab0115b42951.txt \
		--out corpus/gp_clusters/quotes.jsonl

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) out
