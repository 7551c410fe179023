# The whole system in two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ALL_TIERS := unit,integration,kafka,e2e,contract

.PHONY: corpus-report contracts contracts-release help install run run-kafka test test-unit lint format system-deps kafka-jars node-deps workbench-assets bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install the project

run: install  ## Run every service in one process, embedded bus, SQLite under ./data
	$(BIN)/mash run

run-kafka: install system-deps kafka-jars  ## Run the services as separate processes on real Kafka + PostgreSQL
	$(BIN)/python -m devinfra.system

system-deps:  ## Install PostgreSQL, Java, Maven and Node.js from Debian if missing
	./scripts/ensure-system-deps.sh

kafka-jars: install  ## Fetch Apache Kafka's jars from Maven Central (cached)
	$(BIN)/python -m devinfra kafka-jars

# Stamp inside node_modules: reinstalls when node_modules is missing or older than the lock.
NODE_DEPS_STAMP := tools/asyncapi/node_modules/.installed-stamp
$(NODE_DEPS_STAMP): tools/asyncapi/package-lock.json
	npm ci --prefix tools/asyncapi --no-audit --no-fund
	touch $(NODE_DEPS_STAMP)

WORKBENCH_DEPS_STAMP := tools/workbench-assets/node_modules/.installed-stamp
$(WORKBENCH_DEPS_STAMP): tools/workbench-assets/package-lock.json
	npm ci --prefix tools/workbench-assets --no-audit --no-fund
	touch $(WORKBENCH_DEPS_STAMP)

node-deps: $(NODE_DEPS_STAMP) $(WORKBENCH_DEPS_STAMP)  ## Install the npm packages (AsyncAPI validator; GOV.UK Frontend and axe-core)

workbench-assets: $(WORKBENCH_DEPS_STAMP)  ## Re-vendor GOV.UK Frontend's dist into the workbench (after bumping it)
	rm -rf services/workbench/workbench/static/govuk && mkdir -p services/workbench/workbench/static/govuk
	cp tools/workbench-assets/node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.{css,js} services/workbench/workbench/static/govuk/
	cp -r tools/workbench-assets/node_modules/govuk-frontend/dist/govuk/assets services/workbench/workbench/static/govuk/

lint: install  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

format: install  ## Apply ruff's fixes
	$(BIN)/ruff check --fix .

test: install system-deps kafka-jars node-deps lint  ## Every test tier; fails if any tier skipped or ran nothing
	PACT_DO_NOT_TRACK=true MASH_REQUIRE_TIERS=$(ALL_TIERS) ./scripts/pytest-strict $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

test-unit: install  ## Only the unit tier (no servers)
	PACT_DO_NOT_TRACK=true MASH_REQUIRE_TIERS=unit ./scripts/pytest-strict $(BIN)/pytest tests/unit $(PYTEST_ARGS)

corpus-report: install  ## Precision and recall of the plain-words rules on policy/corpus/referrals.yaml
	$(BIN)/python -m mashcore.plainwords_corpus

contracts: install  ## Regenerate contracts/openapi/*.json and the topic table in contracts/README.md
	$(BIN)/python -m contracttools.openapi --write
	$(BIN)/python -m contracttools.asyncapi --write

contracts-release: install  ## Record current event schemas as released (refuses breaking changes)
	$(BIN)/python -m contracttools.compat --release

bench: install system-deps kafka-jars  ## Throughput, SLA timekeeper and /metrics-at-1M-rows benchmarks; writes bench/results/
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.sla
	$(BIN)/python -m bench.metrics

clean:  ## Remove the environment, caches and local data
	rm -rf $(VENV) .cache data .pytest_cache .mypy_cache .ruff_cache
