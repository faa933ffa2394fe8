# One entry point for people and CI. `make test` and `make demo` install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS_HASH := $(shell cat requirements-dev.lock | sha1sum | cut -c1-12)
STAMP := $(VENV)/.deps-$(DEPS_HASH)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: install chromium test test-fast lint demo dev bench chaos-full fuzz-full clean

$(STAMP): requirements-dev.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.lock
	@rm -f $(VENV)/.deps-*; touch $@

install: $(STAMP)

# Browser tests drive Debian's Chromium (playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml

# cfn-lint and the SAM translator run inside pytest (tests/unit/template, tests/deploy).
test: install chromium deploy-checks
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	node --test tests/web/*.test.mjs
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "unit" $(PYTEST_ARGS)

dev: install
	$(PY) -m local_stack

demo: install
	$(PY) -m marketplace_cli demo

bench: install
	$(PY) benchmarks/run_all.py

# Issue 6 at full size (docs/RELIABILITY.md): 1,000 cells under every fault kind; longer fuzzing.
chaos-full: install
	$(PY) benchmarks/chaos_run.py --angles 25 --colors 39 --json test-artifacts/chaos-1000-cells.json

fuzz-full: install
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-500} $(PY) -m pytest tests/fuzz tests/unit/api/test_source_url_properties.py -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) out test-artifacts .pytest_cache .ruff_cache .mypy_cache $(DEPLOY_CHECKS_OUTPUTS)

# --- Deploy checks: AWS's own offline checks, asserted by tests/deploy (pytest marker `deploy`). ---
# prepare.py installs the Step Functions language service (npm ci of tests/deploy/package-lock.json),
# SAM CLI into .venv-sam (tests/deploy/sam-requirements.lock) and runs `sam build` (python3.13/arm64,
# no container) into .aws-sam/build, where `sam deploy` looks; each step is skipped while its inputs'
# hash is unchanged.
DEPLOY_CHECKS_OUTPUTS := .venv-sam .aws-sam tests/deploy/node_modules
.PHONY: deploy-checks sam-build

deploy-checks: install
	$(PY) tests/deploy/prepare.py

sam-build: install
	$(PY) tests/deploy/prepare.py sam-build
