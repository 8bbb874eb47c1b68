# One Dockerfile for both connectors of this repository, and for the actions' CLI with its MCP server:
#   docker build -t airbyte/source-stripe-proxy:dev .
#   docker build --build-arg CONNECTOR=destination-stripe-proxy -t airbyte/destination-stripe-proxy:dev .
#   docker build --build-arg CONNECTOR=stripe-connection -t stripe-connection:dev .
#     (installs the 'mcp' extra; then `docker run -i --rm -e STRIPE_API_KEY stripe-connection:dev mcp`)
# Where no container registry is reachable, build a local base first
# (../shared/tools/docker-local-base.sh) and add:
#   --network host --build-arg BASE_IMAGE=local/python:3.11-slim
#
# BASE_IMAGE: Airbyte's Python connector base (Python 3.11 on Debian bookworm slim, with an
# `airbyte` user, uid 1000), pinned by digest. It is also metadata.yaml's
# connectorBuildOptions.baseImage; unit_tests/test_metadata_versions.py keeps the two equal.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.0@sha256:d9894b6895923b379f3006fa251147806919c62b7d9021b5cd125bb67d7bbe22

# ---- build: a virtualenv holding the package and its runtime dependencies only ----------------
FROM ${BASE_IMAGE} AS build
ARG CONNECTOR=source-stripe-proxy
USER root
WORKDIR /src
# Dependencies first, from setup.py alone (with a stub package), so that editing the code or the
# README does not reinstall them. The stripe-connection image adds the MCP server's extra.
COPY setup.py ./
# (the stub has a version line: setup.py reads the version from the package's __init__.py)
RUN mkdir source_stripe_proxy && echo '__version__ = "0"' > source_stripe_proxy/__init__.py && touch README.md \
 && python -m venv /opt/connector \
 && if [ "$CONNECTOR" = stripe-connection ]; then target='.[mcp]'; else target=.; fi \
 && /opt/connector/bin/pip install --no-cache-dir --disable-pip-version-check --use-pep517 "$target" \
 && /opt/connector/bin/pip uninstall --yes --disable-pip-version-check source-stripe-proxy \
 && rm -rf build source_stripe_proxy *.egg-info
COPY README.md ./
COPY source_stripe_proxy ./source_stripe_proxy
# The package itself; then pip goes (setuptools stays: airbyte-cdk imports it) and so do the
# test suites that numpy and pandas ship. Byte code stays: it saves each run a compile.
RUN /opt/connector/bin/pip install --no-cache-dir --disable-pip-version-check --use-pep517 --no-deps . \
 && /opt/connector/bin/pip uninstall --yes --disable-pip-version-check pip \
 && rm -rf /opt/connector/lib/python3*/site-packages/pandas/tests \
           /opt/connector/lib/python3*/site-packages/numpy/*/tests \
           /opt/connector/lib/python3*/site-packages/numpy/tests \
 && rm -rf build *.egg-info

# ---- the connector image -----------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG CONNECTOR=source-stripe-proxy
# = source_stripe_proxy.__version__, the one version (unit_tests/test_metadata_versions.py checks).
ARG VERSION=0.1.0
USER root
COPY --from=build /opt/connector /opt/connector
ENV PATH=/opt/connector/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AIRBYTE_ENTRYPOINT=/airbyte/entrypoint
# A connector image must at least answer `spec`; the stripe-connection image, parse `mcp --help`
# and import the MCP SDK. The console script becomes /airbyte/entrypoint. A non-root `airbyte` user (uid 1000,
# as in Airbyte's base) is created where the base has none; without useradd, by hand.
RUN set -eu; \
    test -x "/opt/connector/bin/${CONNECTOR}" || { echo "unknown CONNECTOR '${CONNECTOR}'" >&2; exit 1; }; \
    if ! id -u airbyte >/dev/null 2>&1; then \
      if command -v useradd >/dev/null 2>&1; then \
        useradd --uid 1000 --user-group --no-create-home --home-dir /airbyte --shell /usr/sbin/nologin airbyte; \
      else \
        echo "airbyte:x:1000:" >> /etc/group; \
        echo "airbyte:x:1000:1000:airbyte:/airbyte:/usr/sbin/nologin" >> /etc/passwd; \
      fi; \
    fi; \
    mkdir -p /airbyte; \
    chown airbyte:airbyte /airbyte; \
    ln -sf "/opt/connector/bin/${CONNECTOR}" /airbyte/entrypoint; \
    if [ "$CONNECTOR" = stripe-connection ]; then \
      /airbyte/entrypoint mcp --help > /dev/null && python -c "import mcp.server.lowlevel, mcp.server.stdio"; \
    else \
      /airbyte/entrypoint spec > /dev/null; \
    fi
LABEL io.airbyte.name=airbyte/${CONNECTOR} \
      io.airbyte.version=${VERSION}
WORKDIR /airbyte
USER airbyte
ENTRYPOINT ["/airbyte/entrypoint"]
