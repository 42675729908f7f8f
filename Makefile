# pushgate: the one entry point. `make rehearse` and `make test` each do their own set-up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools
PIP    := --disable-pip-version-check --quiet

.PHONY: help venv tools lint typecheck test test-fast fuzz-inputs rehearse bench build validate docs-picture clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

# --- set-up ------------------------------------------------------------------------------
$(BIN)/.installed: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP) -r requirements/dev.txt
	$(BIN)/pip install $(PIP) --no-deps -e .
	touch $@

$(TOOLS)/sam/.installed: requirements/sam.txt
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install $(PIP) -r requirements/sam.txt
	touch $@

$(TOOLS)/checkov/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install $(PIP) -r requirements/checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(BIN)/.installed ## the development venv (.venv), editable install of pushgate

tools: $(TOOLS)/sam/.installed $(TOOLS)/checkov/.installed node_modules/.installed ## sam, checkov, asl-validator

# --- checks ------------------------------------------------------------------------------
lint: venv ## ruff (lint + format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv ## mypy --strict on the library, the CLI, the handlers and the tests
	$(BIN)/mypy layers/pushgate/pushgate cli/pushgate_cli functions migrations tests

test: venv tools lint typecheck ## every test: lint, types, unit, integration, statemachine, infra
	PATH="$(CURDIR)/$(TOOLS)/sam/bin:$(CURDIR)/$(TOOLS)/checkov/bin:$(CURDIR)/node_modules/.bin:$$PATH" \
	  $(BIN)/pytest

test-fast: venv ## every test but the infrastructure checks and the python3.13 smoke test
	$(BIN)/pytest -m "not infra and not smoke"

fuzz-inputs: venv ## the input property suite on a large sample (PUSHGATE_FUZZ_EXAMPLES, default 400); prints the counts
	PUSHGATE_FUZZ_EXAMPLES=$${PUSHGATE_FUZZ_EXAMPLES:-400} $(BIN)/pytest tests/statemachine/test_inputs.py -q

# --- the main job ------------------------------------------------------------------------
rehearse: venv ## the whole pipeline offline: healthy, then unhealthy; HTML reports in .pushgate/
	$(BIN)/pushgate rehearse --scenario healthy --html .pushgate/rehearsal-healthy.html
	$(BIN)/pushgate rehearse --scenario unhealthy --html .pushgate/rehearsal-unhealthy.html
	$(BIN)/pushgate rehearse --runner task --migrations examples/service --html .pushgate/rehearsal-task.html
	@echo "the Lambda runner refuses examples/service (its revisions import shop_api):"
	$(BIN)/pushgate rehearse --runner lambda --migrations examples/service; test $$? -eq 2

bench: venv tools ## the performance budget of a deploy (not part of `make test`)
	PATH="$(CURDIR)/$(TOOLS)/sam/bin:$$PATH" $(BIN)/pushgate bench

# --- deploy ------------------------------------------------------------------------------
validate: tools ## sam validate --lint
	$(TOOLS)/sam/bin/sam validate --lint

build: tools ## sam build (no Docker: the layer is built by its Makefile from Lambda wheels)
	PATH="$(CURDIR)/$(TOOLS)/sam/bin:$$PATH" $(TOOLS)/sam/bin/sam build

docs-picture: venv ## redraw docs/state-machine.svg from the definition (Graphviz)
	$(BIN)/python -m pushgate_cli.docs_picture

clean: ## remove build output and caches (keeps the venvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache bench-results
