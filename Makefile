# make book : set up .venv, execute every chapter (default parameters), build _build/html
# make test : set up .venv, run the tests (unit tests + every chapter with smoke=True)
# make bench: set up .venv, run benchmarks/ (about 25 min on 2 cores), tables into benchmarks/results/
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# one cache folder for fine-tuned checkpoints and representations (content-addressed)
export NBHELPERS_CACHE ?= $(CURDIR)/.cache
export TOKENIZERS_PARALLELISM := false

.PHONY: book test bench install clean clean-cache browser

install: $(STAMP)

# torch==2.13.0 is pinned inside requirements.txt and installed in the SAME pip command
# as everything else; installed on its own later, pip would pull a multi-GB CUDA build.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# MathJax for offline equations, from the npm registry (package.json pins it)
MATHJAX := node_modules/mathjax/es5/tex-chtml.js
$(MATHJAX): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(MATHJAX)

book: $(STAMP) $(MATHJAX)
	$(BIN)/python scripts/build_book.py
	@echo "open _build/html/index.html"

# Debian's Chromium for the real-browser test of the built site (skipped where absent)
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium could not be installed: the browser test will be skipped"

test: $(STAMP) $(MATHJAX) browser
	$(BIN)/python -m pytest --durations=15

# each script prints a markdown table (medians, ratios measured in the same run) to stdout,
# progress to stderr; the tables are kept in benchmarks/results/ for the README
BENCH_RESULTS := benchmarks/results
bench: $(STAMP)
	mkdir -p $(BENCH_RESULTS)
	set -o pipefail; $(BIN)/python benchmarks/bench_encode.py | tee $(BENCH_RESULTS)/encode.md
	set -o pipefail; $(BIN)/python benchmarks/bench_search.py | tee $(BENCH_RESULTS)/search.md
	set -o pipefail; $(BIN)/python benchmarks/bench_train.py --accuracy-seeds 3 | tee $(BENCH_RESULTS)/train.md
	set -o pipefail; $(BIN)/python benchmarks/bench_book.py | tee $(BENCH_RESULTS)/book.md
	set -o pipefail; if [ -f benchmarks/bench_influence.py ]; then \
	  $(BIN)/python benchmarks/bench_influence.py | tee $(BENCH_RESULTS)/influence.md; fi

clean:
	rm -rf _build results

clean-cache:
	rm -rf $(NBHELPERS_CACHE)
