# The daily commands. Every target creates the virtualenv (.venv) when it is missing.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help run test lint check format bench soak migrate services venv demo-staff
.DEFAULT_GOAL := help

## help: list these targets (what `make` alone does)
help:
	@awk '/^## [a-z-]+: / { line = substr($$0, 4); name = substr(line, 1, index(line, ":") - 1); \
	      printf "  %-12s %s\n", name, substr(line, length(name) + 3); next } \
	      /^## / { printf "  %-12s %s\n", "", substr($$0, 4) }' $(firstword $(MAKEFILE_LIST))

## venv: create .venv from requirements.txt (again when requirements.txt changes)
venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

# A secret key for this checkout, made once and kept out of git.
.env:
	@echo "SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' 2>/dev/null || python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env
	@echo "wrote .env with a new SECRET_KEY"

## services: start PostgreSQL and RabbitMQ on this machine when they are not running
services:
	@bash scripts/ensure_services.sh

## migrate: create the database named by DATABASE_URL when missing, and migrate it
migrate: venv .env services
	$(BIN)/python manage.py ensure_database
	$(BIN)/python manage.py migrate --no-input

## demo-staff: a Manager account for /admin/ (created once, never reset; every run prints its name and how to set a new password)
demo-staff: migrate
	$(BIN)/python manage.py create_demo_staff --force

## run: set up everything (the demo menu the first time) and start web (on $PORT), relay, workers and subscriber (Procfile)
## under restaurant/supervise.py (a process that exits is restarted; Ctrl-C gives each STOP_TIMEOUT=30 s to finish);
## KITCHEN_WORKERS=0 starts no simulated cooks (people cook from the screens);
## log lines as readable text (LOG_FORMAT=json for SPEC §7's JSON lines); the admin links the display at $PORT + 500
KITCHEN_WORKERS ?=
STOP_TIMEOUT ?= 30
run: migrate demo-staff
	$(BIN)/python manage.py load_menu menu/demo_menu.json --if-empty
	LOG_FORMAT=$${LOG_FORMAT:-console} DISPLAY_URL=$${DISPLAY_URL-http://localhost:$$(($(PORT) + 500))} \
		exec $(BIN)/python -m restaurant.supervise -f Procfile -p $(PORT) --stop-timeout $(STOP_TIMEOUT) \
		$(if $(filter 0,$(KITCHEN_WORKERS)),--skip 'worker_*')

## test: set up and run the test suite against the real PostgreSQL and RabbitMQ, in TEST_WORKERS
## pytest-xdist workers (each with a database and a vhost of its own); TEST_WORKERS=0 runs it in one process
TEST_WORKERS ?= 3
test: venv services
	@bash scripts/ensure_browser.sh
	$(BIN)/pytest -n $(TEST_WORKERS)

## lint: ruff (rules and formatting), then everything `make check` checks
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(MAKE) --no-print-directory check

## check: Django's system checks, no model change without its migration, the OpenAPI schema valid
## (no database or broker needed: SECRET_KEY is the only setting without a default)
# makemigrations also compares the database's migration history when it reaches one; without one
# it only warns, and that warning is silenced: the check itself needs no database.
CHECK_ENV := SECRET_KEY=check
check: venv
	$(CHECK_ENV) $(BIN)/python manage.py check --fail-level WARNING
	$(CHECK_ENV) $(BIN)/python -W "ignore:Got an error checking a consistent migration history:RuntimeWarning" \
	  manage.py makemigrations --check --dry-run
	@schema=$$(mktemp -d) && trap 'rm -rf "$$schema"' EXIT && \
	  $(CHECK_ENV) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file "$$schema/openapi.yaml" && \
	  echo "OpenAPI schema: valid, no warnings"

## format: rewrite the code as `make lint` wants it (ruff format, ruff check --fix)
format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: throughput and latency figures (see docs/benchmarks.md), in a database and vhost of its own;
## BENCH_BASELINE=<git ref> runs that ref's code side by side (e.g. make bench BENCH_BASELINE=main);
## options through BENCH_ARGS, e.g. make bench BENCH_ARGS="--duration 3" or BENCH_ARGS="--soak 600";
## BENCH_ARGS="--phases slots": the intake with kitchen capacity slots on against off, at c=50 and 200
BENCH_BASELINE ?=
bench: venv services
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python scripts/bench.py $(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE)) $(BENCH_ARGS)

## soak: issue 17's soak (scripts/soak.py, not part of `make test`): 10 minutes of orders at 50/s through the
## whole stack under restaurant/supervise.py while poison messages are published and a worker, the relay and
## the display are killed; exits 1 if an order is lost or doubled, a poison message missed or a process left
## dead; options through SOAK_ARGS, e.g. make soak SOAK_ARGS="--minutes 1 --rate 20"
SOAK_ARGS ?=
soak: venv services
	$(BIN)/python scripts/soak.py $(SOAK_ARGS)
