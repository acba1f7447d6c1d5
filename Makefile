# Ticketing — the commands of the README. Every target installs what it needs:
# uv (bootstrapped with pip into .tools/ when it is not on PATH), then the locked workspace.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
# Bytecode compiled once at install, as in the image: where PYTHONDONTWRITEBYTECODE is set (this
# machine sets it), every process otherwise compiled every import from source, every start
# (a service's imports: 6.1 s instead of 3.0; make dev, cold or warm: 35 s instead of 13 to 19).
export UV_COMPILE_BYTECODE := 1
RUN := $(UV) run --all-packages --locked
SRC := common/src testkit/src $(wildcard services/*/src) $(wildcard tools/*/src) benchmarks

TICKETING_PORT ?= 8080
TICKETING_DATA_DIR ?= .dev
EXPIRATION_WINDOW_SECONDS ?= 900
TICKETING_REPLICAS ?= 1
export TICKETING_PORT TICKETING_DATA_DIR EXPIRATION_WINDOW_SECONDS TICKETING_REPLICAS

.PHONY: help install runtime dev dev-reset dev-seed dev-metrics test test-unit test-integration test-faults test-browser
.PHONY: lint fmt bench screenshots clean contracts

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv>=0.13,<0.14"

install: $(UV) ## install the locked workspace into .venv
	$(UV) sync --all-packages --locked --quiet

# make dev: every process (PostgreSQL, NATS and Redis too) is a child of one supervisor that
# restarts what exits; `touch $(TICKETING_DATA_DIR)/hold/<process>` before stopping one on purpose
# (a planned outage) and it stays down until the file is removed (README, "What make dev runs").
# make dev runs on .venv-runtime: the workspace without the dev group, what the images install.
# The dev tools' packages are imported by the runtime's where present (structlog loads rich and
# pygments when it finds them: ~4 MiB in each of a dozen processes), and a runtime dependency
# declared only through a dev tool would work here and fail in the image. The venv's python
# straight after the install: `uv run` would stay a parent process (31 MiB) for the session.
RUNTIME_PYTHON := $(CURDIR)/.venv-runtime/bin/python
runtime: $(UV) ## install the locked workspace without the dev tools into .venv-runtime (make dev's)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/.venv-runtime $(UV) sync --all-packages --locked --no-dev --quiet

dev: runtime ## run the whole platform on http://localhost:$(TICKETING_PORT)
	$(RUNTIME_PYTHON) -m ticketing.devstack up

dev-seed: install ## create demo users and tickets in a running `make dev`
	$(RUN) python -m ticketing.devstack seed

dev-metrics: install ## the key figures of a running `make dev` (live page: /dev/metrics)
	$(RUN) python -m ticketing.devstack.metricspage http://127.0.0.1:$(TICKETING_PORT)

dev-reset: ## wipe the data of `make dev`
	rm -rf "$(TICKETING_DATA_DIR)"

lint: install ## ruff (lint + format check), mypy and the layering contracts (lint-imports)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy $(SRC)
	$(RUN) lint-imports

fmt: install ## format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

# Markers (pyproject.toml) are applied by the root conftest.py: unit, integration, browser, faults.
# The browser tests run in a pytest process of their own (CONTRIBUTING.md); `make test` appends
# their coverage to the main run's and reports both together. The main run spreads its test
# files over PYTEST_WORKERS processes (pytest-xdist; most tests wait on servers, not the CPU).
PYTEST_WORKERS ?= 2
test: lint ## lint, every test (browser included; not the fault suite), coverage report
	$(RUN) pytest -q -n $(PYTEST_WORKERS) --dist loadfile --ignore=tests/browser --ignore=tests/faults --cov --cov-report=
	$(RUN) pytest -q tests/browser --cov --cov-append --cov-report=term --cov-report=xml --cov-report=html

test-unit: install ## the unit tests: beside their code, no PostgreSQL/NATS/Redis
	$(RUN) pytest -q -m unit --ignore=tests/browser

test-integration: install ## the integration tests (real infrastructure, several services, deployment)
	$(RUN) pytest -q -m integration --ignore=tests/browser --ignore=tests/faults

# The fault suite (tests/faults, docs/reliability.md): make dev with 2 replicas under load, hurt
# for real; minutes long, so `make test` leaves it out and `.ci/run` runs it after.
test-faults: install ## the fault suite: make dev, 2 replicas, load, kills, outages; writes docs/reliability.md
	$(RUN) pytest -q tests/faults

test-browser: install ## the browser tests (Chromium driven by Playwright)
	$(RUN) pytest -q tests/browser

# wrk is Debian's (apt-get, as .ci/run installs Chromium); the flows that need state use an asyncio
# driver of benchmarks/load.py.
bench: install runtime ## the platform as make dev runs it against bare baselines -> docs/performance.md
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	TICKETING_RUNTIME_PYTHON=$(RUNTIME_PYTHON) $(RUN) python -m benchmarks.run

contracts: install ## regenerate docs/contracts/ (event JSON Schemas, OpenAPI of each API)
	$(RUN) python -m ticketing.devstack.contracts

screenshots: install ## regenerate docs/screenshots/*.png
	SCREENSHOTS=1 $(RUN) pytest -q tests/browser

clean: ## remove caches and the local venvs
	rm -rf .venv .venv-runtime .tools .pytest_cache .mypy_cache .ruff_cache .coverage coverage.xml htmlcov
