"""The CDK's standard source tests (the successor of the acceptance tests), run in-process.

They read acceptance-test-config.yml; its configs point at a Stripe emulator on a fixed
loopback port, which this module starts and fills. The Docker image tests run only where a
Docker engine answers; elsewhere they are skipped with the reason.
"""

import subprocess

import pytest
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from source_stripe_proxy import SourceStripeProxy
from stripe_emulator import StripeEmulator

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

STANDARD_PORT = 12111  # fixed: the config files name it
STANDARD_KEY = "sk_test_standardSuiteKey"


def docker_engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module", autouse=True)
def standard_emulator():
    with StripeEmulator(api_key=STANDARD_KEY, port=STANDARD_PORT) as emulator:
        store = emulator.store
        customers = store.bulk_add("customers", 150)
        products = [store.add("products", {"name": f"Product {i}"})["id"] for i in range(3)]
        prices = [store.add("prices", {"product": p, "unit_amount": 900, "currency": "usd", "recurring": {"interval": "month"}})["id"] for p in products]
        store.add("plans", {"product": products[0], "amount": 900, "currency": "usd", "interval": "month"})
        store.add("subscriptions", {"customer": customers[0], "items": [{"price": prices[0]}]})
        store.bulk_add("balance_transactions", 20)
        yield emulator


@pytest.fixture(autouse=True)
def skip_image_tests_without_docker(request):
    if request.node.get_closest_marker("image_tests") and not docker_engine_answers():
        pytest.skip("SKIPPED LOUDLY: no Docker engine answers `docker info` on this machine; image tests need one")


class TestSourceStripeProxyStandard(SourceTestSuiteBase):
    connector = SourceStripeProxy
