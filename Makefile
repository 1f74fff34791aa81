# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DEMO_DIR := demo

.PHONY: demo demo-impact test test-long lint typecheck unit bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# One full agent cycle on the example config: SQLite and the built-in simulated ad platform.
demo: $(STAMP)
	mkdir -p $(DEMO_DIR)
	sed 's#sqlite:///paid_media_agent.db#sqlite:///$(CURDIR)/$(DEMO_DIR)/paid_media_agent.db#' config.example.yaml > $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent config check --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent db upgrade --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent run --once --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent actions list --status pending_approval --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent sim crm-export --out $(DEMO_DIR)/crm-export.csv --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent outcomes import $(DEMO_DIR)/crm-export.csv --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent report dashboard --out $(DEMO_DIR)/dashboard.html --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent report pacing --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent report outcomes --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent report segments --dimension placement --proposals --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent report segments --dimension device --proposals --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent report segments --dimension company_size --proposals --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent segments list --config $(DEMO_DIR)/config.yaml
	$(BIN)/paid-media-agent segments suggest --account acme-search --config $(DEMO_DIR)/config.yaml
	@echo
	@echo "== Impact: twelve more simulated days with randomized holdouts, then what the actions earned"
	$(MAKE) --no-print-directory demo-impact
	@echo
	@echo "Results: database $(DEMO_DIR)/paid_media_agent.db, dashboard $(DEMO_DIR)/dashboard.html, config $(DEMO_DIR)/config.yaml"
	@echo "  $(BIN)/paid-media-agent actions list --config $(DEMO_DIR)/config.yaml"
	@echo "  $(BIN)/paid-media-agent sim show --config $(DEMO_DIR)/config.yaml"
	@echo "  $(BIN)/paid-media-agent report outcomes --by ad_set --config $(DEMO_DIR)/config.yaml"
	@echo "  $(BIN)/paid-media-agent actions approve ID --config $(DEMO_DIR)/config.yaml"
	@echo "  $(BIN)/paid-media-agent backtest --days 30"
	@echo "  make demo-impact    (the impact part again: 12 simulated days, what the actions earned, 90% intervals)"

# Randomized holdouts on the simulator: 12 simulated days (about a CPU-minute; a few minutes on a busy machine), then the impact report
# with its 90% intervals and the held-out actions (docs/experiments.md). `demo` ends with it, in its
# own database (demo/impact/).
IMPACT_DIR := $(DEMO_DIR)/impact
demo-impact: $(STAMP)
	rm -rf $(IMPACT_DIR) && mkdir -p $(IMPACT_DIR)
	$(BIN)/python scripts/demo_impact_config.py config.example.yaml $(IMPACT_DIR)
	$(BIN)/paid-media-agent db upgrade --config $(IMPACT_DIR)/config.yaml
	for day in 01 02 03 04 05 06 07 08 09 10 11 12; do \
	  echo "simulated day 2026-11-$$day"; \
	  $(BIN)/paid-media-agent run --once --today 2026-11-$$day --config $(IMPACT_DIR)/config.yaml > /dev/null || exit 1; \
	done
	$(BIN)/paid-media-agent actions list --status held_out --config $(IMPACT_DIR)/config.yaml
	$(BIN)/paid-media-agent report impact --today 2026-11-12 --config $(IMPACT_DIR)/config.yaml
	@echo
	@echo "  $(BIN)/paid-media-agent report impact --format json --today 2026-11-12 --config $(IMPACT_DIR)/config.yaml"

lint: $(STAMP)
	$(BIN)/ruff check agent connectors policies migrations tests $(wildcard bench)

typecheck: $(STAMP)
	$(BIN)/mypy

# The whole suite, on SQLite and on PostgreSQL (127.0.0.1:5432 or TEST_DATABASE_URL; a throw-away
# server is started from the installed PostgreSQL binaries when none answers), in TEST_WORKERS
# processes (each test has its own database or schema, temporary directory and free ports).
TEST_WORKERS ?= 2
test: $(STAMP)
	bash scripts/test-prerequisites.sh
	$(BIN)/ruff check agent connectors policies migrations tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not long" -n $(TEST_WORKERS)

# What `make test` leaves out to stay well under 15 minutes on 2 cores (tests marked `long`: the second
# database's run of the slowest integration tests, and the heavier bench smoke runs). CI runs `make test`.
test-long: $(STAMP)
	bash scripts/test-prerequisites.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider -m long -n $(TEST_WORKERS)

# The property-based fuzz tests (tests/fuzz/) with many more examples than `make test` runs
# (there: FUZZ_MAX_EXAMPLES defaults to 200). Prints how many inputs were tried.
FUZZ_MAX_EXAMPLES ?= 10000
fuzz: $(STAMP)
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz --hypothesis-show-statistics

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) *.egg-info .pytest_cache .mypy_cache .ruff_cache
