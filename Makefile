# The two commands of the README: `make demo` runs the main job on the bundled example,
# `make test` runs the tests. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV)/bin)
STAMP  := $(VENV)/.clade-installed
EXTRAS := $(VENV)/.clade-test-extras
# The lock files: every package pinned, resolved for CPython 3.11 on x86-64 Linux, torch the
# 2.13.0 CPU build. `make demo` installs demo.txt, `make test` test.txt (the extras and the
# dev tools too); Clade itself goes in on top with --no-deps, so nothing else is resolved.
LOCK_DEMO := requirements/demo.txt
LOCK_TEST := requirements/test.txt
# The lowest versions pyproject.toml's ranges allow for its direct dependencies (uv's lowest-direct
# resolution; their own dependencies newest), all extras: what `make test-lowest` tests.
LOCK_LOWEST := requirements/lowest.txt
LOWEST := .venv-lowest
# Where a CPU build of torch lies on disk (pip on this machine already looks there).
TORCH_WHEELS ?= /opt/wheels
UV_VERSION := 0.13.9
PIP    := $(BIN)/python -m pip install -q --disable-pip-version-check
DEMO   := out/demo

.PHONY: venv demo test test-host test-lowest lock clean

venv: $(STAMP)

# torch is pinned on every pip line (an unpinned torch pulls several GB of CUDA packages).
$(STAMP): pyproject.toml $(LOCK_DEMO)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r $(LOCK_DEMO)
	$(PIP) --no-deps -e .
	touch $@

# The optional extras are tested for real: lm-evaluation-harness, Ray and Playwright.
$(EXTRAS): $(STAMP) $(LOCK_TEST)
	$(PIP) -r $(LOCK_TEST)
	touch $@

# Refresh the lock files from pyproject.toml's ranges (newest releases that satisfy them; lowest.txt
# the lowest releases of the direct dependencies).
# Run it when a dependency or its range changes, or to take upstream releases on purpose;
# then run `make test` and commit the lock files with the change that needed them.
UV_PIP_COMPILE = $(BIN)/uv pip compile pyproject.toml --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --find-links $(TORCH_WHEELS) --custom-compile-command 'make lock'
lock: $(STAMP)
	$(PIP) uv==$(UV_VERSION)
	$(UV_PIP_COMPILE) --upgrade --extra lmeval --extra ray --extra browser --extra dev -o $(LOCK_TEST)
	$(UV_PIP_COMPILE) --upgrade -c $(LOCK_TEST) -o $(LOCK_DEMO)
	$(UV_PIP_COMPILE) --upgrade --resolution lowest-direct --extra lmeval --extra ray --extra browser --extra dev \
		-o $(LOCK_LOWEST)

# The main job on the bundled example: a workspace from the composite zoo and an autonomous search
# session (CMA-ES over layer-wise merge recipes, no LLM needed) of 60 candidates, each built and
# evaluated in the sandbox; it prints the best candidate's held-out score on each task beside the
# best source's, its held-out fitness with its interval, then the hand recipe's scores to compare.
demo: venv
	rm -rf $(DEMO)
	$(BIN)/clade init $(DEMO) --example composite-zoo
	cd $(DEMO) && OMP_NUM_THREADS=1 $(BIN)/clade run --planner evolution --budget 60
	@echo "the hand recipe to beat (recipes/hand.yaml, the best of 34 uniform merges), held out:"
	cd $(DEMO) && $(BIN)/clade merge recipes/hand.yaml hand-recipe >/dev/null && OMP_NUM_THREADS=1 $(BIN)/clade eval hand-recipe --split test --threads 1
	cd $(DEMO) && $(BIN)/clade candidates --top 5

# System packages and services the real tests need (Docker engine, bubblewrap, the test image).
test-host:
	bash sandbox/host_setup.sh

test: $(EXTRAS) test-host
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

# The whole suite on the lowest versions pyproject.toml allows (requirements/lowest.txt), in a venv
# of its own rebuilt whenever the lock changes; not part of `make test`. Run it after `make lock`
# or after changing a range; a failure means a lower bound in pyproject.toml must rise.
$(LOWEST)/.clade-installed: pyproject.toml $(LOCK_LOWEST)
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install -q --disable-pip-version-check -r $(LOCK_LOWEST)
	$(LOWEST)/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

test-lowest: $(LOWEST)/.clade-installed test-host
	OMP_NUM_THREADS=1 $(abspath $(LOWEST))/bin/python -m pytest -q

clean:
	rm -rf $(VENV) $(LOWEST) out .pytest_cache
