#!/usr/bin/env bash
# Set up .venv (connector + test dependencies) and run every test.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -k pagination
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_quiet() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >.venv/pip.log 2>&1 || { cat .venv/pip.log; exit 1; }; }
pip_quiet --upgrade pip
pip_quiet -e ".[tests]"
exec .venv/bin/python -m pytest "$@"
