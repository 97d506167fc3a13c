# Healthboard developer commands. Two matter most:
#   make demo   virtualenv + install + migrate + sample config + demo users, then web + worker + beat
#   make test   ruff, migration check and the whole pytest suite (SQLite unless DATABASE_URL is set)

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first Python >= 3.11 on PATH (override: make PYTHON=/path/to/python3.12 ...).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
SAMPLE_CONFIG ?= catalog/fixtures/sample_config.yaml
DEMO_ADDR ?= 127.0.0.1
DEMO_PORT ?= 8000
# Days of demo telemetry to store and hours of history to compute before the processes start;
# beat computes the rest in the background. The full demo: make demo DEMO_DAYS=14 DEMO_COMPUTE_HOURS=24
DEMO_DAYS ?= 3
DEMO_COMPUTE_HOURS ?= 6
# pytest-xdist workers for the main run ("auto" = one per core); browser tests run serially.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

.PHONY: help venv demo test lint format migrate bench bench-ingest clean distclean

help:
	@echo "make demo      set up (venv, install, migrate, sample config, demo users) and run web + worker + beat"
	@echo "make test      ruff check, ruff format --check, makemigrations --check, pytest (all of it)"
	@echo "make lint      ruff check + ruff format --check"
	@echo "make format    ruff format + ruff check --fix"
	@echo "make migrate   apply database migrations"
	@echo "make bench     run the benchmark scripts in tests/bench/ (bench-ingest: the ingestion one alone)"
	@echo "make load      the two-tenant load run (tests/load/two_tenants.py; LOAD_ARGS=...)"
	@echo "make fuzz      the long API fuzz (schemathesis) and ingest property run (FUZZ_EXAMPLES=...)"
	@echo "make clean     remove var/, test artifacts and caches (distclean: also .venv)"

# Re-created/re-installed only when pyproject.toml changes.
venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
		echo "error: Healthboard needs Python >= 3.11; none found on PATH (set PYTHON=...)." >&2; exit 1; fi
	@if [ ! -x $(BIN)/python ]; then \
		echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) -V 2>&1))"; \
		$(PYTHON) -m venv $(VENV) || { \
			echo "error: '$(PYTHON) -m venv' failed. On Debian/Ubuntu: apt-get install python3-venv" >&2; \
			rm -rf $(VENV); exit 1; }; \
	fi
	@# --no-compile: bytecode is written on first import instead (halves the install time)
	$(BIN)/python -m pip install --quiet --no-compile -e '.[dev]'
	@touch $(STAMP)

migrate: venv
	$(MANAGE) migrate --noinput

demo: venv
	$(MANAGE) migrate --noinput
	@if $(MANAGE) help apply_config >/dev/null 2>&1; then \
		$(MANAGE) apply_config $(SAMPLE_CONFIG); \
	else \
		echo "warning: manage.py apply_config does not exist yet; the sample config was NOT loaded." >&2; \
	fi
	$(MANAGE) seed_demo --telemetry --days $(DEMO_DAYS) --compute-hours $(DEMO_COMPUTE_HOURS)
	@echo
	@echo "Open http://$(DEMO_ADDR):$(DEMO_PORT)/ and log in as 'admin' (password above). Ctrl-C stops everything."
	$(MANAGE) run_demo --addr $(DEMO_ADDR) --port $(DEMO_PORT) --simulate

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MANAGE) makemigrations --check --dry-run
	$(PYTEST) -n $(PYTEST_WORKERS) -m "not browser" --durations=10 $(PYTEST_ARGS)
	@# Browser tests drive one Chromium each: run them serially. Exit 5 = none collected.
	$(PYTEST) -m browser $(PYTEST_ARGS); status=$$?; [ $$status -eq 5 ] && status=0; exit $$status

# Every tests/bench/*.py script (not test_*.py, which pytest collects) in name order.
bench: venv
	@if [ ! -d tests/bench ]; then echo "No tests/bench/ yet: nothing to run."; exit 0; fi; \
	scripts=$$(find tests/bench -maxdepth 1 -name '*.py' ! -name '_*' ! -name 'test_*' ! -name 'conftest.py' | sort); \
	if [ -z "$$scripts" ]; then echo "No benchmark scripts in tests/bench/."; exit 0; fi; \
	for script in $$scripts; do echo "== $$script"; PYTHONPATH=$(CURDIR) $(BIN)/python $$script || exit $$?; done

bench-ingest: venv
	PYTHONPATH=$(CURDIR) $(BIN)/python tests/bench/bench_ingest.py

clean:
	rm -rf var test-artifacts .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

# Two tenants against gunicorn + a private PostgreSQL for 20 + 60 s: one at 10x its rate limit,
# one under it (tests/load/two_tenants.py --help for the knobs, e.g. LOAD_ARGS="--limit 600").
.PHONY: load
load: venv
	PYTHONPATH=$(CURDIR) $(BIN)/python tests/load/two_tenants.py $(LOAD_ARGS)

# The API fuzzer (schemathesis, tests/test_api_fuzz.py) and the ingest property tests
# (Hypothesis, tests/test_ingest_properties.py), longer and randomised: the suite runs them
# small and deterministic. Examples per operation and phase, stateful scenarios, examples per property.
FUZZ_EXAMPLES ?= 100
FUZZ_STATEFUL_EXAMPLES ?= 200
FUZZ_PROPERTY_EXAMPLES ?= 5000
.PHONY: fuzz
fuzz: venv
	@mkdir -p var && rm -f var/fuzz-requests
	FUZZ_RANDOM=1 FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_STATEFUL_EXAMPLES=$(FUZZ_STATEFUL_EXAMPLES) \
	FUZZ_PROPERTY_EXAMPLES=$(FUZZ_PROPERTY_EXAMPLES) FUZZ_STATS=$(CURDIR)/var/fuzz-requests \
	$(PYTEST) -n 2 --durations=5 tests/test_api_fuzz.py tests/test_ingest_properties.py $(PYTEST_ARGS); \
	status=$$?; echo "API requests sent: $$(awk '{n += $$1} END {print n + 0}' var/fuzz-requests 2>/dev/null)"; \
	exit $$status
