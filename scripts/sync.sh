#!/usr/bin/env bash
# The main job: sync Stripe into a local DuckDB file with PyAirbyte.
# Sets up .venv (the connector) and .venv-pyairbyte (PyAirbyte, kept apart), then runs
# scripts/demo.py: with secrets/config.json it syncs that account, otherwise an embedded Stripe
# stand-in filled with a sample account. Run it again for an incremental sync; --fresh starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# (Re)install the connector only when setup.py changed: later runs start at once.
stamp=".venv/.sync-installed-$(cksum < setup.py | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
  pip_quiet() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >.venv/pip.log 2>&1 || { cat .venv/pip.log; exit 1; }; }
  pip_quiet --upgrade pip
  pip_quiet -e .
  rm -f .venv/.sync-installed-*
  touch "$stamp"
fi
bash scripts/setup_pyairbyte.sh
exec .venv/bin/python scripts/demo.py "$@"
