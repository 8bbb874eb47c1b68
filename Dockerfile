# One Dockerfile for both connectors:
#   docker build -t source-stripe-proxy:dev .
#   docker build --build-arg CONNECTOR=destination-stripe-proxy -t destination-stripe-proxy:dev .
# Where no registry is reachable, build a local base first (../shared/tools/docker-local-base.sh)
# and add:  --network host --build-arg BASE_IMAGE=local/python:3.11-slim
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.0@sha256:d9894b6895923b379f3006fa251147806919c62b7d9021b5cd125bb67d7bbe22

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY setup.py README.md ./
COPY source_stripe_proxy ./source_stripe_proxy
# Build into a virtualenv that the final stage copies whole: no compilers or pip caches ship.
RUN python -m venv /opt/connector \
 && /opt/connector/bin/pip install --no-cache-dir --disable-pip-version-check . \
 && /opt/connector/bin/pip uninstall -y pip setuptools wheel >/dev/null 2>&1 || true \
 && find /opt/connector -name '__pycache__' -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
ARG CONNECTOR=source-stripe-proxy
ARG VERSION=0.1.0
COPY --from=build /opt/connector /opt/connector
RUN test -x "/opt/connector/bin/${CONNECTOR}" \
 && ln -s "/opt/connector/bin/${CONNECTOR}" /usr/local/bin/connector \
 && (id -u airbyte >/dev/null 2>&1 || useradd --uid 1000 --create-home --shell /usr/sbin/nologin airbyte)
ENV PATH=/opt/connector/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AIRBYTE_ENTRYPOINT=/usr/local/bin/connector
WORKDIR /home/airbyte
USER airbyte
LABEL io.airbyte.name=airbyte/${CONNECTOR} \
      io.airbyte.version=${VERSION}
ENTRYPOINT ["/usr/local/bin/connector"]
