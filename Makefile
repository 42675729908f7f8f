# pushgate: the one entry point. `make rehearse` and `make test` each do their own set-up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools
PIP    := --disable-pip-version-check --quiet

.PHONY: help venv tools lint typecheck test test-fast smoke-arm64 fuzz-inputs rehearse bench build validate docs-picture clean

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

# The 3.13 smoke test on the real aarch64 layer (`sam build`'s, built by its Makefile) with Debian's
# arm64 python3.13 under qemu-user (not in `make test`). Debian 12 has no python3.13: its next
# release's arm64 packages come with debootstrap --foreign (unpacked with dpkg -x, never configured:
# nothing of it runs but the interpreter), cached in .pushgate/arm64/root. binfmt_misc is not
# mounted here, so the interpreter is `qemu-aarch64-static -L ROOT` (a wrapper script). The
# interpreter's standard library is compiled once by this machine's python3.13 (the same 3.13 byte
# code; Debian's postinst would compile it). The runtime's SDK: the aarch64 wheels of runtime-sdk.txt.
ARM64      := $(CURDIR)/.pushgate/arm64
DEBIAN_MIRROR ?= http://deb.debian.org/debian
smoke-arm64: venv ## the 3.13 smoke test on the aarch64 layer under qemu-user (needs qemu-user-static, debootstrap; ~10 min)
	@command -v qemu-aarch64-static >/dev/null && command -v debootstrap >/dev/null || { \
	  echo "smoke-arm64: needs qemu-user-static and debootstrap (apt-get install qemu-user-static debootstrap)" >&2; \
	  exit 1; }
	@py313="$$($(BIN)/python -m pushgate_cli.lambda_python find)" || { \
	  echo "smoke-arm64: no CPython 3.13 on this machine (pyenv install 3.13.0)" >&2; exit 1; }; \
	if [ ! -x "$(ARM64)/root/usr/bin/python3.13" ]; then \
	  rm -rf "$(ARM64)/root"; \
	  debootstrap --arch=arm64 --foreign --variant=minbase --include=python3.13 trixie \
	    "$(ARM64)/root" "$(DEBIAN_MIRROR)"; \
	  for deb in "$(ARM64)"/root/var/cache/apt/archives/*.deb; do dpkg -x "$$deb" "$(ARM64)/root"; done; \
	  "$$py313" -m compileall -q -j 0 "$(ARM64)/root/usr/lib/python3.13" >/dev/null || true; \
	fi; \
	printf '#!/bin/sh\nexec qemu-aarch64-static -L "%s" "%s" "$$@"\n' \
	  "$(ARM64)/root" "$(ARM64)/root/usr/bin/python3.13" > "$(ARM64)/python3.13"; \
	chmod +x "$(ARM64)/python3.13"; \
	chmod -R u+w "$(ARM64)/layer" 2>/dev/null || true; rm -rf "$(ARM64)/layer" "$(ARM64)/runtime-sdk"; \
	$(MAKE) --no-print-directory -f layers/pushgate/Makefile build-PushgateLayer \
	  ARTIFACTS_DIR="$(ARM64)/layer"; \
	chmod -R a-w "$(ARM64)/layer"; \
	"$$py313" -m pip install --disable-pip-version-check --quiet --root-user-action=ignore \
	  --no-compile --only-binary=:all: --no-deps --implementation cp --python-version 3.13 \
	  --platform manylinux2014_aarch64 --target "$(ARM64)/runtime-sdk" \
	  -r layers/pushgate/runtime-sdk.txt; \
	"$$py313" -m compileall -q -j 0 "$(ARM64)/runtime-sdk" >/dev/null; \
	PUSHGATE_SMOKE_ARM64_PYTHON="$(ARM64)/python3.13" PUSHGATE_SMOKE_ARM64_LAYER="$(ARM64)/layer/python" \
	  PUSHGATE_SMOKE_ARM64_RUNTIME_SDK="$(ARM64)/runtime-sdk" \
	  $(BIN)/pytest tests/smoke/test_layer_py313.py -q

fuzz-inputs: venv ## the input property suite on a large sample (PUSHGATE_FUZZ_EXAMPLES, default 400); prints the counts
	PUSHGATE_FUZZ_EXAMPLES=$${PUSHGATE_FUZZ_EXAMPLES:-400} $(BIN)/pytest tests/statemachine/test_inputs.py -q

# --- the main job ------------------------------------------------------------------------
rehearse: venv ## the whole pipeline offline: healthy, then unhealthy; HTML reports in .pushgate/
	$(BIN)/pushgate rehearse --scenario healthy --html .pushgate/rehearsal-healthy.html
	$(BIN)/pushgate rehearse --scenario unhealthy --html .pushgate/rehearsal-unhealthy.html
	@# from below both revisions that import shop_api (its column type, its models): the service's own alembic applies them
	$(BIN)/pushgate rehearse --runner task --migrations examples/service --start-revision e7b2f9a4d6c8 --html .pushgate/rehearsal-task.html
	@echo "the Lambda runner refuses examples/service (its revisions import shop_api): exit 2, nothing run"
	$(BIN)/pushgate rehearse --runner lambda --migrations examples/service && exit 1 || test $$? -eq 2

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
