"""The CDK's standard destination tests (``DestinationTestSuiteBase``), run in-process.

The suite normally reads its scenarios from ``acceptance-test-config.yml`` at the
connector root. That file belongs to the source's suite, and our configs need live
loopback servers, so this class builds the scenarios itself: each config file is written
to a temp directory at collection time, pointing at ports chosen then, and the servers
are started on those ports for the class. The CDK's Docker image tests are left out, as in
the source's suite: they need a container registry and GitHub. The destination image (the
Dockerfile with ``--build-arg CONNECTOR=destination-stripe-proxy``, metadata.destination.yaml)
is built and run by ``test_docker_smoke.py`` instead.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import DestinationTestSuiteBase
from airbyte_cdk.test.standard_tests import pytest_hooks as cdk_hooks

from integration_tests.harness import API_KEY, PARAGON_TOKEN, PINK_HEADERS, PINK_TOKEN, REPO_ROOT, free_port
from source_stripe_proxy import DestinationStripeProxy
from stripe_emulator import ParagonEmulator, PinkConnectEmulator, StripeEmulator

PORTS = {"stripe": free_port(), "paragon": free_port(), "pinkconnect": free_port()}
CONFIG_DIR = Path(tempfile.mkdtemp(prefix="destination-standard-"))


def _url(name: str) -> str:
    return f"http://127.0.0.1:{PORTS[name]}"


CONFIGS = {
    # name: (config, expected check status, acceptance-test-config sections)
    "destination_api_key": (
        {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "api_base": _url("stripe"), "external_id_field": "sku"},
        "succeed",
        ("spec", "connection"),
    ),
    "destination_paragon": (
        {"credentials": {"auth_type": "paragon", "project_id": "proj_std", "user_token": PARAGON_TOKEN, "proxy_host": _url("paragon")}},
        "succeed",
        ("spec", "connection"),
    ),
    "destination_pinkconnect": (
        {"credentials": {"auth_type": "pinkconnect", "proxy_url": _url("pinkconnect"), "token": PINK_TOKEN, "extra_headers": PINK_HEADERS}},
        "succeed",
        ("spec", "connection"),
    ),
    "destination_wrong_key": (
        {"credentials": {"auth_type": "api_key", "api_key": "sk_test_wrongWRONGwrong123"}, "api_base": _url("stripe")},
        "failed",
        ("spec", "connection"),
    ),
    "destination_wrong_proxy_token": (
        {
            "credentials": {
                "auth_type": "pinkconnect",
                "proxy_url": _url("pinkconnect"),
                "token": "pink-token-stale-0000",
                "extra_headers": PINK_HEADERS,
            }
        },
        "failed",
        ("connection",),
    ),
    "destination_bad_option": (
        {"credentials": {"auth_type": "api_key", "api_key": API_KEY}, "api_base": _url("stripe"), "unknown_fields": "keep"},
        "failed",
        ("connection",),
    ),
}


def _scenarios():
    scenarios = []
    for name, (config, status, sections) in CONFIGS.items():
        path = CONFIG_DIR / f"{name}.json"
        path.write_text(json.dumps(config))
        scenarios.append(ConnectorTestScenario(config_path=path, status=status, sections=sections))
    return scenarios


SCENARIOS = _scenarios()


def pytest_generate_tests(metafunc):
    """The CDK's parametrization of ``scenario``, unless its plugin is already loaded."""
    if not metafunc.config.pluginmanager.has_plugin("airbyte_cdk.test.standard_tests.pytest_hooks"):
        cdk_hooks.pytest_generate_tests(metafunc)


@pytest.fixture(scope="class", autouse=True)
def servers():
    with (
        StripeEmulator(api_key=API_KEY, port=PORTS["stripe"]) as stripe,
        ParagonEmulator(stripe.url, API_KEY, project_id="proj_std", user_token=PARAGON_TOKEN, port=PORTS["paragon"]),
        PinkConnectEmulator(stripe.url, API_KEY, token=PINK_TOKEN, required_headers=PINK_HEADERS, port=PORTS["pinkconnect"]),
    ):
        yield stripe


class TestDestinationStandard(DestinationTestSuiteBase):
    connector = DestinationStripeProxy
    connector_name = "destination-stripe-proxy"

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        return REPO_ROOT

    @classmethod
    def get_scenarios(cls):
        return SCENARIOS

    # Image tests: they need a registry and GitHub; test_docker_smoke.py runs the image instead.
    test_docker_image_build_and_spec = None
    test_docker_image_spec_backward_compatibility = None
    test_docker_image_build_and_check = None
    test_docker_image_build_and_config_matches_spec = None
    test_docker_image_build_and_discover = None
    test_docker_image_build_and_read = None
