# Lotsen: `make run` sets everything up and starts the demo; `make test` sets up and tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON311 ?= $(shell command -v python3.11 || command -v python3)
PYENV_ROOT ?= $(HOME)/.pyenv
# Rasa 3.6 needs Python 3.10: the newest pyenv 3.10, else a python3.10 on PATH that really runs.
PYTHON310 ?= $(shell for p in $$(ls -d $(PYENV_ROOT)/versions/3.10*/bin/python3.10 2>/dev/null | sort -V -r) $$(command -v python3.10); do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null && echo "$$p" && break; done)
VENV := .venv
RASA_VENV := .venv-rasa
LOTSEN := $(VENV)/bin/lotsen
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: help setup run chat bot test test-fast lint bench eval clean

help:
	@echo "make run    – set everything up and start Lotsen (console chat without a Telegram token)"
	@echo "make test   – set everything up and run the whole test suite"
	@echo "make setup  – environments, database, model (skips what is already done)"
	@echo "make test-fast – the fast loop: no Rasa, no browser, no soak (about a minute)"
	@echo "make lint   – ruff and mypy"
	@echo "make eval   – routing quality on the development sets"
	@echo "make bench  – benchmarks (prints figures, writes var/bench.json)"

# The app environment (Python 3.11) – reinstalled only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON311) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_QUIET) --upgrade pip
	$(VENV)/bin/python -m pip install $(PIP_QUIET) -e '.[dev]'
	@touch $@

# The Rasa environment (Python 3.10, exact lock) – reinstalled only when the lock changes –
# with Lotsen's Rasa-side package rasa/lotsen_rasa (editable: code changes need no reinstall).
$(RASA_VENV)/.installed: rasa/rasa-3.6.21-py310.lock rasa/rasa-3.6.21-py311.lock rasa/pyproject.toml
	@if [ -n "$(PYTHON310)" ]; then \
	  test -x $(RASA_VENV)/bin/python || $(PYTHON310) -m venv $(RASA_VENV); \
	  $(RASA_VENV)/bin/python -m pip install $(PIP_QUIET) --upgrade pip; \
	  $(RASA_VENV)/bin/python -m pip install $(PIP_QUIET) -r rasa/rasa-3.6.21-py310.lock; \
	else \
	  echo "Python 3.10 not found; installing Rasa's Python 3.11 package set instead"; \
	  test -x $(RASA_VENV)/bin/python || $(PYTHON311) -m venv $(RASA_VENV); \
	  $(RASA_VENV)/bin/python -m pip install $(PIP_QUIET) --no-deps --ignore-requires-python -r rasa/rasa-3.6.21-py311.lock; \
	fi
	$(RASA_VENV)/bin/python -m pip install $(PIP_QUIET) --no-deps -e rasa/
	@touch $@

setup: $(VENV)/.installed $(RASA_VENV)/.installed
	@mkdir -p var
	@$(VENV)/bin/python -m bot.i18n compile
	@$(LOTSEN) db upgrade
	@$(LOTSEN) db seed
	@$(LOTSEN) desk demo-accounts
	@$(LOTSEN) train

run: setup
	@$(LOTSEN) run

chat: setup
	@$(LOTSEN) chat

test: setup
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

# The fast loop: domain, database, rendering, CLI and lint; no Rasa, no browser, no soak.
test-fast: $(VENV)/.installed
	@mkdir -p var
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check bot db harness tests bench
	$(VENV)/bin/ruff format --check bot db harness tests bench
	$(VENV)/bin/mypy bot db harness bench

eval: setup
	$(LOTSEN) eval --jsonl ../shared/reference/eval-dev.jsonl --jsonl ../shared/reference/eval-dev-multilingual.jsonl --jsonl eval/out-of-scope-dev.jsonl --jsonl eval/untrained-languages-dev.jsonl

bench: setup
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(RASA_VENV) models var
	rm -f bot/i18n/locale/*/LC_MESSAGES/*.mo
