"""A wrong key or a revoked proxy token ends a ``read`` at once, with one clear error (issue 12).

Every stream of the full catalog would fail the same way: the first 401 stops the read and
the source says once what to fix. Real HTTP on loopback, in all three connection modes.
"""

import pytest

from integration_tests import hardening as h
from integration_tests.harness import configured_catalog, run_connector
from source_stripe_proxy.source.stream_specs import STREAM_SPECS
from stripe_emulator import StripeEmulator

FULL_CATALOG = configured_catalog(list(STREAM_SPECS))  # every stream: each would fail alike
MAX_OUTPUT_BYTES = 5_000
FIELD = {"api_key": "credentials.api_key", "paragon": "credentials.user_token", "pinkconnect": "credentials.token"}


def bad_config(mode, emulator):
    if mode == "api_key":
        config = h.source_config(emulator, "api_key")
        config["credentials"]["api_key"] = f"sk_test_REVOKED{h._RUN}"
        return config, None
    proxy = h.start_proxy(mode, emulator)
    config = h.source_config(proxy, mode)
    if mode == "paragon":
        config["credentials"]["user_token"] = f"paragon-REVOKED-{h._RUN}"
    else:
        config["credentials"]["token"] = f"pink-REVOKED-{h._RUN}"
    return config, proxy


@pytest.mark.parametrize("mode", ["api_key", "paragon", "pinkconnect"])
def test_a_rejected_key_or_token_ends_the_read_with_one_config_error(mode):
    with StripeEmulator(api_key=h.UPSTREAM_KEY, seed=3) as emulator:
        h.seed_account(emulator, 200, 1_700_000_000)
        config, proxy = bad_config(mode, emulator)
        try:
            result = run_connector("source", "read", {**config, "concurrency": 4}, FULL_CATALOG)
        finally:
            if proxy is not None:
                proxy.stop()
    output = result.stdout + result.stderr
    assert len(FULL_CATALOG["streams"]) == len(STREAM_SPECS) >= 19
    assert result.returncode != 0
    assert len(output.encode()) < MAX_OUTPUT_BYTES, output
    errors = result.errors()
    assert len(errors) == 1, errors
    assert errors[0]["failure_type"] == "config_error"
    assert FIELD[mode] in errors[0]["message"] and "401" in errors[0]["message"]
    assert "Traceback" not in output and not errors[0].get("stack_trace")
    assert not result.records_of("customers")
    assert not any(secret in output for secret in (*h.SECRETS, h._RUN))
