"""Registry metadata: both files follow Airbyte's schema, and every version number agrees.

The one version is ``source_stripe_proxy.__version__``: setup.py reads it, and the files that
can't read it repeat it and are held equal here: ``metadata.yaml`` and
``metadata.destination.yaml`` (``dockerImageTag``) and the Dockerfile (its ``VERSION`` build
argument, which becomes the ``io.airbyte.version`` label). The Docker smoke test checks the
labels of the built images against the metadata as well.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from airbyte_cdk.models.connector_metadata import ConnectorLanguage, MetadataFile

import source_stripe_proxy
from source_stripe_proxy.destination.connector import DestinationStripeProxy
from source_stripe_proxy.source.connector import SourceStripeProxy

REPO = Path(__file__).resolve().parent.parent
METADATA = {"source": REPO / "metadata.yaml", "destination": REPO / "metadata.destination.yaml"}
CONSOLE_SCRIPTS = {"source": "source-stripe-proxy", "destination": "destination-stripe-proxy"}

# The fields ConnectorMetadataDefinitionV0 requires, plus those the project promises.
REQUIRED = (
    "name",
    "definitionId",
    "connectorType",
    "dockerRepository",
    "dockerImageTag",
    "license",
    "documentationUrl",
    "githubIssueLabel",
    "connectorSubtype",
    "releaseStage",
)
PROMISED = ("supportLevel", "tags", "connectorBuildOptions", "allowedHosts")
# Every key ConnectorMetadataDefinitionV0 allows under `data` (it has additionalProperties: false).
ALLOWED = (
    set(REQUIRED)
    | set(PROMISED)
    | {
        "icon",
        "iconUrl",
        "supportsDbt",
        "supportsNormalization",
        "maxSecondsBetweenMessages",
        "releaseDate",
        "protocolVersion",
        "registryOverrides",
        "releases",
        "normalizationConfig",
        "suggestedStreams",
        "resourceRequirements",
        "ab_internal",
        "remoteRegistries",
        "connectorTestSuitesOptions",
        "externalDocumentationUrls",
        "erdUrl",
        "supportsRefreshes",
        "supportsFileTransfer",
        "supportsDataActivation",
        "connectorIPCOptions",
        "generated",
    }
)


def load(which: str) -> dict[str, Any]:
    return yaml.safe_load(METADATA[which].read_text())


def setup_py_version() -> str:
    """The version setup.py gives the package, asked of setup.py itself."""
    completed = subprocess.run([sys.executable, "setup.py", "--version"], cwd=REPO, capture_output=True, text=True, check=True)
    return completed.stdout.strip().splitlines()[-1]


def dockerfile_args() -> dict[str, str]:
    """Defaults of the Dockerfile's ARGs (the last declaration wins, as for `docker build`)."""
    return dict(re.findall(r"^ARG\s+(\w+)=(\S+)\s*$", (REPO / "Dockerfile").read_text(), re.MULTILINE))


def spec_of(which: str):
    logger = logging.getLogger("test")
    return (SourceStripeProxy() if which == "source" else DestinationStripeProxy()).spec(logger)


def test_every_version_agrees():
    version = setup_py_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    found = {
        "setup.py": version,
        "source_stripe_proxy.__version__": source_stripe_proxy.__version__,
        "metadata.yaml": str(load("source")["data"]["dockerImageTag"]),
        "metadata.destination.yaml": str(load("destination")["data"]["dockerImageTag"]),
        "Dockerfile ARG VERSION": dockerfile_args().get("VERSION"),
    }
    assert set(found.values()) == {version}, found


def test_dockerfile_labels_and_defaults():
    text = (REPO / "Dockerfile").read_text()
    args = dockerfile_args()
    assert args["CONNECTOR"] == "source-stripe-proxy"  # the default build is the source
    assert re.search(r"io\.airbyte\.name=airbyte/\$\{CONNECTOR\}", text)
    assert re.search(r"io\.airbyte\.version=\$\{VERSION\}", text)
    assert re.search(r"^ENV\s.*AIRBYTE_ENTRYPOINT=", text, re.MULTILINE | re.DOTALL)
    assert re.search(r'^ENTRYPOINT \["/airbyte/entrypoint"\]', text, re.MULTILINE)
    assert re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)[-1] == "airbyte"  # the image ends as non-root


@pytest.mark.parametrize("which", sorted(METADATA))
def test_base_image_is_pinned_and_shared(which):
    base = dockerfile_args()["BASE_IMAGE"]
    assert re.fullmatch(r"docker\.io/airbyte/python-connector-base:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", base), base
    assert load(which)["data"]["connectorBuildOptions"]["baseImage"] == base


@pytest.mark.parametrize("which", sorted(METADATA))
def test_metadata_follows_the_schema(which):
    document = load(which)
    assert set(document) == {"metadataSpecVersion", "data"}
    assert document["metadataSpecVersion"] == "1.0"
    data = document["data"]
    assert [key for key in REQUIRED + PROMISED if key not in data] == []
    assert sorted(set(data) - ALLOWED) == [], "keys Airbyte's metadata schema does not allow"
    assert data["connectorType"] == which
    assert data["connectorSubtype"] == "api"
    assert data["dockerRepository"] == f"airbyte/{CONSOLE_SCRIPTS[which]}"
    assert data["releaseStage"] in ("alpha", "beta", "generally_available", "custom")
    assert data["supportLevel"] in ("community", "certified", "archived")
    assert {"language:python", "cdk:python"} <= set(data["tags"])
    assert data["license"] == "MIT"
    assert str(uuid.UUID(data["definitionId"])) == data["definitionId"]
    assert data["documentationUrl"] == spec_of(which).documentationUrl
    # The CDK's own model of metadata.yaml (used by `airbyte-cdk image build`) reads it too.
    parsed = MetadataFile.from_file(METADATA[which])
    assert parsed.data.language == ConnectorLanguage.PYTHON
    assert parsed.data.connectorBuildOptions.baseImage == data["connectorBuildOptions"]["baseImage"]


def test_each_connector_has_its_own_definition_id():
    ids = {which: load(which)["data"]["definitionId"] for which in METADATA}
    assert len(set(ids.values())) == len(ids), ids


def test_console_scripts_named_by_the_metadata_exist():
    setup = (REPO / "setup.py").read_text()
    for script in CONSOLE_SCRIPTS.values():
        assert re.search(rf'"{script}=source_stripe_proxy\.[\w.]+:\w+"', setup), script


def _spec_paths(schema: Mapping[str, Any], prefix: str = "") -> set:
    paths = set()
    for option in schema.get("oneOf") or []:
        paths |= _spec_paths(option, prefix)
    for name, prop in (schema.get("properties") or {}).items():
        paths.add(prefix + name)
        paths |= _spec_paths(prop, prefix + name + ".")
    return paths


@pytest.mark.parametrize("which", sorted(METADATA))
def test_allowed_hosts_cover_stripe_paragon_and_configured_hosts(which):
    hosts = load(which)["data"]["allowedHosts"]["hosts"]
    assert "api.stripe.com" in hosts and "proxy.useparagon.com" in hosts
    variables = {match for host in hosts for match in re.findall(r"\$\{([^}]+)\}", host)}
    # Every host the user can configure is allowed, and every variable names a real config field.
    assert {"credentials.proxy_host", "credentials.proxy_url", "api_base"} <= variables
    assert variables <= _spec_paths(spec_of(which).connectionSpecification), variables
