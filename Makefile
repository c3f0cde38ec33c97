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
LAB_CONFIG := $(VENV)/etc/jupyter/jupyter_server_config.py

# Trained models are cached here (handbook_utils.cache); the book, `make lab` and the tests share
# them. `make clean` keeps this folder (gpu-size models take long to train); `make clean-cache`
# removes it.
MODEL_CACHE := _build/model-cache
export HANDBOOK_CACHE_DIR ?= $(CURDIR)/$(MODEL_CACHE)
export PYTHONHASHSEED := 0
# Idle OpenMP threads sleep instead of spinning: on a small, busy machine spinning threads made
# training up to 10x slower.
export OMP_WAIT_POLICY ?= PASSIVE
export PIP_DISABLE_PIP_VERSION_CHECK := 1

CHAPTER_MD := $(sort $(wildcard chapters/*.md))

.PHONY: help setup book notebooks lab test lint check-pairs results experiments unit nbval browser bench clean clean-cache

# Every .PHONY target is listed here (tests/test_build.py checks it).
help:
	@echo "make book         build the handbook into _build/html, executing the chapters whose"
	@echo "                  inputs changed (the chapter, handbook_utils, pyproject.toml, torch,"
	@echo "                  HANDBOOK_SIZE, HANDBOOK_DEVICE)"
	@echo "make test         everything: lint, pair check, unit tests, nbval, book build, browser test"
	@echo "make lint         ruff (rule sets F, E, B, UP, SIM, I) over the package, tests, tools"
	@echo "make lab          open JupyterLab on chapters/ with the project's kernel (more"
	@echo "                  arguments: make lab LAB_ARGS=\"--port 8890\"; as root it adds --allow-root)"
	@echo "make notebooks    re-execute chapters/*.md into their reference .ipynb twins"
	@echo "                  (or only some: make notebooks CHAPTERS=chapters/NN_name.md)"
	@echo "make bench        run the benchmark script (ratios measured side by side)"
	@echo "make experiments  run the experiments too big for a chapter into results/ (one by one:"
	@echo "                  make experiments EXPERIMENT=ch09 SETTING=full WORKERS=2)"
	@echo "make results      fail on stored results the current code would not produce, then"
	@echo "                  re-train one stored cell of each experiment and compare it number by number"
	@echo "make setup        create or refresh .venv and the vendored browser assets (_vendor)"
	@echo "make check-pairs  check every chapters/*.md against its .ipynb twin"
	@echo "make unit         unit and property tests (pytest tests, without the browser test)"
	@echo "make nbval        re-execute the reference notebooks and compare their outputs"
	@echo "make browser      open every built page, then chapters in JupyterLab, in headless"
	@echo "                  Chromium (needs make book)"
	@echo "make clean        remove build outputs (_build, _vendor) but keep the trained models"
	@echo "                  in $(MODEL_CACHE)"
	@echo "make clean-cache  remove the trained-model cache $(MODEL_CACHE) too"
	@echo "make help         this list"

setup: $(STAMP) _vendor/.stamp $(LAB_CONFIG)

# The stamp is touched only after a complete install, so an interrupted set-up runs again; and
# tools/ensure_venv.sh recreates a venv left without a working pip by an interrupt in `venv`.
$(STAMP): pyproject.toml
	@bash tools/ensure_venv.sh $(VENV) $(PYTHON)
	@echo "setup: installing the handbook environment into $(VENV) (once)"
	@if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/python -m pip install --quiet $(TORCH_SPEC); fi
	$(BIN)/python -m pip install --quiet -e ".[book,test,ray]"
	@touch $@

# The lab's settings (tools/handbook_lab.py): chapters pair both ways and show their numbers, markdown
# opens as a notebook, and every lab started from .venv caches models in $(MODEL_CACHE).
$(LAB_CONFIG): tools/handbook_lab.py | $(STAMP)
	$(BIN)/python tools/handbook_lab.py install $(VENV)

_vendor/.stamp: tools/vendor/package.json tools/vendor/package-lock.json tools/vendor/widgets-config.js tools/vendor/widgets-a11y.js tools/vendor_assets.py | $(STAMP)
	$(BIN)/python tools/vendor_assets.py

# Jupyter Book's caches (Sphinx's _build/.doctrees, jupyter-cache's _build/.jupyter_cache) only
# notice edits to a chapter itself. tools/build_inputs.py hashes the other inputs of a chapter's
# numbers (handbook_utils/**/*.py, pyproject.toml, torch, HANDBOOK_SIZE, HANDBOOK_DEVICE) into
# _build/.inputs-digest and, when they changed, drops those caches so every chapter is re-read
# and re-executed. With unchanged inputs it does nothing and a rebuild executes nothing.
book: setup
	$(BIN)/python tools/build_inputs.py refresh
	HANDBOOK_PROGRESS=0 $(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book is built: open _build/html/index.html (or run: $(BIN)/python -m http.server -d _build/html)"

notebooks: $(STAMP)
	$(BIN)/python tools/notebooks.py execute $(CHAPTERS)

# Extra arguments: make lab LAB_ARGS="--port 8890 --no-browser". As root (containers, cloud
# notebooks) JupyterLab refuses to start without --allow-root, so it is added, with a note.
LAB_ARGS ?=
lab: $(STAMP) $(LAB_CONFIG)
	@if [ "$$(id -u)" = 0 ]; then echo "lab: running as root, so adding --allow-root"; fi
	$(BIN)/jupyter lab --notebook-dir=chapters $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check handbook_utils tests tools benchmarks

check-pairs: $(STAMP)
	$(BIN)/python tools/notebooks.py check

unit: $(STAMP)
	$(BIN)/pytest tests -q --ignore=tests/browser

nbval: $(STAMP)
	HANDBOOK_PROGRESS=0 $(BIN)/pytest -q -p no:cacheprovider --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg chapters/

# The static book's pages, then JupyterLab itself (tests/browser/test_lab.py starts its own lab).
browser: setup
	tools/ensure_chromium.sh
	$(BIN)/pytest -q -p no:cacheprovider tests/browser

# The experiments behind results/*.json (handbook_utils.experiments). Each finished cell is cached,
# so an interrupted run resumes where it stopped.
EXPERIMENT ?= ch09
SETTING ?= full
WORKERS ?= 2
experiments: $(STAMP)
	$(BIN)/python -m handbook_utils.experiments run $(EXPERIMENT) --setting $(SETTING) --workers $(WORKERS)

results: $(STAMP)
	$(BIN)/python -m handbook_utils.experiments check
	$(BIN)/python -m handbook_utils.experiments spot ch06
	$(BIN)/python -m handbook_utils.experiments spot ch07
	$(BIN)/python -m handbook_utils.experiments spot ch08
	$(BIN)/python -m handbook_utils.experiments spot ch09

test: setup lint check-pairs results unit nbval book browser

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Everything under _build except the trained models, which are slow to retrain.
clean:
	if [ -d _build ]; then find _build -mindepth 1 -maxdepth 1 ! -path $(MODEL_CACHE) -exec rm -rf {} +; fi
	rm -rf _vendor _vendor.tmp

clean-cache: clean
	rm -rf _build
