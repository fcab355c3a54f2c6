# One entry point for people and CI. Every target bootstraps what it needs from nothing:
# a virtualenv from the pinned lock file, and contracts/node_modules from package-lock.json.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements/dev.lock
DATA   ?= .cityledger
# Test modules run in parallel, each whole in one worker (module fixtures start nodes once).
TEST_WORKERS ?= 2

CATALOGUES := $(wildcard ledger/locales/*/LC_MESSAGES/cityledger.po)
MESSAGES := $(CATALOGUES:.po=.mo)

.PHONY: up test lint format bench lock messages clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

up: $(VENV)/.installed contracts/node_modules/.installed $(MESSAGES) ## run the platform (embedded chain + demo accounts)
	$(BIN)/cityledger up --data-dir $(DATA)

test: $(VENV)/.installed contracts/node_modules/.installed $(MESSAGES) ## run the whole test suite
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.installed ## ruff (lint + format check), mypy and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: $(VENV)/.installed ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed contracts/node_modules/.installed ## chain benchmark (prints a table)
	$(BIN)/python -m scripts.bench chain $(BENCH_ARGS)

messages: $(VENV)/.installed ## re-extract the messages into the catalogues (then translate the new ones)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project CityLedger \
		--copyright-holder "CityLedger contributors" -o ledger/locales/cityledger.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -D cityledger \
		-i ledger/locales/cityledger.pot -d ledger/locales
	$(MAKE) $(MESSAGES)

# A catalogue edited since the last install (every install compiles them: hatch_build.py).
%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile -i $< -o $@

lock: ## re-resolve requirements/dev.lock from pyproject.toml
	$(BIN)/pip-compile --quiet --strip-extras --extra dev --no-emit-index-url --no-emit-find-links \
		-o $(LOCK) pyproject.toml

$(VENV)/.installed: $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r $(LOCK)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

contracts/node_modules/.installed: contracts/package-lock.json
	cd contracts && npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean: ## remove the virtualenv, node_modules and local chain data
	rm -rf $(VENV) contracts/node_modules $(DATA)
