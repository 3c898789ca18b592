# oanm: the two commands a newcomer needs are `make run` and `make test`.
# The logic lives in scripts/; each target is one line so it can also be run by hand.

SHELL := /bin/bash
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup run test bench lint format stop clean-db

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

setup: ## install what is missing, start PostgreSQL+PostGIS and Redis, migrate (idempotent)
	@scripts/setup.sh

run: ## set up, load the demo town, serve on HOST:PORT (default 127.0.0.1:8000) with a worker
	@scripts/run.sh

test: ## set up (with Chromium), ruff, checks and the whole suite; pytest args via ARGS="..."
	@scripts/test.sh $(ARGS)

bench: ## set up, then run the benchmarks (python -m bench)
	@scripts/bench.sh $(ARGS)

lint: ## ruff check and ruff format --check
	@scripts/setup.sh --python-only >/dev/null
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: ## ruff format and the safe ruff fixes
	@scripts/setup.sh --python-only >/dev/null
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

stop: ## stop the project's own web server, worker, Redis and PostgreSQL
	@scripts/stop.sh

clean-db: ## drop the project's own local database (asks first; OANM_YES=1 does not)
	@scripts/clean-db.sh
