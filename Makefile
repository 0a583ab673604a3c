# The two commands: `make run` and `make test`. Both set everything up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export WEB_HOST := $(HOST)
export WEB_PORT := $(PORT)

RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: help run status test bench bench-profile lint preflight system-deps

help:
	@echo "make run    set up, migrate, load demo data, start web + worker + beat"
	@echo "make status the state of make run's web, worker and beat (from another terminal)"
	@echo "make test   set up and run the whole test suite"
	@echo "make bench  run the benchmarks and print the figures (beside this machine's yardsticks)"
	@echo "make lint   ruff"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --progress-bar off -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --progress-bar off -e ".[dev]"
	@touch $@ $(RUNTIME_STAMP)

# Chromium for the browser tests and docker-compose to validate docker-compose.yml come
# from Debian's packages. As root they are installed when missing; otherwise the suite
# says what is missing (and fails under CI=true).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing$$missing with apt-get"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
				|| { echo "apt-get could not install$$missing"; exit 1; }; \
		else \
			echo "NOTE: missing$$missing (not root, so not installed); the tests that need them will say so."; \
		fi; \
	fi

preflight: $(RUNTIME_STAMP)
	@$(BIN)/python manage.py preflight --create-database

# DEBUG is off unless set (production refuses the development secrets); the two commands
# run on a development machine, so they turn it on (an explicit DEBUG=false still wins).
run test bench bench-profile preflight: export DEBUG ?= true
# Links and callbacks the desk hands out (survey links, call invitations, the voice provider's
# callbacks) point at the address `make run` serves, whatever PORT is (unless set).
run: export DESK_PUBLIC_URL ?= http://$(if $(filter 0.0.0.0,$(HOST)),127.0.0.1,$(HOST)):$(PORT)

run: $(RUNTIME_STAMP) preflight
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "  Support desk: http://$(HOST):$(PORT)/   (admin: /admin/, API docs: /api/docs/)"
	@echo "  Agents:       http://$(HOST):$(PORT)/desk/   live view: /desk/live/"
	@echo "  Customers:    http://$(HOST):$(PORT)/widget/demo/   (the chat widget on a demo shop page)"
	@echo "  Demo logins:  supervisor / supervisor    agents: agent.en, agent.es, ... / agent"
	@echo "  Mailbox:      http://$(HOST):$(PORT)/desk/mailbox/   (supervisors: the emails the desk sent, kept by the local SMTP sink on :8025; the fake OMS answers on :9000)"
	@echo "  Email:        mail to support@supportdesk.local by SMTP on :2525 becomes an email conversation; try: $(BIN)/python manage.py demo_email"
	@echo "  WhatsApp:     $(BIN)/python manage.py demo_whatsapp --url http://$(HOST):$(PORT)   (a customer's message; the fake provider on :9100 reports the reply's statuses)"
	@echo "  Voice:        $(BIN)/python manage.py demo_call --url http://$(HOST):$(PORT) [--language 2] [--callback] [--hangup-after 30]   (a customer's call through the simulator on :9200)"
	@echo "  Workflows:    http://$(HOST):$(PORT)/admin/workflows/   see the recovery workflow act on an OMS delay: $(BIN)/python manage.py demo_order_delay --url http://$(HOST):$(PORT)"
	@echo "  A process that dies is started again (supportdesk/supervisord.conf). Stop with Ctrl-C."
	@echo
	@mkdir -p $(VENV)/run
	RUN_BIN=$(abspath $(BIN)) RUN_DIR=$(abspath $(VENV))/run $(BIN)/supervisord -c supportdesk/supervisord.conf

# The state of `make run`'s processes (run from another terminal while it runs).
status:
	@RUN_DIR=$(abspath $(VENV))/run $(BIN)/supervisorctl -c supportdesk/supervisord.conf status

# One process by default. `make test TEST_WORKERS=auto` runs the suite on every core (pytest-xdist);
# each worker has its own test database, Redis key prefix and Celery queue (pyproject.toml). On a
# busy 2-core machine a browser test's 5 s expectations can run out in parallel, so it is opt-in.
TEST_WORKERS ?= 0
test: $(DEV_STAMP) system-deps
	@$(BIN)/python manage.py preflight
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(TEST_WORKERS)

# Every benchmark runs even when one misses its target; make bench fails at the end if any did.
bench: $(DEV_STAMP) preflight
	@failed=""; \
	for bench in oms_ingest routing livechat timeline workflows channels reports intents helpcenter; do \
		echo "$(BIN)/python -m tests.bench.$$bench"; \
		$(BIN)/python -m tests.bench.$$bench || failed="$$failed $$bench"; \
	done; \
	if [ -n "$$failed" ]; then echo "make bench: missed a target or a check:$$failed"; exit 1; fi

# Where a routing decision's round trips and CPU go (statements listed, cProfile of the Python).
bench-profile: $(DEV_STAMP) preflight
	$(BIN)/python -m tests.bench.profiling

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
