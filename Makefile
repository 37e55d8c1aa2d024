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

# The main job on the bundled example: a workspace from the tiny zoo, a task-arithmetic merge
# of its three experts, and the held-out fitness of the merge next to every source model's.
demo: venv
	rm -rf $(DEMO)
	$(BIN)/clade init $(DEMO) --example tiny-zoo
	cd $(DEMO) && $(BIN)/clade merge recipes/task_arithmetic.yaml out/merged
	cd $(DEMO) && $(BIN)/clade eval out/merged --split test
	@cd $(DEMO) && for m in models/base models/adder models/reverser models/sorter out/merged; do \
	  printf '%-16s held-out fitness %s\n' "$$m" "$$($(BIN)/clade eval $$m --split test --threads 1 --json | $(BIN)/python -c 'import json,sys; print(round(json.load(sys.stdin)["fitness"], 3))')"; \
	done

# System packages and services the real tests need (Docker engine, bubblewrap, the test image).
test-host:
	bash sandbox/host_setup.sh

test: $(EXTRAS) test-host
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache
