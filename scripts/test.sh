#!/usr/bin/env bash
# Set up .venv (connector + test dependencies) and run every test.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -k pagination
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[tests]"
exec .venv/bin/python -m pytest "$@"
