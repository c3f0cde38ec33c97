# The handbook's single entry point. `make book` builds the book, `make test` proves it works.
# Both create or refresh the local environment (.venv) from the project's own files first;
# on an up-to-date checkout that step is a no-op.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The PyTorch build installed into .venv before the package. The default is the CPU wheel;
# with CUDA, pick your build, e.g. make book TORCH_SPEC="torch==2.13.0 --index-url <your index>",
# or TORCH_SPEC= to keep a torch you installed into .venv yourself.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed-stamp

# Trained models are cached here (handbook_utils.cache); the book and the tests share them.
export HANDBOOK_CACHE_DIR ?= $(CURDIR)/_build/model-cache
export PYTHONHASHSEED := 0
# Idle OpenMP threads sleep instead of spinning: on a small, busy machine spinning threads made
# training up to 10x slower.
export OMP_WAIT_POLICY ?= PASSIVE
export PIP_DISABLE_PIP_VERSION_CHECK := 1

CHAPTER_MD := $(sort $(wildcard chapters/*.md))

.PHONY: help setup book notebooks lab test check-pairs unit nbval browser bench clean

help:
	@echo "make book       build the handbook (executes every chapter) into _build/html"
	@echo "make test       everything: pair check, unit tests, nbval, book build, browser test"
	@echo "make lab        open JupyterLab on chapters/ with the project's kernel"
	@echo "make notebooks  re-execute chapters/*.md into their reference .ipynb twins"
	@echo "make bench      run the benchmark script (ratios measured side by side)"

setup: $(STAMP) _vendor/.stamp

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing the handbook environment into $(VENV) (once)"
	@if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/python -m pip install --quiet $(TORCH_SPEC); fi
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	@touch $@

_vendor/.stamp: tools/vendor/package.json tools/vendor/package-lock.json tools/vendor/widgets-config.js tools/vendor_assets.py | $(STAMP)
	$(BIN)/python tools/vendor_assets.py

# Jupyter Book's execution cache only notices edits to a chapter itself; when the package or the
# environment changes, every chapter must run again, so the cache is dropped.
JUPYTER_CACHE := _build/.jupyter_cache
$(JUPYTER_CACHE)/.package-stamp: $(wildcard handbook_utils/*.py) pyproject.toml
	rm -rf $(JUPYTER_CACHE)
	mkdir -p $(JUPYTER_CACHE)
	touch $@

book: setup $(JUPYTER_CACHE)/.package-stamp
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book is built: open _build/html/index.html (or run: $(BIN)/python -m http.server -d _build/html)"

notebooks: $(STAMP)
	$(BIN)/python tools/notebooks.py execute $(CHAPTERS)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=chapters

check-pairs: $(STAMP)
	$(BIN)/python tools/notebooks.py check

unit: $(STAMP)
	$(BIN)/pytest tests -q --ignore=tests/browser

nbval: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg chapters/

browser: setup
	tools/ensure_chromium.sh
	$(BIN)/pytest -q -p no:cacheprovider tests/browser

test: setup check-pairs unit nbval book browser

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf _build _vendor
