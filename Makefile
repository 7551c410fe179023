# The whole system in two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ALL_TIERS := unit,integration,kafka,e2e,contract

.PHONY: corpus-report contracts contracts-release help install run run-kafka test test-unit lint format system-deps kafka-jars node-deps bench clean

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

node-deps: $(NODE_DEPS_STAMP)  ## Install the AsyncAPI validator's npm packages (tools/asyncapi)

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
