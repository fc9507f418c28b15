# Two commands on a fresh machine:
#   make lab    set up everything, then open the notebooks in JupyterLab
#   make test   set up everything, then run the whole test suite
# Set-up is done once: it is redone only when requirements.txt or pyproject.toml change.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
# on a Linux machine without a GPU, to get the small CPU build instead of the CUDA one.
TORCH_PIP_ARGS ?=
SETUP_STAMP := $(VENV)/.setup-done
# JupyterLab settings the course ships: the widget manager saves each widget's state into the notebook, so that a
# trajectory viewer still shows after the notebook is closed and reopened (without it: "model not found").
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
# The course site's JavaScript (MathJax, RequireJS, the widgets' HTML manager), from the npm registry, pinned by
# site/package-lock.json: the site serves it itself, to work offline. Without npm, the site and its test are skipped.
SITE_JS := site/node_modules/.package-lock.json
SITE_MODE ?= quick
LAB_ARGS := --notebook-dir=notebooks --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_EXTRA ?=  # e.g. --port=9999 --no-browser

.PHONY: setup system lab test test-fast site model warm-starts benchmarks clean

setup: $(SETUP_STAMP) $(LAB_OVERRIDES) $(SITE_JS)

$(SETUP_STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	# torch first and alone, pinned: installed later as a dependency it could arrive as a multi-GB CUDA build
	$(PY) -m pip install --quiet $(TORCH) $(TORCH_PIP_ARGS)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	# build matplotlib's font cache now, not inside the first notebook that plots
	MPLBACKEND=Agg $(PY) -c "import matplotlib.pyplot"
	touch $@

$(LAB_OVERRIDES): $(SETUP_STAMP)
	mkdir -p $(dir $@)
	echo '{"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": true}}' > $@

$(SITE_JS): site/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix site --no-audit --no-fund --ignore-scripts --loglevel=error; \
	else echo "no npm: the course site cannot be built here (its test will be skipped)"; fi

lab: setup system
	$(VENV)/bin/jupyter lab $(LAB_ARGS) $(LAB_EXTRA)

# The suite runs in pytest-xdist workers, one per core (at most 4), each on one torch thread (tests/conftest.py says
# why); TEST_WORKERS=0 runs it in one process. Tests are handed out two at a time, longest first (conftest.py): xdist's
# default first hands each worker a quarter of the suite, and one worker then ran every slow test alone.
TEST_WORKERS ?= auto
XDIST := -n $(TEST_WORKERS) --maxprocesses=4 --maxschedchunk=2
test: setup system
	$(PY) -m pytest $(XDIST)

# System packages, from Debian, installed when missing and we are root (as in CI); else what needs them skips:
# Chromium for the real-browser tests (the playwright package drives it; its own browser download cannot work
# offline) and, with chromium-driver, for MiniWoB++'s pages (Selenium drives them: agentic_lab/web.py), bubblewrap
# for the code sandbox's namespaces (agentic_lab/sandbox.py; without it, limits only).
SYSTEM_PACKAGES := /usr/bin/chromium:chromium /usr/bin/chromedriver:chromium-driver /usr/bin/bwrap:bubblewrap
system:
	@for entry in $(SYSTEM_PACKAGES); do \
	  path=$${entry%%:*}; package=$${entry##*:}; \
	  if [ ! -x $$path ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo "installing Debian's $$package"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$package >/dev/null; \
	    else echo "no $$path and not root: what needs $$package will be skipped or weaker"; fi; \
	  fi; \
	done

# The course site, runs/site/_build/html/: every notebook executed (quick mode, or SITE_MODE=full), outputs cached
# per mode, the JavaScript served locally, offline to build and to read (site/build.py).
site: setup system
	$(PY) site/build.py --mode $(SITE_MODE)

# Everything but the notebooks and slow tests: for a quick check while editing.
test-fast: setup
	$(PY) -m pytest $(XDIST) -m "not notebook and not slow"

# Rebuild the shipped tiny model in data/tiny-agent (about 80 minutes on 2 cores).
model: setup
	$(PY) data/build_tiny_model.py

# Rebuild every warm start from data/tiny-agent, one after the other (hours on 2 cores: each model card states its
# time). Needed after `make model`: each warm start records the base it was built from, and its recipe test checks it.
WARM_STARTS := $(filter-out data/build_tiny_model.py,$(sort $(wildcard data/build_*.py)))
warm-starts: setup
	for script in $(WARM_STARTS); do $(PY) $$script || exit 1; done

benchmarks: setup
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
