# acme.nas: two commands on a fresh Debian 12 machine (as root):
#   make test   every test tier (lint, ansible-test sanity, unit, integration); last line = pytest summary
#   make lab    the end-to-end lab (appliance, Cinder with the driver, smoke flows, report)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT    := $(abspath .)
VENV    := $(ROOT)/.venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.installed
COLL    := $(ROOT)/build/ansible_collections/acme/nas
APT_PKGS := $(shell grep -hv '^\#' appliance/container/host-packages.txt 2>/dev/null) shellcheck etcd-server etcd-client rabbitmq-server

export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/build
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help deps venv collection-link lint sanity sanity-matrix units-matrix molecule-matrix publish-checks release unit integration test coverage bench lab lab-negative lab-tempest lab-cluster lab-images lab-bench lab-down clean molecule ansible-test lab-verify

help:  ## this list (from the ## comment of each target)
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
	  sed -E 's/^([a-z-]+):[^#]*## (.*)/\1\t\2/' | sort | awk -F'\t' '{printf "make %-16s %s\n", $$1, $$2}'

deps:  ## Debian packages and container runtime configuration
	@# the services of these packages (etcd, RabbitMQ) are never started by apt: the tests start
	@# their own copies; a policy-rc.d that denies every start, for the install only
	@if [ -n "$(APT_PKGS)" ] && ! dpkg -s $(APT_PKGS) >/dev/null 2>&1; then \
	  echo "== apt-get install $(APT_PKGS)"; \
	  policy=/usr/sbin/policy-rc.d; own=; \
	  if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy && chmod 0755 $$policy && own=1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PKGS) >/dev/null; rc=$$?; \
	  if [ -n "$$own" ]; then rm -f $$policy; fi; \
	  exit $$rc; \
	fi
	@if [ -x appliance/container/configure-podman ]; then appliance/container/configure-podman; fi

$(STAMP): requirements-dev.txt constraints.txt appliance/pyproject.toml driver/pyproject.toml
	@echo "== virtualenv $(VENV)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@# pip's "WARNING: Location" lines are noise; a failed install still fails (pipefail)
	@$(PIP) install -q -r requirements-dev.txt -c constraints.txt 2>&1 | { grep -v '^WARNING: Location' || true; }
	@$(PIP) install -q --no-deps -e appliance -e driver 2>&1 | { grep -v '^WARNING: Location' || true; }
	@$(PY) -c 'import ansible, fastapi, cinder, acme_appliance, acme_cinder'
	@touch $@

venv: $(STAMP)  ## the project's virtualenv (.venv) with pinned requirements

collection-link:  ## ansible and ansible-test need the checkout under ansible_collections/acme/nas (+ requirements-collections.txt)
	@mkdir -p $(dir $(COLL))
	@ln -sfn $(ROOT) $(COLL)
	@ACME_PYTHON=$(PY) tests/compat/newer-collections.sh

lint: venv collection-link  ## ruff, shellcheck of every shell script, the simulator's import contracts, ansible-lint (lab/ and the rest)
	@echo "== ruff"
	@$(VENV)/bin/ruff check .
	@echo "== shellcheck"
	@tests/lint/shellcheck.sh
	@echo "== import contracts of the simulator (.importlinter)"
	@PYTHONPATH=appliance $(VENV)/bin/lint-imports --config .importlinter
	@echo "== ansible-lint (production profile): the lab (lab/), then the checkout without it"
	@tests/lint/ansible-lint.sh

sanity: venv collection-link  ## ansible-test sanity (ansible-core of .venv)
	@echo "== ansible-test sanity"
	@PATH=$(VENV)/bin:$$PATH tests/sanity/run.sh

sanity-matrix: deps venv collection-link  ## ansible-test sanity with ansible-core 2.20 and 2.21 (Debian 13 root in .cache/trixie)
	@tests/sanity/matrix.sh

units-matrix: deps venv collection-link  ## unit tests of the modules and client with ansible-core 2.20 and 2.21 (Debian 13 root)
	@tests/compat/units-matrix.sh

molecule-matrix: deps venv collection-link  ## molecule test -s cinder_backend, driver with ansible-core 2.20 and 2.21 (Debian 13 root)
	@echo "== molecule test, ansible-core 2.20 and 2.21"
	@tests/compat/molecule-matrix.sh

publish-checks: venv  ## the Galaxy tarball: ansible-lint production, galaxy-importer, antsibull-changelog lint
	@echo "== publish checks"
	@tests/publish/run.sh

RELEASE_DIR ?= $(ROOT)/dist

release: venv  ## one version's artifacts into dist/ (RELEASE_DIR=): collection tarball, driver wheel and sdist, SHA256SUMS
	@$(PY) tests/publish/release.py --output $(RELEASE_DIR)

unit: venv  ## pytest tests/unit (no services)
	@$(PY) -m pytest -q --ignore=tests/unit/plugins tests/unit

COVERAGE_ROOMS := --cov=acme_appliance --cov=acme_cinder --cov=ansible_collections.acme.nas.plugins

coverage: venv collection-link  ## line coverage per product room (simulator, driver, plugins) of the unit tier, tests/unit/plugins included
	@mkdir -p build/coverage
	@COVERAGE_FILE=build/coverage/.coverage $(PY) -m pytest -q -p no:cacheprovider $(COVERAGE_ROOMS) \
	  --cov-report= --cov-report=json:build/coverage/unit.json tests/unit
	@$(PY) tests/cov/rooms.py build/coverage/unit.json

integration: deps venv collection-link  ## pytest tests/integration (real simulator, ganesha, podman, etcd, RabbitMQ + Cinder services)
	@$(PY) -m pytest -q tests/integration

MOLECULE_SCENARIOS := appliance cinder_backend driver driver_trixie

molecule: deps venv collection-link  ## molecule test of the cheap scenarios (log: build/molecule/NAME.log)
	@echo "== molecule test"
	@mkdir -p build/molecule
	@for s in $(MOLECULE_SCENARIOS); do start=$$(date +%s); \
	  if PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule test -s $$s --no-command-borders >build/molecule/$$s.log 2>&1; \
	  then echo "molecule test -s $$s: passed in $$(( $$(date +%s) - start ))s"; \
	  else tail -60 build/molecule/$$s.log; echo "molecule test -s $$s: FAILED (build/molecule/$$s.log)"; exit 1; fi; done

ansible-test: deps venv collection-link  ## ansible-test units (tests/unit/plugins) and integration (tests/integration/targets)
	@echo "== ansible-test units"
	@tests/ansible-test/run.sh units
	@echo "== ansible-test integration (the modules against the simulator)"
	@tests/ansible-test/run.sh integration

test: deps venv collection-link lint sanity sanity-matrix units-matrix publish-checks molecule molecule-matrix ansible-test  ## every test tier (installs what it needs); last line = the pytest summary
	@echo "== pytest: unit + integration"
	@$(PY) -m pytest -p no:cacheprovider --ignore=tests/unit/plugins tests/unit tests/integration

bench: deps venv collection-link  ## benchmarks (appliance lookup, driver REST calls, modules)
	@$(PY) tests/bench/lookup_bench.py
	@$(PY) tests/bench/driver_bench.py
	@if [ -x tests/bench/modules_bench.sh ]; then tests/bench/modules_bench.sh; fi

lab: deps venv collection-link  ## the whole lab: lab/molecule/default create, converge, idempotence, side_effect, verify (timed), crash step, report (lab/README.md); root, Debian 12
	@lab/bin/lab-up

lab-negative: venv collection-link  ## after make lab: wrong password -> backend down, reason logged once; fixed -> up
	@test -s lab/state/inventory.yml || { echo "lab-negative: no lab (run make lab first)" >&2; exit 2; }
	@CONTAINERS_CONF=$(ROOT)/lab/state/containers.conf ANSIBLE_CONFIG=$(ROOT)/lab/ansible.cfg ANSIBLE_NOCOLOR=1 \
	  nsenter --net=/run/netns/acme-lab $(VENV)/bin/ansible-playbook -i lab/state/inventory.yml lab/playbooks/negative.yml

lab-tempest: venv collection-link  ## after make lab: tempest + cinder-tempest-plugin volume API tests inside the lab
	@lab/bin/lab-tempest

lab-cluster: venv  ## after make lab: the active-active flows (burst, clones, attach/detach across hosts, locks, fail-over, etcd paused)
	@lab/bin/lab-pytest tests/test_cluster.py

lab-images: venv  ## after make lab: the image path through Glance (volume from a raw and a qcow2 image, volume to image)
	@lab/bin/lab-pytest tests/test_images.py

lab-bench: venv collection-link  ## after make lab: benchmarks against Cinder's generic NFS driver; LAB_BENCH_ARGS=--help
	@lab/bin/lab-bench $(LAB_BENCH_ARGS)

lab-verify: venv collection-link  ## after make lab: cd lab && molecule verify -s default (testinfra on the volume hosts, compute host, controller)
	@test -s lab/state/inventory.yml || { echo "lab-verify: no lab (run make lab first)" >&2; exit 2; }
	@cd lab && PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule verify -s default --no-command-borders

lab-down: venv collection-link  ## cd lab && molecule destroy -s default: lab/bin/lab-down removes everything the lab started (the image cache in .cache/lab stays)
	@cd lab && PATH=$(VENV)/bin:$$PATH $(VENV)/bin/molecule destroy -s default --no-command-borders

clean:  ## remove build/ and tool caches
	rm -rf build dist .pytest_cache .ruff_cache
