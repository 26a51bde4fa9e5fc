# mathesar.deploy: lint, test and demo from one place. The controller venv lives at .venv.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# Scenarios of `make test` (the plan in tests/testbed/run-scenarios.sh by default), or one: make test SCENARIO=same_host
SCENARIO ?=
# Debian suites of the single-host scenarios same_host and hardening, e.g. SUITES="bookworm trixie" (default:
# same_host on trixie, hardening on bookworm; the others run on trixie). Passed to tests/testbed/run-scenarios.sh
# from the command line.
# Scenario lanes run at once (tests/testbed/run-scenarios.sh): 2 by default (measured 1.6-1.7 times the work per
# minute on 2 cores), JOBS=1 for one scenario after the other with its output on the console.
INVENTORY ?= inventories/example
# The group_vars folder that holds the vault.
GROUP ?= all

.PHONY: help venv lint docs unit test scenarios demo demo-destroy vault build clean

help:
	@echo "make demo          provision a local Debian 13 container as the VPS (same-host layout)"
	@echo "make test          lint, unit tests and every Molecule scenario (SCENARIO=name for one)"
	@echo "make lint          yamllint, ansible-lint, requirements and collection build"
	@echo "make vault         create the vault with random secrets (INVENTORY=$(INVENTORY) GROUP=$(GROUP))"

venv:
	@tests/testbed/venv.sh

lint: venv
	$(BIN)/yamllint --strict .
	$(BIN)/python scripts/role-docs.py --check
	$(BIN)/ansible-lint --offline
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.cache/collections $(BIN)/ansible-galaxy collection install --offline -r requirements.yml
	$(BIN)/ansible-galaxy collection build --force --output-path .cache/build >/dev/null
	@echo "lint: ok"

# The roles' README variable sections, from their meta/argument_specs.yml.
docs: venv
	$(BIN)/python scripts/role-docs.py

unit: venv
	$(BIN)/pytest -q -rs tests/unit tests/preflight

scenarios: venv
	@tests/testbed/run-scenarios.sh $(if $(SCENARIO),$(SCENARIO),) 

# The base images build in the background (log: .cache/logs/base-images.log) while the venv and lint run; the unit
# and preflight tests then run in lane 2, before its scenarios (WITH_UNIT in run-scenarios.sh).
test:
	@mkdir -p .cache/logs
	@tests/testbed/base-images.sh > .cache/logs/base-images.log 2>&1 & images=$$!; \
	  $(MAKE) --no-print-directory lint; rc=$$?; \
	  wait $$images || echo "test: a base image build failed (.cache/logs/base-images.log); run-scenarios retries it"; \
	  [ $$rc -eq 0 ] && WITH_UNIT=1 $(MAKE) --no-print-directory scenarios

demo: venv
	@tests/testbed/demo.sh up

demo-destroy: venv
	@tests/testbed/demo.sh down

vault:
	@scripts/create-vault.sh $(INVENTORY) $(GROUP)

build: venv
	$(BIN)/ansible-galaxy collection build --force

clean:
	rm -rf .cache
