# Benchmarks of issue 6 (see benchmarks/README.md). Speed and memory are measured here,
# never asserted in tests.
PYTHON ?= .venv/bin/python

.PHONY: bench bench-quick bench-profile bench-mcp bench-read-cost bench-reader-c-setup

bench:            ## the full suite (about 13 minutes on 2 cores); writes benchmarks/results.{md,json}
	$(PYTHON) benchmarks/run.py

bench-quick:      ## the same scenarios on smaller data with shorter caps (under 3 minutes)
	$(PYTHON) benchmarks/run.py --quick

bench-profile:    ## where the source's CPU per record goes; writes benchmarks/profile_results.md
	$(PYTHON) benchmarks/profile_read.py

bench-mcp:        ## per-call overhead of the MCP server vs a bare GET (under a minute); writes benchmarks/results-mcp*.md
	$(PYTHON) benchmarks/mcp_overhead.py
	$(PYTHON) benchmarks/mcp_overhead.py --mode paragon

bench-read-cost:  ## requests of a first read and an idle sync of every stream, by endpoint and stream (about 4 minutes); writes benchmarks/results-read-cost.{md,json}
	$(PYTHON) benchmarks/read_cost.py

PYTHON_C ?= python3.11
bench-reader-c-setup:  ## optional reader (c): airbyte-source-stripe from PyPI in its own venv (it needs airbyte-cdk 6)
	$(PYTHON_C) -m venv benchmarks/.venv-c
	benchmarks/.venv-c/bin/pip install -q airbyte-source-stripe==5.14.1
