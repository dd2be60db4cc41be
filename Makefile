# ModelGate: `make run` starts everything on a fresh machine; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test install install-dev lint fmt check browser-deps sandbox-deps bench clean worker web

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall only when the pinned requirements change.
$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install sandbox-deps
	@$(PY) manage.py migrate --no-input -v0
	@$(PY) manage.py demo
	@bash webapp/run.sh "$(HOST)" "$(PORT)"

# Debian's Chromium drives the browser tests (Playwright cannot download its own here).
browser-deps:
	@test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium for browser tests..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# bubblewrap isolates the validation of uploaded models (no network, no view of var/). Without
# it (no apt, no root) ModelGate falls back to a plain child process and says so in /readyz.
sandbox-deps:
	@test -x /usr/bin/bwrap || { \
	  echo "Installing bubblewrap to sandbox model validation..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	  { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq bubblewrap >/dev/null; } \
	    || echo "Could not install bubblewrap: models will be validated without isolation."; }

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: install-dev
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Tests keep their own var/ (SQLite file, broker folders) so a running `make run` is untouched.
test: export MODELGATE_VAR_DIR ?= $(CURDIR)/var/test
test: install-dev browser-deps sandbox-deps lint check
	$(VENV)/bin/pytest

bench: install-dev
	@ls bench/*.py >/dev/null 2>&1 && for b in bench/*.py; do $(PY) $$b; done || echo "no benchmarks yet"

clean:
	rm -rf var/test .pytest_cache .mypy_cache .ruff_cache
