"""`stripe-connection`: both input formats, env config, output and exit codes (HTTP mocked)."""

import io
import json

import pytest

from source_stripe_proxy.actions.cli import main, parse_block, parse_tokens, split_call
from source_stripe_proxy.actions.connection import ActionInputError, config_from_env
from source_stripe_proxy.core.errors import ConfigError

API_KEY = "sk_test_cliSECRETvalue99"
ENV = {"STRIPE_API_KEY": API_KEY}
STRIPE = "https://api.stripe.com"

SEED_CREATE_CUSTOMER = """/your-stripe-connection
action: create
entity: customer
email: customer@example.com
name: John Doe
description: New customer for subscription service
"""
CUSTOMER = {
    "id": "cus_1234567890",
    "object": "customer",
    "email": "customer@example.com",
    "name": "John Doe",
    "description": "New customer for subscription service",
}


class TtyLessInput(io.StringIO):
    def isatty(self):
        return False


def run_cli(argv, stdin="", env=None):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=TtyLessInput(stdin), stdout=out, stderr=err, environ=ENV if env is None else env)
    return code, out.getvalue(), err.getvalue()


# -- parsing: the seed's block form ---------------------------------------------------------


def test_block_form_of_the_seed_example():
    assert parse_block(SEED_CREATE_CUSTOMER) == {
        "action": "create",
        "entity": "customer",
        "email": "customer@example.com",
        "name": "John Doe",
        "description": "New customer for subscription service",
    }


def test_block_form_ignores_blank_and_comment_lines_and_strips_quotes():
    text = (
        '\n\n# a comment\naction: update\n  entity:   customers  \ncustomer_id: cus_1\nname: "Jane Doe"\n\ndescription: Note: colons stay\n'
    )
    assert parse_block(text) == {
        "action": "update",
        "entity": "customers",
        "customer_id": "cus_1",
        "name": "Jane Doe",
        "description": "Note: colons stay",
    }


def test_block_header_line_may_carry_the_call():
    text = "/your-stripe-connection list customers limit=10\nemail: a@b.co\n"
    assert parse_block(text) == {"action": "list", "entity": "customers", "limit": "10", "email": "a@b.co"}
    assert parse_block("/stripe-connection\naction: get\n")["action"] == "get"


def test_block_metadata_lines_and_json_object():
    call = parse_block("action: create\nentity: customer\nmetadata.plan: gold\nmetadata[tier]: 1\n")
    assert call["metadata.plan"] == "gold" and call["metadata[tier]"] == "1"
    assert parse_block('metadata: {"plan": "gold"}')["metadata"] == '{"plan": "gold"}'


def test_block_form_errors_name_the_line():
    with pytest.raises(ActionInputError, match="line 3"):
        parse_block("action: create\nentity: customer\nthis line has no colon\n")
    with pytest.raises(ActionInputError, match="given twice"):
        parse_block("action: create\naction: get\n")
    with pytest.raises(ActionInputError, match="not a parameter name"):
        parse_block("action: create\nbad key: value\n")


def test_json_object_input():
    call = parse_block('{"action": "create", "entity": "price", "amount": 1000, "metadata": {"a": "b"}}')
    assert call == {"action": "create", "entity": "price", "amount": 1000, "metadata": {"a": "b"}}
    with pytest.raises(ActionInputError, match="JSON"):
        parse_block('{"action": ')
    with pytest.raises(ActionInputError, match="object"):
        parse_block('["create"]')


# -- parsing: the argument form -------------------------------------------------------------


def test_argument_form():
    call = parse_tokens(["create", "customer", "email=customer@example.com", "name=John Doe", "description=a=b"])
    assert split_call(call) == ("create", "customer", {"email": "customer@example.com", "name": "John Doe", "description": "a=b"})
    assert parse_tokens(["action=get", "entity=customer", "customer_id=cus_1"])["entity"] == "customer"
    assert parse_tokens(["list", "entity=plans"]) == {"action": "list", "entity": "plans"}


def test_argument_form_errors():
    with pytest.raises(ActionInputError, match="KEY=VALUE"):
        parse_tokens(["create", "customer", "email=a@b.co", "stray"])
    with pytest.raises(ActionInputError, match="KEY=VALUE"):
        parse_tokens(["create", "customer", "extra"])
    with pytest.raises(ActionInputError, match="given twice"):
        parse_tokens(["get", "customer", "action=list"])


# -- config from environment variables ------------------------------------------------------


def test_env_api_key_mode():
    assert config_from_env({"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": "http://127.0.0.1:9"}) == {
        "credentials": {"auth_type": "api_key", "api_key": API_KEY},
        "api_base": "http://127.0.0.1:9",
    }


def test_env_paragon_and_pinkconnect_modes():
    paragon = config_from_env({"PARAGON_PROJECT_ID": "p1", "PARAGON_USER_TOKEN": "t", "PARAGON_PROXY_HOST": "https://h"})
    assert paragon["credentials"] == {"auth_type": "paragon", "project_id": "p1", "user_token": "t", "proxy_host": "https://h"}
    pink = config_from_env(
        {
            "PINKCONNECT_PROXY_URL": "https://pink",
            "PINKCONNECT_TOKEN": "t",
            "PINKCONNECT_EXTRA_HEADERS": '{"X-Conn": "c1"}',
            "STRIPE_ACCOUNT_ID": "acct_1",
        }
    )
    assert pink == {
        "credentials": {"auth_type": "pinkconnect", "proxy_url": "https://pink", "token": "t", "extra_headers": {"X-Conn": "c1"}},
        "account_id": "acct_1",
    }


@pytest.mark.parametrize(
    "env, match",
    [
        ({}, "No connection configured"),
        ({"STRIPE_API_KEY": API_KEY, "PINKCONNECT_TOKEN": "t"}, "several connection modes"),
        ({"PARAGON_PROJECT_ID": "p1"}, "PARAGON_USER_TOKEN"),
        ({"PINKCONNECT_PROXY_URL": "https://p", "PINKCONNECT_TOKEN": "tok-secret", "PINKCONNECT_EXTRA_HEADERS": "nope"}, "JSON object"),
    ],
)
def test_env_errors(env, match):
    with pytest.raises(ConfigError, match=match) as info:
        config_from_env(env)
    assert API_KEY not in info.value.message and "tok-secret" not in info.value.message


# -- the command line -----------------------------------------------------------------------


def test_piping_the_seed_example_prints_the_customer(requests_mock):
    requests_mock.post(f"{STRIPE}/v1/customers", json=CUSTOMER)
    code, out, err = run_cli([], SEED_CREATE_CUSTOMER)
    assert code == 0
    assert json.loads(out) == CUSTOMER
    sent = requests_mock.last_request
    assert sent.text == ("email=customer%40example.com&name=John+Doe&description=New+customer+for+subscription+service")
    key_lines = [line for line in err.splitlines() if line.startswith("idempotency_key: ")]
    assert len(key_lines) == 1 and sent.headers["Idempotency-Key"] in key_lines[0]


def test_argument_form_and_given_idempotency_key(requests_mock):
    requests_mock.post(f"{STRIPE}/v1/customers", json=CUSTOMER)
    code, out, err = run_cli(["create", "customer", "email=customer@example.com", "name=John Doe", "idempotency_key=k-1"])
    assert code == 0 and json.loads(out) == CUSTOMER
    assert requests_mock.last_request.headers["Idempotency-Key"] == "k-1"
    assert "idempotency_key" not in err  # only generated keys are reported


def test_config_file_overrides_environment(requests_mock, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"credentials": {"auth_type": "pinkconnect", "proxy_url": "https://pink.example", "token": "pink-secret"}})
    )
    requests_mock.get("https://pink.example/v1/products/prod_1", json={"id": "prod_1", "object": "product"})
    code, out, _ = run_cli(["--config", str(config), "get", "product", "product_id=prod_1"])
    assert code == 0 and json.loads(out)["id"] == "prod_1"
    assert requests_mock.last_request.headers["Authorization"] == "Bearer pink-secret"


def test_stripe_error_prints_stripes_error_object_and_exits_1(requests_mock):
    requests_mock.get(
        f"{STRIPE}/v1/customers/cus_nope",
        status_code=404,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "id",
                "message": f"No such customer: 'cus_nope' (key {API_KEY})",
            }
        },
    )
    code, out, err = run_cli(["get", "customer", "customer_id=cus_nope"])
    assert code == 1
    error = json.loads(out)["error"]
    assert (error["type"], error["code"], error["param"], error["http_status"]) == ("invalid_request_error", "resource_missing", "id", 404)
    assert API_KEY not in out + err


def test_validation_error_exits_1_before_any_request(requests_mock):
    code, out, _ = run_cli(["list", "customers", "limit=0"])
    assert code == 1 and requests_mock.call_count == 0
    assert json.loads(out) == {
        "error": {"type": "invalid_request_error", "param": "limit", "message": "'limit' must be a whole number from 1 to 100, got '0'."}
    }
    code, out, _ = run_cli([], "action: create\nentity: customer\nemail: a@b.co\n")
    assert code == 1 and json.loads(out)["error"]["param"] == "name"


def test_missing_config_exits_2_and_usage_errors_exit_2(requests_mock):
    code, out, _ = run_cli(["get", "customer", "customer_id=cus_1"], env={})
    assert code == 2 and json.loads(out)["error"]["type"] == "connection_config_error"
    code, _, _ = run_cli(["--no-such-option"])
    assert code == 2
    code, out, _ = run_cli(["--config", "/nonexistent/config.json", "get", "customer", "customer_id=cus_1"])
    assert code == 2 and "/nonexistent/config.json" in json.loads(out)["error"]["message"]
    assert requests_mock.call_count == 0


def test_rejected_key_exits_1_without_echoing_it(requests_mock):
    requests_mock.get(
        f"{STRIPE}/v1/customers",
        status_code=401,
        json={"error": {"type": "invalid_request_error", "message": f"Invalid API Key provided: {API_KEY}"}},
    )
    code, out, err = run_cli(["list", "customers"])
    assert code == 1 and json.loads(out)["error"]["http_status"] == 401
    assert API_KEY not in out + err


def test_dry_run_prints_the_request_and_sends_nothing(requests_mock):
    code, out, _ = run_cli(["--dry-run", "create", "price", "product_id=prod_1", "amount=1000", "currency=USD", "interval=month"], env={})
    assert code == 0 and requests_mock.call_count == 0
    request = json.loads(out)
    assert request["body"] == {"product": "prod_1", "unit_amount": "1000", "currency": "usd", "recurring[interval]": "month"}
    assert (request["method"], request["path"]) == ("POST", "/v1/prices")


def test_help_lists_every_call():
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        code = main(["--help"], stdin=TtyLessInput(""), stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    assert code == 0
    text = out.getvalue()
    for line in ("create customer", "list   balance_transactions", "create plan", "STRIPE_API_KEY", "PINKCONNECT_TOKEN"):
        assert line in text


def test_unexpected_failures_are_reported_as_json_without_secrets(requests_mock):
    requests_mock.get(f"{STRIPE}/v1/customers/cus_1", exc=RuntimeError(f"boom with {API_KEY}"))
    code, out, err = run_cli(["get", "customer", "customer_id=cus_1"])
    assert code == 1
    assert json.loads(out)["error"]["type"] == "api_error" and "RuntimeError" in out
    assert API_KEY not in out + err


def test_network_failure_after_retries_is_an_api_connection_error(requests_mock, tmp_path):
    import requests

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credentials": {"api_key": API_KEY}, "max_retries": 0}))
    requests_mock.post(f"{STRIPE}/v1/products", exc=requests.ConnectionError("refused"))
    code, out, err = run_cli(["--config", str(config), "create", "product", "name=P"])
    assert code == 1
    assert json.loads(out)["error"]["type"] == "api_connection_error"
    assert "idempotency_key: stripe-connection-" in err  # reported before sending, so a retry can reuse it


# -- stdout holds one JSON document; retries go to stderr; the call has a deadline -----------


def test_retries_are_plain_lines_on_stderr_and_stdout_is_one_json_document(requests_mock, capsys):
    import logging

    root = logging.getLogger()
    leaked = logging.StreamHandler(__import__("sys").stdout)  # what the CDK installs once it is loaded
    root.addHandler(leaked)
    try:
        requests_mock.get(
            f"{STRIPE}/v1/customers",
            [
                {"status_code": 500, "json": {"error": {"type": "api_error", "message": "boom"}}},
                {"json": {"object": "list", "data": [], "has_more": False, "url": "/v1/customers"}},
            ],
        )
        code, out, err = run_cli(["list", "customers"])
    finally:
        root.removeHandler(leaked)
    assert code == 0 and requests_mock.call_count == 2
    assert json.loads(out) == {"object": "list", "data": [], "has_more": False, "url": "/v1/customers"}
    assert "stripe-connection: GET /v1/customers: HTTP 500; retry 1/8 in " in err
    assert not err.lstrip().startswith("{")  # plain lines, not Airbyte messages
    assert capsys.readouterr().out == ""  # nothing reached the process's own stdout


def test_the_call_deadline_comes_from_flag_env_or_config_with_a_short_default(monkeypatch, tmp_path):
    from source_stripe_proxy.actions.connection import DEFAULT_TIMEOUT_SECONDS, StripeConnection

    deadlines = []
    monkeypatch.setattr(StripeConnection, "execute", lambda self, call: deadlines.append(self.client.call_deadline_seconds) or {})
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credentials": {"api_key": API_KEY}, "action_timeout_seconds": 9}))
    run_cli(["get", "customer", "customer_id=cus_1"])
    run_cli(["--timeout", "3", "get", "customer", "customer_id=cus_1"])
    run_cli(["get", "customer", "customer_id=cus_1"], env={**ENV, "STRIPE_CONNECTION_TIMEOUT": "7.5"})
    run_cli(["--config", str(config), "get", "customer", "customer_id=cus_1"])
    assert deadlines == [DEFAULT_TIMEOUT_SECONDS, 3.0, 7.5, 9.0]
    assert DEFAULT_TIMEOUT_SECONDS < 30


@pytest.mark.parametrize(
    "args, env", [(["--timeout", "soon"], ENV), (["--timeout", "0"], ENV), ([], {**ENV, "STRIPE_CONNECTION_TIMEOUT": "-1"})]
)
def test_a_bad_deadline_is_a_usage_error_naming_its_setting(requests_mock, args, env):
    code, out, _ = run_cli([*args, "get", "customer", "customer_id=cus_1"], env=env)
    assert code == 2 and requests_mock.call_count == 0
    message = json.loads(out)["error"]["message"]
    assert ("--timeout" if args else "action_timeout_seconds") in message and "seconds" in message


def test_a_closed_port_gives_up_at_the_deadline_with_a_transient_error(requests_mock, tmp_path):
    import requests

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credentials": {"api_key": API_KEY}}))
    requests_mock.get(f"{STRIPE}/v1/customers", exc=requests.ConnectionError("refused"))
    code, out, _err = run_cli(["--config", str(config), "--timeout", "0.5", "list", "customers"])
    assert code == 1
    error = json.loads(out)["error"]
    assert error["type"] == "api_connection_error" and "deadline is 0.5 s" in error["message"]
    assert requests_mock.call_count < 9  # not every one of max_retries=8


# -- every action: describe and --dry-run -----------------------------------------------------


def test_describe_lists_every_entity_and_action():
    code, out, _ = run_cli(["describe"], env={})
    listing = json.loads(out)
    assert code == 0 and (listing["entities"], listing["actions"]) == (146, 545)
    assert {"create", "finalize", "pay", "void", "list"} <= set(listing["by_entity"]["invoice"])


def test_describe_an_entity_gives_its_actions_with_flags():
    code, out, _ = run_cli(["describe", "subscriptions"], env={})
    actions = json.loads(out)["subscription"]["actions"]
    assert code == 0 and actions["cancel"]["method"] == "DELETE" and actions["cancel"]["destructive"] is True
    assert actions["list"]["read_only"] is True


@pytest.mark.parametrize("words", [["describe", "invoice", "finalize"], ["describe", "finalize", "invoice"]])
def test_describe_an_action_gives_its_parameters(words):
    code, out, _ = run_cli(words, env={})
    described = json.loads(out)
    assert code == 0 and (described["method"], described["path"]) == ("POST", "/v1/invoices/{invoice}/finalize")
    assert described["parameters"]["auto_advance"]["accepts"] == "true or false"
    assert described["parameters"]["invoice"] == {
        "accepts": "text",
        "required": True,
        "description": "The id of the invoice.",
        "in": "path",
    }
    assert "input_schema" not in described


def test_describe_with_schema_prints_the_json_schema():
    code, out, _ = run_cli(["--schema", "describe", "price", "create"], env={})
    schema = json.loads(out)["input_schema"]
    assert code == 0 and schema["properties"]["recurring"]["properties"]["interval"]["enum"] == ["day", "month", "week", "year"]
    assert schema["properties"]["amount"]["type"] == "integer"  # the seed's alias of unit_amount


def test_describe_refuses_an_unknown_entity_naming_it():
    code, out, _ = run_cli(["describe", "custmers"], env={})
    error = json.loads(out)["error"]
    assert code == 1 and error["param"] == "entity" and "customer" in error["message"]


@pytest.mark.parametrize(
    "args, method, path, fields",
    [
        (["delete", "customer", "customer_id=cus_1"], "DELETE", "/v1/customers/cus_1", None),
        (
            ["create", "invoice_item", "customer_id=cus_1", "amount=500", "currency=usd"],
            "POST",
            "/v1/invoiceitems",
            {"customer": "cus_1", "amount": "500", "currency": "usd"},
        ),
        (["finalize", "invoice", "invoice_id=in_1", "auto_advance=false"], "POST", "/v1/invoices/in_1/finalize", {"auto_advance": "false"}),
        (["create", "refund", "charge=ch_1", "amount=100"], "POST", "/v1/refunds", {"charge": "ch_1", "amount": "100"}),
        (
            ["create", "coupon", "percent_off=25", "duration=once", "applies_to.products=prod_1,prod_2"],
            "POST",
            "/v1/coupons",
            {"percent_off": "25", "duration": "once", "applies_to[products][]": ["prod_1", "prod_2"]},
        ),
        (["search", "customers", "query=email:'a@b.co'"], "GET", "/v1/customers/search", {"query": "email:'a@b.co'"}),
    ],
)
def test_dry_run_works_for_any_action(requests_mock, args, method, path, fields):
    code, out, _ = run_cli(["--dry-run", *args], env={})
    request = json.loads(out)
    assert code == 0 and requests_mock.call_count == 0
    assert (request["method"], request["path"]) == (method, path)
    assert request.get("body" if method == "POST" else "query") == fields


def test_nested_names_in_the_block_form():
    call = parse_block("action: create\nentity: subscription\ncustomer: cus_1\nitems[0][price]: p1\nitems.0.quantity: 2\n")
    assert call["items[0][price]"] == "p1" and call["items.0.quantity"] == "2"
    _code, out, _ = run_cli(
        ["--dry-run"], "action: create\nentity: subscription\ncustomer: cus_1\nitems[0][price]: p1\nitems.0.quantity: 2\n", env={}
    )
    assert json.loads(out)["body"] == {"customer": "cus_1", "items[0][price]": "p1", "items[0][quantity]": "2"}


def test_a_dry_run_refuses_what_the_connection_mode_cannot_carry(requests_mock, tmp_path):
    receipt = tmp_path / "receipt.pdf"
    receipt.write_bytes(b"%PDF-1.4 receipt")
    upload = ["--dry-run", "create", "file", f"file={receipt}", "purpose=dispute_evidence"]
    paragon = {"PARAGON_PROJECT_ID": "proj_1", "PARAGON_USER_TOKEN": "paragon-user-token"}
    code, out, _ = run_cli(upload, env=paragon)
    error = json.loads(out)["error"]
    assert code == 1 and error["code"] == "connection_mode" and "JSON request bodies" in error["message"]
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"credentials": {"auth_type": "pinkconnect", "proxy_url": "https://pink.example/stripe", "access_token": "pink-token"}})
    )
    code, out, _ = run_cli(["--config", str(config), *upload], env={})
    assert code == 1 and "files.stripe.com" in json.loads(out)["error"]["message"]
    config.write_text(json.dumps({"credentials": {"api_key": "sk_test_123"}}))  # auth_type implied
    code, out, _ = run_cli(["--config", str(config), *upload], env={})
    assert code == 0 and json.loads(out)["host"] == "https://files.stripe.com"
    code, out, _ = run_cli(upload, env={})  # no mode named: the request as it would be sent directly
    assert code == 0 and json.loads(out)["host"] == "https://files.stripe.com"
    code, out, _ = run_cli(upload, env={"STRIPE_API_KEY": "sk_test_123"})
    assert code == 0 and json.loads(out)["files"]["file"]["name"] == "receipt.pdf"
    assert requests_mock.call_count == 0
