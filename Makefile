# The two commands of the README: `make demo` runs the main job on the bundled example,
# `make test` runs the tests. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.clade-installed

.PHONY: venv demo test test-host clean

venv: $(STAMP)

# torch is pinned (an unpinned torch pulls several GB of CUDA packages on a CPU machine).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install -q --disable-pip-version-check -e .
	touch $@

demo: venv
	$(BIN)/clade --help

# System packages and services the real tests need (Docker engine, bubblewrap).
test-host:
	bash sandbox/host_setup.sh

test: venv test-host
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache
