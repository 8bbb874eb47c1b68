#!/usr/bin/env bash
# Set up .venv and run the main job: a sync of Stripe (or of an embedded stand-in when
# secrets/config.json does not exist). Run it again for an incremental sync.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_quiet() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >.venv/pip.log 2>&1 || { cat .venv/pip.log; exit 1; }; }
pip_quiet --upgrade pip
pip_quiet -e .
exec .venv/bin/python scripts/demo.py "$@"
