#!/usr/bin/env bash
# Set up .venv-pyairbyte: PyAirbyte (the `airbyte` package) in its own environment, apart from
# the connector's .venv. PyAirbyte runs the connector as a separate program, so the two never
# need to share a package (PyAirbyte brings its own airbyte-cdk, DuckDB, SQLAlchemy, ...).
# Idempotent: once installed, a second run returns at once.
#   PYAIRBYTE_VERSION=0.71.3  PYAIRBYTE_VENV=.venv-pyairbyte  PYTHON=python3
set -euo pipefail
cd "$(dirname "$0")/.."
version="${PYAIRBYTE_VERSION:-0.71.3}"
venv="${PYAIRBYTE_VENV:-.venv-pyairbyte}"
marker="$venv/.airbyte-$version"
[ -f "$marker" ] && [ -x "$venv/bin/python" ] && exit 0

# PyAirbyte supports Python 3.10 to 3.12: use $PYTHON if it is one of those, else look for one.
supported() { "$1" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null; }
python=""
for candidate in "${PYTHON:-python3}" python3.12 python3.11 python3.10; do
  if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then python="$candidate"; break; fi
done
if [ -z "$python" ]; then
  echo "PyAirbyte needs Python 3.10, 3.11 or 3.12; none found (set PYTHON=/path/to/python3.x)" >&2
  exit 1
fi

echo "Setting up $venv (PyAirbyte $version, its own environment; about 800 MB, a minute or two)..." >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
log="$venv/pip.log"
if ! { "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip \
       && "$venv/bin/python" -m pip install -q --disable-pip-version-check "airbyte==$version"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "installing PyAirbyte failed; full log in $log" >&2
  exit 1
fi
rm -f "$venv"/.airbyte-*
touch "$marker"
