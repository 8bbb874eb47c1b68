"""Docker smoke test: build both connector images and run them as Airbyte does.

    bash scripts/test.sh -m docker          # just this

The images are built from this repository's one Dockerfile on the local base image that
``../shared/tools/docker-local-base.sh`` makes (no container registry needed), then run with
``--network host`` against localstripe on the host's loopback, the config mounted as a file:

* source: ``spec``, ``check`` (reaching localstripe, and reaching nothing), ``discover`` and ``read``;
* destination: ``spec``, ``check`` and ``write`` with records piped on stdin, twice (the second
  write changes nothing), then the source image reads back what the destination wrote.

Where no Docker engine answers, the fixture sets one up with docker-local-base.sh (it needs
root and Debian's package registry; ``scripts/test.sh`` says so before it starts). When that is
impossible, or fails, the module is skipped with the reason in the skip message and in a
warning: a machine without Docker never fails these tests, and never passes them silently.
``SKIP_DOCKER_TESTS=1`` (or ``-m "not docker"``) skips them without trying.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from integration_tests.harness import REPO_ROOT, LocalStripe, configured_catalog, destination_catalog, free_port

pytestmark = pytest.mark.docker

BASE_SCRIPT = REPO_ROOT.parent / "shared" / "tools" / "docker-local-base.sh"
BASE_IMAGE = os.environ.get("DOCKER_SMOKE_BASE_IMAGE", "local/python:3.11-slim")
CONNECTORS = ("source-stripe-proxy", "destination-stripe-proxy")
TAG = "smoke"
API_KEY = "sk_test_docker_smoke_4e1f9a77"
LOCALSTRIPE_STREAMS = ["customers", "products", "plans", "subscriptions", "balance_transactions"]  # it has no /v1/prices
CUSTOMERS = 105  # two pages


def _version() -> str:
    from source_stripe_proxy import __version__  # the one version (setup.py reads it too)

    return __version__


def _docker(*args: str, timeout: float = 300, stdin: str | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout)
    if args[:1] == ("build",) and done.returncode != 0 and "failed to get digest" in done.stderr:
        # The legacy builder lost the image it had just built (seen when an image store is reused
        # by several builds): the same build once more, from its cache.
        done = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout)
    return done


def _skip_loudly(reason: str) -> None:
    message = f"DOCKER SMOKE TEST NOT RUN: {reason}"
    warnings.warn(message, UserWarning, stacklevel=2)
    pytest.skip(message)


def _engine_answers() -> bool:
    try:
        return _docker("info", timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _base_exists() -> bool:
    return _docker("image", "inspect", BASE_IMAGE, timeout=30).returncode == 0


@pytest.fixture(scope="module")
def docker_ready() -> None:
    """A Docker engine that answers and the local base image, set up here if need be."""
    if os.environ.get("SKIP_DOCKER_TESTS") == "1":
        _skip_loudly("SKIP_DOCKER_TESTS=1")
    if shutil.which("docker") and _engine_answers() and _base_exists():
        return
    if not BASE_SCRIPT.exists():
        _skip_loudly(f"no Docker engine/base image, and no {BASE_SCRIPT} to set them up")
    if os.geteuid() != 0:
        _skip_loudly("no Docker engine/base image, and setting one up needs root (docker-local-base.sh)")
    try:
        setup = subprocess.run(["bash", str(BASE_SCRIPT), BASE_IMAGE], capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        _skip_loudly("docker-local-base.sh did not finish within 30 minutes")
    if setup.returncode != 0:
        _skip_loudly(f"docker-local-base.sh failed (exit {setup.returncode}): {(setup.stderr or setup.stdout)[-800:]}")
    if not _engine_answers():
        _skip_loudly("docker-local-base.sh finished but no Docker engine answers `docker info`")
    if not _base_exists():
        _skip_loudly(f"docker-local-base.sh finished but the base image {BASE_IMAGE} is missing")


@pytest.fixture(scope="module")
def images(docker_ready) -> dict[str, str]:
    """Both images, built from the one Dockerfile; the source first, so the second reuses its build stage."""
    built = {}
    for connector in CONNECTORS:
        tag = f"airbyte/{connector}:{TAG}"
        started = time.monotonic()
        build = _docker(
            "build",
            "--network",
            "host",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "--build-arg",
            f"CONNECTOR={connector}",
            "-t",
            tag,
            str(REPO_ROOT),
            timeout=1800,
        )
        assert build.returncode == 0, f"docker build of {connector} failed:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
        print(f"built {tag} in {time.monotonic() - started:.0f}s")
        built[connector] = tag
        # Earlier builds of this tag, now untagged, would pile up on a CI machine (~250 MB each).
        _docker("image", "prune", "--force", "--filter", f"label=io.airbyte.name=airbyte/{connector}")
    return built


@pytest.fixture(scope="module")
def stripe():
    """localstripe of our own (the session's is shared with other tests), filled over plain HTTP."""
    with LocalStripe() as server:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {API_KEY}"

        def create(path: str, **data: Any) -> dict[str, Any]:
            response = session.post(f"{server.url}/v1/{path}", data=data, timeout=30)
            response.raise_for_status()
            return response.json()

        customers = [create("customers", email=f"smoke{i}@example.com", name=f"Smoke {i}") for i in range(CUSTOMERS)]
        products = [create("products", name=f"Plan product {i}") for i in range(2)]
        plans = [create("plans", product=p["id"], amount=500 * (i + 1), currency="usd", interval="month") for i, p in enumerate(products)]
        subscriptions = [
            create("subscriptions", customer=customers[i]["id"], **{"items[0][plan]": plans[i % 2]["id"]}, trial_period_days=7)
            for i in range(3)  # localstripe wants a trial (or a card) to subscribe
        ]
        server.seeded = {
            "customers": {c["id"] for c in customers},
            "products": {p["id"] for p in products},
            "plans": {p["id"] for p in plans},
            "subscriptions": {s["id"] for s in subscriptions},
            "balance_transactions": set(),
        }
        server.session = session
        yield server


class Run:
    def __init__(self, completed: subprocess.CompletedProcess):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.messages: list[dict[str, Any]] = []
        for line in completed.stdout.splitlines():
            if line.startswith("{"):
                self.messages.append(json.loads(line))  # every stdout line that looks like JSON must be JSON

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"]["data"] for m in self.of_type("RECORD") if m["record"]["stream"] == stream]

    def trace(self, kind: str) -> list[dict[str, Any]]:
        return [m["trace"] for m in self.of_type("TRACE") if m["trace"]["type"] == kind]


def run_image(image: str, command: str, files: dict[str, Any] | None = None, stdin: str | None = None) -> Run:
    """`docker run` one connector command; ``files`` become /data/<name>.json, passed as --<name>."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # noqa: S103 - the image runs as the non-root airbyte user: it must be able to read them
        args = ["run", "--rm", "--network", "host", "-v", f"{tmp}:/data:ro"]
        if stdin is not None:
            args.append("-i")
        args += [image, command]
        for name, content in (files or {}).items():
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(content))
            os.chmod(path, 0o644)
            args += [f"--{name}", f"/data/{name}.json"]
        return Run(_docker(*args, stdin=stdin, timeout=300))


def config_for(stripe, **extra: Any) -> dict[str, Any]:
    return {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "api_base": stripe.url, **extra}


# -- the images themselves --------------------------------------------------------------------


def test_images_are_labelled_non_root_and_lean(images):
    version = _version()
    for connector, image in images.items():
        info = json.loads(_docker("image", "inspect", image).stdout)[0]
        config = info["Config"]
        assert config["Labels"]["io.airbyte.name"] == f"airbyte/{connector}"
        assert config["Labels"]["io.airbyte.version"] == version
        assert config["User"] == "airbyte"
        assert config["Entrypoint"] == ["/airbyte/entrypoint"]
        assert "AIRBYTE_ENTRYPOINT=/airbyte/entrypoint" in config["Env"]
        probe = _docker(
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            image,
            "-c",
            'id -u; readlink -f "$AIRBYTE_ENTRYPOINT"; '
            "for tool in gcc cc make; do command -v $tool || true; done; "
            "python -c \"import importlib.util as u; print([m for m in ('pip', 'pytest', 'localstripe', 'hypothesis', "
            "'requests_mock', 'airbyte') if u.find_spec(m)])\"",
        )
        assert probe.returncode == 0, probe.stderr
        uid, entrypoint, *rest = probe.stdout.split()
        assert uid != "0", "the image must not run as root"
        assert entrypoint == f"/opt/connector/bin/{connector}"  # the console script is the entrypoint
        assert rest == ["[]"], f"build tools or test dependencies in the final image: {rest}"
        size_mb = info["Size"] / 1e6
        print(f"{image}: {size_mb:.0f} MB")
        assert size_mb < 1500, f"{image} is {size_mb:.0f} MB"


# -- the source image ------------------------------------------------------------------------


def test_source_image_spec_check_discover_read(images, stripe):
    image = images["source-stripe-proxy"]

    spec = run_image(image, "spec")
    assert spec.returncode == 0, spec.stderr
    [spec_message] = spec.of_type("SPEC")
    assert spec_message["spec"]["connectionSpecification"]["properties"]["credentials"]["oneOf"]

    check = run_image(image, "check", {"config": config_for(stripe)})
    assert check.returncode == 0, check.stderr
    assert [m["connectionStatus"]["status"] for m in check.of_type("CONNECTION_STATUS")] == ["SUCCEEDED"]

    # localstripe takes any key, so the failing check is one that reaches nothing (a closed port).
    unreachable = dict(config_for(stripe), api_base=f"http://127.0.0.1:{free_port()}", max_retries=0)
    bad = run_image(image, "check", {"config": unreachable})
    assert [m["connectionStatus"]["status"] for m in bad.of_type("CONNECTION_STATUS")] == ["FAILED"]
    assert API_KEY not in bad.stdout + bad.stderr

    discover = run_image(image, "discover", {"config": config_for(stripe)})
    assert discover.returncode == 0, discover.stderr
    [catalog] = discover.of_type("CATALOG")
    streams = {s["name"]: s for s in catalog["catalog"]["streams"]}
    assert set(LOCALSTRIPE_STREAMS) <= set(streams) and "prices" in streams
    assert streams["customers"]["source_defined_primary_key"] == [["id"]]

    read = run_image(image, "read", {"config": config_for(stripe), "catalog": configured_catalog(LOCALSTRIPE_STREAMS)})
    assert read.returncode == 0, read.stderr[-3000:]
    assert not read.trace("ERROR"), read.trace("ERROR")
    for stream in LOCALSTRIPE_STREAMS:
        ids = [r["id"] for r in read.records(stream)]
        assert len(ids) == len(set(ids)), f"{stream}: duplicates"
        assert set(ids) == stripe.seeded[stream], stream
        statuses = [
            t["stream_status"]["status"] for t in read.trace("STREAM_STATUS") if t["stream_status"]["stream_descriptor"]["name"] == stream
        ]
        assert statuses[0] == "STARTED" and statuses[-1] == "COMPLETE", (stream, statuses)
    assert read.of_type("STATE"), "a read must checkpoint"
    assert API_KEY not in read.stdout + read.stderr


# -- the destination image -------------------------------------------------------------------


def stdin_of(rows: list[dict[str, Any]], stream: str) -> str:
    lines = [{"type": "RECORD", "record": {"stream": stream, "data": row, "emitted_at": 1_700_000_000_000}} for row in rows]
    lines.append(
        {"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"n": len(rows)}}}}
    )
    return "".join(json.dumps(line) + "\n" for line in lines)


def summary_of(run: Run) -> dict[str, Any]:
    [analytics] = [t["analytics"] for t in run.trace("ANALYTICS") if t["analytics"]["type"] == "stripe_destination_summary"]
    return json.loads(analytics["value"])


def test_destination_image_spec_check_write(images, stripe):
    image = images["destination-stripe-proxy"]

    spec = run_image(image, "spec")
    assert spec.returncode == 0, spec.stderr
    [spec_message] = spec.of_type("SPEC")
    assert "append_dedup" in spec_message["spec"]["supported_destination_sync_modes"]

    check = run_image(image, "check", {"config": config_for(stripe)})
    assert check.returncode == 0, check.stderr
    assert [m["connectionStatus"]["status"] for m in check.of_type("CONNECTION_STATUS")] == ["SUCCEEDED"]

    rows = [{"external_id": f"smoke-sku-{i}", "name": f"Smoke product {i}", "description": "from docker", "active": True} for i in range(3)]
    files = {"config": config_for(stripe), "catalog": destination_catalog(["products"])}
    first = run_image(image, "write", files, stdin=stdin_of(rows, "products"))
    assert first.returncode == 0, first.stderr[-3000:]
    assert summary_of(first)["streams"]["products"]["created"] == 3
    assert [m["state"]["stream"]["stream_state"] for m in first.of_type("STATE")] == [{"n": 3}]  # echoed once all are written

    again = run_image(image, "write", files, stdin=stdin_of(rows, "products"))
    assert again.returncode == 0, again.stderr[-3000:]
    assert summary_of(again)["streams"]["products"]["unchanged"] == 3  # never twice
    assert API_KEY not in first.stdout + first.stderr + again.stdout + again.stderr

    # What the destination image wrote, the source image reads back.
    read = run_image(images["source-stripe-proxy"], "read", {"config": config_for(stripe), "catalog": configured_catalog(["products"])})
    assert read.returncode == 0, read.stderr[-3000:]
    written = {r["metadata"].get("external_id"): r for r in read.records("products") if r.get("metadata")}
    assert {f"smoke-sku-{i}" for i in range(3)} <= set(written)
    assert written["smoke-sku-1"]["name"] == "Smoke product 1"


def test_metadata_names_the_images_we_build(images):
    """metadata*.yaml name these repositories; the build labels them with the same version."""
    for path, connector in (("metadata.yaml", "source-stripe-proxy"), ("metadata.destination.yaml", "destination-stripe-proxy")):
        data = yaml.safe_load((REPO_ROOT / path).read_text())["data"]
        labels = json.loads(_docker("image", "inspect", images[connector]).stdout)[0]["Config"]["Labels"]
        assert data["dockerRepository"] == labels["io.airbyte.name"]
        assert data["dockerImageTag"] == labels["io.airbyte.version"]


# -- the stripe-connection image: the actions' CLI and its MCP server -------------------------------

CONNECTION_IMAGE = f"stripe-connection:{TAG}"


@pytest.fixture(scope="module")
def connection_image(docker_ready) -> str:
    """``--build-arg CONNECTOR=stripe-connection``: the CLI as entrypoint, with the 'mcp' extra."""
    build = _docker(
        "build",
        "--network",
        "host",
        "--build-arg",
        f"BASE_IMAGE={BASE_IMAGE}",
        "--build-arg",
        "CONNECTOR=stripe-connection",
        "-t",
        CONNECTION_IMAGE,
        str(REPO_ROOT),
        timeout=1800,
    )
    assert build.returncode == 0, f"docker build of stripe-connection failed:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    _docker("image", "prune", "--force", "--filter", "label=io.airbyte.name=airbyte/stripe-connection")
    return CONNECTION_IMAGE


def test_connection_image_serves_mcp_over_stdio(connection_image, stripe):
    """`docker run -i IMAGE mcp`, driven by the MCP SDK's client, against localstripe."""
    import asyncio

    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    info = json.loads(_docker("image", "inspect", connection_image).stdout)[0]["Config"]
    assert info["User"] == "airbyte" and info["Entrypoint"] == ["/airbyte/entrypoint"]
    params = StdioServerParameters(
        command="docker",
        args=[
            "run",
            "-i",
            "--rm",
            "--network",
            "host",
            "-e",
            f"STRIPE_API_KEY={API_KEY}",
            "-e",
            f"STRIPE_API_BASE={stripe.url}",
            connection_image,
            "mcp",
            "--allow",
            "customer",
        ],
    )

    async def session_calls() -> list[Any]:
        with tempfile.TemporaryFile("w+") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                tools = [tool.name for tool in (await session.list_tools()).tools]
                created = await session.call_tool("create_customer", {"email": "mcp@example.com", "name": "MCP Docker"})
                fetched = await session.call_tool("get_customer", {"customer_id": created.structured_content["id"]})
            errlog.seek(0)
            return [tools, created, fetched, errlog.read()]

    tools, created, fetched, stderr = asyncio.run(session_calls())
    assert tools == [
        "create_customer",
        "update_customer",
        "get_customer",
        "list_customers",
        "stripe_call",
        "stripe_describe",
        "stripe_search_actions",
    ]
    assert not created.is_error and not fetched.is_error, (created, fetched)
    assert fetched.structured_content["email"] == "mcp@example.com"
    assert "restricted key" in stderr  # the sk_ warning, on stderr
    for text in (stderr, created.content[0].text, fetched.content[0].text):
        assert API_KEY not in text


def test_connection_image_refuses_http_beyond_loopback_without_a_token(connection_image):
    refused = _docker("run", "--rm", "-e", f"STRIPE_API_KEY={API_KEY}", connection_image, "mcp", "--http", "0.0.0.0:8765")
    assert refused.returncode == 2 and "STRIPE_CONNECTION_MCP_TOKEN" in refused.stderr and refused.stdout == ""
