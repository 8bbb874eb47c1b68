"""One bad config, one message: the same in check, discover, read and write, and in the actions.

Run through the real entry points: the source's CDK entrypoint (as its console script runs it),
the destination's command runner, the actions' ``StripeConnection`` and CLI, and once through
the console scripts themselves in subprocesses. Messages name the field, say what is allowed
and never carry the value; a key of the wrong shape is told what it looks like.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_stripe_proxy import DestinationStripeProxy, SourceStripeProxy
from source_stripe_proxy.actions.cli import EXIT_USAGE
from source_stripe_proxy.actions.cli import main as cli_main
from source_stripe_proxy.actions.connection import StripeConnection
from source_stripe_proxy.airbyte.hooks import SourceEntrypoint
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.destination.connector import accepted_catalog

KEY = "sk_test_MESSAGESsecret31"
TOKEN = "tok-MESSAGES-secret-32"
SECRETS = (KEY, TOKEN)
API = {"auth_type": "api_key", "api_key": KEY}
PINK = {"auth_type": "pinkconnect", "proxy_url": "https://proxy.example.com/stripe", "token": TOKEN}

# (config, the message every face that has the field gives). A connection field is shared by all
# faces; page_size is the source's, unknown_fields the destination's.
SHARED = [
    ({"credentials": {"auth_type": "oauth", "api_key": KEY}}, "'credentials.auth_type' must be one of: api_key, paragon, pinkconnect."),
    ({"credentials": {"auth_type": "api_key", "api_key": "pk_test_" + KEY[8:]}}, None),
    ({"credentials": API, "requests_per_second": 0.001}, "'requests_per_second' must be a number from 0.01 to 10000."),
    ({"credentials": API, "request_timeout_seconds": 0}, "'request_timeout_seconds' must be a number above 0 and at most 600."),
    ({"credentials": API, "max_retries": 2.5}, "'max_retries' must be a whole number from 0 to 50."),
    ({"credentials": API, "account_id": "cus_123"}, "'account_id' must be a string (acct_ followed by letters and digits)."),
    ({"credentials": API, "api_base": f"https://{KEY}@api.example.com"}, None),
    ({"credentials": {**PINK, "extra_headers": {"X-A": 5}}}, "'credentials.extra_headers' must be an object of names to text values."),
    ({"credentials": {**PINK, "token": TOKEN + "\n"}}, None),
    ({"credentials": {"auth_type": "paragon", "user_token": TOKEN}}, "Missing 'credentials.project_id': it must be a non-empty string."),
]
SOURCE_ONLY = [
    ({"credentials": API, "page_size": 500}, "'page_size' must be a whole number from 1 to 100."),
    ({"credentials": API, "event_payloads": "always"}, "'event_payloads' must be one of: payload, refetch."),
    ({"credentials": API, "account_ids": ["acct_1", "acct_1"]}, None),
    ({"credentials": API, "start_date": "2999-01-01"}, None),
]
DESTINATION_ONLY = [
    ({"credentials": API, "unknown_fields": "keep"}, "'unknown_fields' must be one of: reject, metadata."),
    ({"credentials": API, "external_id_field": "email"}, None),
]


def write_json(tmp_path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def source_messages(tmp_path, command: str, config: Mapping[str, Any]) -> str:
    """The source's message for ``config`` from ``command``, through the entrypoint its console script runs."""
    source = SourceStripeProxy()
    entrypoint = SourceEntrypoint(source)
    args = [command, "--config", write_json(tmp_path, "config.json", config)]
    if command == "read":
        catalog = {
            "streams": [
                {
                    "stream": {"name": "customers", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": "append",
                }
            ]
        }
        args += ["--catalog", write_json(tmp_path, "catalog.json", catalog)]
    try:
        out = list(entrypoint.run(entrypoint.parse_args(args)))
    except AirbyteTracedException as error:  # discover and read end with the error (a TRACE on stdout)
        assert error.failure_type.value == "config_error"
        return error.message
    [status] = [json.loads(line)["connectionStatus"] for line in out if '"CONNECTION_STATUS"' in line]
    assert status["status"] == "FAILED"
    return status["message"]


def destination_message(tmp_path, command: str, config: Mapping[str, Any], monkeypatch) -> str:
    destination = DestinationStripeProxy()
    args = [command, "--config", write_json(tmp_path, "config.json", config)]
    if command == "write":
        args += ["--catalog", write_json(tmp_path, "catalog.json", accepted_catalog())]
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    try:
        out = list(destination.run_cmd(destination.parse_args(args)))
    except AirbyteTracedException as error:
        assert error.failure_type.value == "config_error"
        return error.message
    [status] = [m.connectionStatus for m in out if m.connectionStatus is not None]
    assert status.status.value == "FAILED"
    return status.message


def actions_message(config: Mapping[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        StripeConnection(config)
    return caught.value.message


def clean(message: str, expected) -> str:
    assert "'" in message and "Traceback" not in message
    for secret in SECRETS:
        assert secret not in message and secret[8:] not in message
    if expected is not None:
        assert message == expected
    return message


@pytest.mark.parametrize("config, expected", SHARED, ids=lambda v: json.dumps(v)[:60] if isinstance(v, dict) else "")
def test_a_bad_connection_field_gets_one_message_everywhere(tmp_path, monkeypatch, config, expected):
    messages = {
        "source check": source_messages(tmp_path, "check", config),
        "source discover": source_messages(tmp_path, "discover", config),
        "source read": source_messages(tmp_path, "read", config),
        "destination check": destination_message(tmp_path, "check", config, monkeypatch),
        "destination write": destination_message(tmp_path, "write", config, monkeypatch),
        "actions": actions_message(config),
    }
    assert len(set(messages.values())) == 1, messages
    clean(messages["actions"], expected)


@pytest.mark.parametrize("config, expected", SOURCE_ONLY, ids=lambda v: json.dumps(v)[:60] if isinstance(v, dict) else "")
def test_a_bad_source_field_gets_one_message_in_check_discover_and_read(tmp_path, config, expected):
    messages = {command: source_messages(tmp_path, command, config) for command in ("check", "discover", "read")}
    assert len(set(messages.values())) == 1, messages
    clean(messages["check"], expected)


@pytest.mark.parametrize("config, expected", DESTINATION_ONLY, ids=lambda v: json.dumps(v)[:60] if isinstance(v, dict) else "")
def test_a_bad_destination_field_gets_one_message_in_check_and_write(tmp_path, monkeypatch, config, expected):
    messages = {command: destination_message(tmp_path, command, config, monkeypatch) for command in ("check", "write")}
    assert len(set(messages.values())) == 1, messages
    clean(messages["check"], expected)


def test_the_first_bad_field_in_the_form_is_the_one_reported(tmp_path, monkeypatch):
    """Several bad fields: every command names the same one, the first in the spec's order."""
    config = {"credentials": API, "max_retries": -1, "request_timeout_seconds": 0, "api_base": "ftp://x"}
    source = {command: source_messages(tmp_path, command, config) for command in ("check", "discover", "read")}
    destination = {command: destination_message(tmp_path, command, config, monkeypatch) for command in ("check", "write")}
    assert {*source.values(), *destination.values(), actions_message(config)} == {"'api_base' must be an absolute https:// URL."}


def test_console_scripts_give_the_same_message_for_check_and_discover(tmp_path):
    """The installed entry points (a subprocess each), not only the classes: check used to answer
    with the CDK's jsonschema message, which quoted the credentials object."""
    config = write_json(tmp_path, "config.json", {"credentials": {"auth_type": "oauth", "api_key": KEY}})

    def run(entry: str, *args: str) -> str:
        code = f"import sys; from source_stripe_proxy.airbyte.entrypoints import {entry}; sys.argv[1:] = {list(args)!r}; {entry}()"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert KEY not in done.stdout + done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        for message in lines:
            if message["type"] == "CONNECTION_STATUS":
                return message["connectionStatus"]["message"]
            if message["type"] == "TRACE" and message["trace"]["type"] == "ERROR":
                return message["trace"]["error"]["message"]
        raise AssertionError(done.stdout[-2000:])

    expected = "'credentials.auth_type' must be one of: api_key, paragon, pinkconnect."
    assert run("run_source", "check", "--config", config) == expected
    assert run("run_source", "discover", "--config", config) == expected
    assert run("run_destination", "check", "--config", config) == expected


# -- a key of the wrong shape ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key, says, never",
    [
        ("hello-NOTAKEY-value", "is not a Stripe secret or restricted key: it must start with sk_ or rk_", "publishable"),
        ("pk_test_" + KEY[8:], "looks like a publishable key (pk_...), which cannot call the API", "not a Stripe secret"),
        ("whsec_" + KEY[8:], "looks like a webhook signing secret (whsec_...)", "publishable"),
        ("Bearer " + KEY, "is not a Stripe secret or restricted key", "publishable"),
    ],
)
def test_a_key_of_the_wrong_shape_is_told_its_shape_never_its_value(key, says, never):
    message = actions_message({"credentials": {"auth_type": "api_key", "api_key": key}})
    assert message.startswith("'credentials.api_key' ") and says in message and never not in message
    assert key not in message and key[8:] not in message


@pytest.mark.parametrize("key", ["sk_test_abc", "rk_live_abc", "sk_live_x"])
def test_secret_and_restricted_keys_are_accepted(key):
    StripeConnection({"credentials": {"auth_type": "api_key", "api_key": key}})


def test_the_cli_names_the_environment_variable_and_not_the_value():
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli_main(["get", "customer", "id=cus_1"], stdout=stdout, stderr=stderr, environ={"STRIPE_API_KEY": "hello-NOTAKEY"})
    assert code == EXIT_USAGE
    error = json.loads(stdout.getvalue())["error"]  # exactly one JSON document
    assert error["type"] == "connection_config_error"
    assert error["message"].startswith("STRIPE_API_KEY is not a Stripe secret or restricted key")
    assert "publishable" not in error["message"] and "NOTAKEY" not in stdout.getvalue() + stderr.getvalue()


@pytest.mark.parametrize(
    "environ, named",
    [
        ({"STRIPE_API_KEY": "pk_live_x"}, "STRIPE_API_KEY looks like a publishable key"),
        ({"STRIPE_API_KEY": KEY, "STRIPE_API_BASE": "http://api.example.com"}, "STRIPE_API_BASE uses plain http"),
        ({"STRIPE_API_KEY": KEY, "STRIPE_ACCOUNT_ID": "cus_1"}, "STRIPE_ACCOUNT_ID must be a string (acct_"),
        ({"PINKCONNECT_PROXY_URL": "https://p.example", "PINKCONNECT_TOKEN": " t"}, "PINKCONNECT_TOKEN has surrounding spaces"),
        (
            {"PINKCONNECT_PROXY_URL": "https://p.example", "PINKCONNECT_TOKEN": "t", "PINKCONNECT_EXTRA_HEADERS": '{"X-A": " v"}'},
            "PINKCONNECT_EXTRA_HEADERS has a value that is empty",
        ),
    ],
)
def test_environment_config_errors_name_the_variable(environ, named):
    with pytest.raises(ConfigError) as caught:
        StripeConnection.from_env(environ)
    assert caught.value.message.startswith(named), caught.value.message


def test_validating_an_actions_config_loads_no_airbyte_module():
    code = (
        "import sys; from source_stripe_proxy.actions.connection import StripeConnection; "
        "StripeConnection.from_env({'STRIPE_API_KEY': 'sk_test_x'}); "
        "print(sorted(m for m in sys.modules if m.startswith('airbyte_cdk')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_spec_yaml_is_read_only_when_a_config_is_validated():
    """`import source_stripe_proxy.actions` (and a CLI dry run) doesn't pay for YAML."""
    code = "import sys, source_stripe_proxy.actions.cli; print('yaml' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"
