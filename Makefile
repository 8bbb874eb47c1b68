# Benchmarks of issue 6 (see benchmarks/README.md). Speed and memory are measured here,
# never asserted in tests.
PYTHON ?= .venv/bin/python

.PHONY: bench bench-quick bench-profile bench-mcp bench-mcp-tokens bench-read-cost bench-connect bench-reader-c-setup generated check-generated

bench:            ## the full suite (about 13 minutes on 2 cores); writes benchmarks/results.{md,json}
	$(PYTHON) benchmarks/run.py

bench-quick:      ## the same scenarios on smaller data with shorter caps (under 3 minutes)
	$(PYTHON) benchmarks/run.py --quick

bench-profile:    ## where the source's CPU per record goes; writes benchmarks/profile_results.md
	$(PYTHON) benchmarks/profile_read.py

bench-mcp:        ## per-call overhead of the MCP server vs a bare GET (under a minute); writes benchmarks/results-mcp*.md
	$(PYTHON) benchmarks/mcp_overhead.py
	$(PYTHON) benchmarks/mcp_overhead.py --mode paragon
	$(PYTHON) benchmarks/mcp_overhead.py --guarded

bench-mcp-tokens: ## characters and tokens of the MCP tool list and typical results (exact counts); writes benchmarks/results-mcp-tokens.md
	$(PYTHON) -m pip install -q -e '.[bench]'
	$(PYTHON) benchmarks/mcp_tokens.py

bench-read-cost:  ## requests of a first read and an idle sync of every stream and of a typical selection, by endpoint and stream (about 3 minutes); writes benchmarks/results-read-cost.{md,json}
	$(PYTHON) benchmarks/read_cost.py

bench-connect:    ## many Connect accounts: requests, time/ideal and STATE bytes at 100, 1,000 and 2,000 accounts (about 5 minutes); writes benchmarks/results-connect.{md,json}
	$(PYTHON) benchmarks/connect_accounts.py

PYTHON_C ?= python3.11
bench-reader-c-setup:  ## optional reader (c): airbyte-source-stripe from PyPI in its own venv (it needs airbyte-cdk 6)
	$(PYTHON_C) -m venv benchmarks/.venv-c
	benchmarks/.venv-c/bin/pip install -q airbyte-source-stripe==5.14.1

# Files generated from Stripe's OpenAPI description (../shared/stripe-openapi/spec3.json); each
# generator records the spec's sha256 in source_stripe_proxy/data/provenance.json.
GENERATED_PATHS = source_stripe_proxy/data docs/streams.md

generated:        ## regenerate every file made from Stripe's spec
	$(PYTHON) scripts/generate_schemas.py
	$(PYTHON) scripts/generate_operations.py

check-generated: generated  ## regenerate, then fail if anything differs from the commit
	$(PYTHON) scripts/provenance.py
	@if [ -n "$$(git status --porcelain -- $(GENERATED_PATHS))" ]; then \
	  git status --short -- $(GENERATED_PATHS); \
	  echo "The generated files differ from the commit: commit the regenerated ones (or fix the generator)."; \
	  exit 1; \
	fi
	@echo "The generated files are what the spec and the generators make."

# The checks scripts/test.sh runs before the tests (settings in pyproject.toml; seconds).
.PHONY: lint
lint:             ## ruff (lint and format) and mypy over what pyproject.toml names
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy
