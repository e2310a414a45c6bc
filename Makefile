# gridppo: the two commands of the README, and a few helpers.
#   make train   trains the default configuration
#   make test    runs every test (unit tests, notebooks, browser test)
# Both create or reuse the project-local virtual environment .venv first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install train test lab lint benchmark clean chromium

# (Re)install whenever the package metadata changes. The package accepts a range of
# torch versions (pyproject.toml), so that it installs into an environment that already
# has one; here torch is pinned to 2.13.0 first, which resolves to a CPU build, while an
# unpinned torch would pull gigabytes of CUDA packages.
TORCH_PIN := torch==2.13.0
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -e ".[dev,sweep]"
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(VENV)/bin/gridppo train

# The numbered tutorials run top to bottom in a fresh kernel with nbval: a cell marked
# "# NBVAL_CHECK_OUTPUT" must reproduce its stored output, every other cell must run
# without error. GRIDPPO_QUICK=1 shrinks their training (gridppo.config.quick_overrides).
TUTORIALS := $(wildcard notebooks/[0-9][0-9]_*.ipynb)
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=300
# The assignments' reference solutions run the same way. The student versions raise
# NotImplementedError by design: tests/test_course_notebooks.py checks them against the solutions.
SOLUTIONS := $(wildcard notebooks/assignments/[0-9][0-9]_*_solution.ipynb)

# The notebooks run beside the unit tests, each run on one of the two cores, and are
# reported after them; tutorial 06, whose sweep starts Ray, runs last and alone, so that
# no two Ray instances share the machine.
RAY_NOTEBOOKS := notebooks/06_a_bigger_grid_and_many_seeds.ipynb
OTHER_NOTEBOOKS := $(filter-out $(RAY_NOTEBOOKS),$(TUTORIALS)) $(SOLUTIONS)

test: $(STAMP) chromium
	$(VENV)/bin/ruff check gridppo tests benchmarks $(TUTORIALS) notebooks/assignments
	@log=$$(mktemp); \
	GRIDPPO_QUICK=1 $(PY) -m pytest $(NBVAL) $(OTHER_NOTEBOOKS) > $$log 2>&1 & notebooks=$$!; \
	MPLBACKEND=Agg $(PY) -m pytest tests; unit=$$?; \
	wait $$notebooks; other=$$?; echo; echo "== notebooks (run beside the unit tests)"; \
	cat $$log; rm -f $$log; \
	GRIDPPO_QUICK=1 $(PY) -m pytest $(NBVAL) $(RAY_NOTEBOOKS); ray=$$?; \
	test $$unit = 0 && test $$other = 0 && test $$ray = 0

# The browser test (tests/test_browser.py) drives Debian's chromium. Install it when it is
# missing and we run as root (as CI does); otherwise the test is skipped and says why.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
			|| echo "chromium could not be installed; the browser test will be skipped"; \
	fi

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

lint: $(STAMP)
	$(VENV)/bin/ruff check gridppo tests benchmarks
	$(VENV)/bin/ruff format --check gridppo tests benchmarks

benchmark: $(STAMP)
	$(PY) benchmarks/env_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache outputs
