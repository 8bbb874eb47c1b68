#!/usr/bin/env bash
# Set up .venv (connector + test dependencies), run the checks (ruff lint, ruff format, mypy:
# seconds, any finding fails the run before a test starts), then every test.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -k pagination  (the checks still run)
# Skip the Docker tests:  bash scripts/test.sh -m "not docker"   (or SKIP_DOCKER_TESTS=1)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_quiet() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >.venv/pip.log 2>&1 || { cat .venv/pip.log; exit 1; }; }
pip_quiet --upgrade pip
pip_quiet -e ".[tests]"

# The checks of pyproject.toml (also `make lint`). Each prints its findings; all three always run.
checks_failed=()
for check in "ruff check ." "ruff format --check ." "mypy"; do
  echo "== $check" >&2
  # shellcheck disable=SC2086  # the check's words are split on purpose
  .venv/bin/$check >&2 || checks_failed+=("$check")
done
if [ ${#checks_failed[@]} -gt 0 ]; then
  failed=$(printf '%s; ' "${checks_failed[@]}")
  echo "The checks found problems (${failed%; }): no test was run. Fix them (.venv/bin/ruff check --fix ." \
       "and .venv/bin/ruff format . do the mechanical part), or run one test directly: .venv/bin/python -m pytest -k NAME" >&2
  exit 1
fi

# The Docker smoke test sets up an engine where none answers and it runs as root. Say so first.
docker_selected=yes
case " $* " in *"not docker"*) docker_selected=no ;; esac
[ "${SKIP_DOCKER_TESTS:-}" = 1 ] && docker_selected=no
if [ "$docker_selected" = yes ] && ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && [ -f ../shared/tools/docker-local-base.sh ]; then
    echo "Note: no Docker engine answers, so the Docker tests will install one (apt: docker.io, debootstrap)," \
         "start dockerd and build a local base image (../shared/tools/docker-local-base.sh; minutes the first time)." >&2
  else
    echo "Note: no Docker engine answers; the Docker tests will be skipped, with the reason in the summary." >&2
  fi
  echo "      To skip the Docker tests: bash scripts/test.sh -m \"not docker\"  (or SKIP_DOCKER_TESTS=1)" >&2
fi
exec .venv/bin/python -m pytest "$@"
