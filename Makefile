# The two commands of the README: `make demo` runs the main job on the bundled example,
# `make test` runs the tests. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV)/bin)
STAMP  := $(VENV)/.clade-installed
EXTRAS := $(VENV)/.clade-test-extras
PIP    := $(BIN)/python -m pip install -q --disable-pip-version-check
DEMO   := out/demo

.PHONY: venv demo test test-host clean

venv: $(STAMP)

# torch is pinned on every pip line (an unpinned torch pulls several GB of CUDA packages).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e . torch==2.13.0
	touch $@

# The optional extras are tested for real: lm-evaluation-harness and Ray.
$(EXTRAS): $(STAMP)
	$(PIP) -e '.[lmeval,ray,browser]' torch==2.13.0
	touch $@

# The main job on the bundled example: a workspace from the tiny zoo and an autonomous search
# session (CMA-ES over layer-wise merge recipes, no LLM needed) of 40 candidates, each built and
# evaluated in the sandbox; it prints the best candidate's held-out fitness against the best source's.
demo: venv
	rm -rf $(DEMO)
	$(BIN)/clade init $(DEMO) --example tiny-zoo
	cd $(DEMO) && OMP_NUM_THREADS=1 $(BIN)/clade run --planner evolution --budget 40
	cd $(DEMO) && $(BIN)/clade candidates --top 5

# System packages and services the real tests need (Docker engine, bubblewrap, the test image).
test-host:
	bash sandbox/host_setup.sh

test: $(EXTRAS) test-host
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache
