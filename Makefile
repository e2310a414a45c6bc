# gridppo: the two commands of the README, and a few helpers.
#   make train   trains the default configuration
#   make test    runs every test (unit tests, notebooks, browser test)
# Both create or reuse the project-local virtual environment .venv first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install train test lab lint benchmark clean

# (Re)install whenever the package metadata changes. torch is pinned in pyproject.toml
# to 2.13.0, which resolves to a CPU build; an unpinned torch would pull CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(VENV)/bin/gridppo train

test: $(STAMP)
	$(VENV)/bin/ruff check gridppo tests benchmarks
	MPLBACKEND=Agg $(PY) -m pytest tests

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

lint: $(STAMP)
	$(VENV)/bin/ruff check gridppo tests benchmarks
	$(VENV)/bin/ruff format --check gridppo tests benchmarks

benchmark: $(STAMP)
	$(PY) benchmarks/env_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache outputs
