"""The MCP server's tools without the SDK or a network: which tools exist, their schemas and
hints against the generated table, the --read-only/--allow/--deny policy, dry runs, refusals,
paging, results cut to size, errors and secrets. ``execute`` is a recorder standing in for
the connection: what it receives is exactly what would be sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from source_stripe_proxy.actions import seed_calls
from source_stripe_proxy.actions.catalog import action_spec
from source_stripe_proxy.actions.connection import PreparedCall
from source_stripe_proxy.actions.mcp_tools import (
    NEXT_CURSOR,
    AccessPolicy,
    StripeTools,
    ToolCallError,
    cut_to_size,
    to_json,
    tool_name,
)
from source_stripe_proxy.core.errors import ConfigError, InvalidRequestError, TransientError
from source_stripe_proxy.data import resources

# The list of named tools, in the seed's order, plus `get price` (a call of the seed's
# table: docs/actions.md), and the two general tools.
NAMED = [
    "create_customer",
    "update_customer",
    "get_customer",
    "list_customers",
    "create_subscription",
    "list_subscriptions",
    "create_product",
    "get_product",
    "list_products",
    "list_balance_transactions",
    "list_plans",
    "update_product",
    "get_subscription",
    "create_price",
    "get_price",
    "list_prices",
    "create_plan",
]
SECRET = "sk_test_mcpUNITsecret"
TOKEN = "mcp-unit-bearer-SECRET"


class Recorder:
    """Stands in for ``StripeConnection.execute``: records each prepared call, answers ``answer``."""

    def __init__(self, answer: Any = None, error: Exception | None = None):
        self.calls: list[PreparedCall] = []
        self.answer, self.error = answer, error

    def __call__(self, prepared: PreparedCall) -> Any:
        self.calls.append(prepared)
        if self.error is not None:
            raise self.error
        return self.answer if self.answer is not None else {"id": "obj_1", "object": prepared.spec.returns}


def tools(**kwargs) -> StripeTools:
    policy = AccessPolicy(**{k: kwargs.pop(k) for k in ("read_only", "allow", "deny") if k in kwargs})
    return StripeTools(kwargs.pop("execute", Recorder()), policy=policy, secrets=(SECRET, TOKEN), **kwargs)


def refusal(server: StripeTools, name: str, arguments: dict) -> dict:
    with pytest.raises(ToolCallError) as caught:
        server.call(name, arguments)
    assert json.loads(str(caught.value)) == caught.value.error  # the text a model reads is the object
    return caught.value.error["error"]


def without_vendor_keys(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: without_vendor_keys(v) for k, v in schema.items() if not k.startswith("x-")}
    if isinstance(schema, list):
        return [without_vendor_keys(v) for v in schema]
    return schema


def walk(schema: Any):
    yield schema
    if isinstance(schema, dict):
        for value in schema.values():
            yield from walk(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from walk(value)


# -- what is offered ---------------------------------------------------------------------------


def test_one_named_tool_per_seed_call_plus_the_three_general_tools():
    server = tools()
    assert list(server.tools) == [*NAMED, "stripe_call", "stripe_describe", "stripe_search_actions"]
    assert [tool_name(spec) for spec in seed_calls()] == NAMED


@pytest.mark.parametrize("spec", seed_calls(), ids=tool_name)
def test_named_tool_schema_is_the_actions_parameters_plus_the_seeds_names(spec):  # --full-schemas
    tool = tools(full_schemas=True).tools[tool_name(spec)]
    schema = tool.input_schema
    stripe_names = set(action_spec(spec.entity, spec.action).properties)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert stripe_names <= set(schema["properties"])
    assert set(spec.aliases) <= set(schema["properties"])
    assert "all" not in schema["properties"]  # pages are followed with starting_after
    assert ("dry_run" in schema["properties"]) == (not spec.read_only)
    assert ("idempotency_key" in schema["properties"]) == (spec.method == "POST")
    assert not {"allOf", "anyOf", "oneOf"} & set(schema)  # several model APIs refuse these at the top
    assert set(schema.get("required", ())) <= set(schema["properties"])
    assert not any(isinstance(node, dict) and any(str(k).startswith("x-") for k in node) for node in walk(schema))
    # Stripe's own schema of each parameter, unchanged but for the vendor keys.
    for name in stripe_names:
        assert schema["properties"][name] == without_vendor_keys(spec.properties[name]), name
    # Hints from the generated flags; a description that names the requirements.
    assert (tool.read_only, tool.destructive, tool.idempotent) == (spec.read_only, spec.destructive, spec.idempotent)
    for alias in spec.aliases:
        if alias in ("customer_id", "price_id", "product_id", "subscription_id") and any(
            spec.aliases[alias].startswith(r) for r in spec.required
        ):
            assert alias in tool.description
    assert f"{spec.method} {spec.path}" in tool.description


def test_the_general_tools_schemas_and_hints():  # --full-schemas lists stripe_call's 146 entities
    server = tools(full_schemas=True)
    call, describe = server.tools["stripe_call"], server.tools["stripe_describe"]
    assert call.input_schema["required"] == ["entity", "action"]
    assert set(call.input_schema["properties"]) == {"entity", "action", "params", "dry_run", "fields"}
    assert call.input_schema["properties"]["entity"]["enum"] == sorted(resources.entities())
    assert (call.read_only, call.destructive, call.idempotent) == (False, True, False)
    assert (describe.read_only, describe.open_world) == (True, False)


def test_read_only_offers_reads_only_and_refuses_writes_through_stripe_call():
    execute = Recorder()
    server = tools(read_only=True, execute=execute)
    assert all(tool.read_only for tool in server.tools.values())
    assert set(server.tools) == {n for n in NAMED if n.startswith(("get_", "list_"))} | {
        "stripe_call",
        "stripe_describe",
        "stripe_search_actions",
    }
    assert "dry_run" not in server.tools["stripe_call"].input_schema["properties"]
    error = refusal(server, "stripe_call", {"entity": "customer", "action": "delete", "params": {"customer": "cus_1"}})
    assert error["param"] == "action" and "read-only" in error["message"]
    error = refusal(server, "create_customer", {"email": "a@b.co", "name": "A"})
    assert error["param"] == "name" and "create_customer" not in error["accepted"]
    server.call("stripe_call", {"entity": "invoice", "action": "list", "params": {}})
    assert [c.path for c in execute.calls] == ["/v1/invoices"]
    described = server.call("stripe_describe", {"entity": "invoice"})
    assert set(described["actions"]) == {a for a, r in resources.entities()["invoice"]["actions"].items() if r["read_only"]}


def test_allow_and_deny_take_entities_actions_and_tools():
    server = tools(allow=["customer", "finalize_invoice"])
    assert list(server.tools) == [
        "create_customer",
        "update_customer",
        "get_customer",
        "list_customers",
        "stripe_call",
        "stripe_describe",
        "stripe_search_actions",
    ]
    assert server.tools["stripe_call"].input_schema["properties"]["entity"]["enum"] == ["customer", "invoice"]
    assert server.call("stripe_describe", {})["entities"] == {
        "customer": sorted(resources.entities()["customer"]["actions"]),
        "invoice": ["finalize"],
    }
    error = refusal(server, "stripe_call", {"entity": "invoice", "action": "void", "params": {"invoice": "in_1"}})
    assert "not allowed" in error["message"]

    # Only named tools: stripe_call would reach nothing more, so it is not offered.
    assert list(tools(allow=["get_customer,list_customers"]).tools) == ["get_customer", "list_customers"]
    # Deny wins over allow, and takes a tool's name.
    server = tools(allow=["customer"], deny=["delete_customer", "stripe_describe"])
    assert "stripe_describe" not in server.tools and "stripe_call" in server.tools
    error = refusal(server, "stripe_call", {"entity": "customers", "action": "delete", "params": {"customer": "cus_1"}})
    assert "not allowed" in error["message"]
    assert "list_customers" not in tools(deny=["list_customers"]).tools
    assert not {"stripe_call", "stripe_describe", "stripe_search_actions"} & set(tools(deny=["stripe_call"]).tools)


@pytest.mark.parametrize("item", ["custumer", "explode_customer", "stripe_calls", "list_customerz"])
def test_an_unknown_allow_or_deny_item_is_a_config_error_naming_it(item):
    with pytest.raises(ConfigError, match=f"--deny: '{item}' is not an entity"):
        AccessPolicy(deny=[item])


def test_a_policy_can_leave_nothing_to_offer():  # the server refuses to start then (test_mcp_server_cli)
    assert tools(read_only=True, allow=["create_customer"]).tools == {}


# -- calls -----------------------------------------------------------------------------------------


def test_a_named_tool_takes_the_seeds_names_and_sends_stripes():
    execute = Recorder()
    tools(execute=execute).call("create_subscription", {"customer_id": "cus_1", "price_id": "price_1", "trial_period_days": 14})
    (sent,) = execute.calls
    assert (sent.method, sent.path) == ("POST", "/v1/subscriptions")
    assert sent.body == {"customer": "cus_1", "items": [{"price": "price_1"}], "trial_period_days": 14}
    assert sent.idempotency_key and sent.idempotency_key_generated


def test_dry_run_returns_the_request_and_sends_nothing():
    execute = Recorder()
    server = tools(execute=execute)
    result = server.call("create_price", {"product_id": "prod_1", "amount": 1000, "currency": "USD", "interval": "month", "dry_run": True})
    assert result["dry_run"] is True
    assert result["request"]["body"] == {"product": "prod_1", "unit_amount": "1000", "currency": "usd", "recurring[interval]": "month"}
    result = server.call("stripe_call", {"entity": "invoice", "action": "finalize", "params": {"invoice_id": "in_1"}, "dry_run": True})
    assert (result["request"]["method"], result["request"]["path"]) == ("POST", "/v1/invoices/in_1/finalize")
    assert execute.calls == []
    # A read has no dry_run among its named tool's arguments.
    assert refusal(server, "get_customer", {"customer_id": "cus_1", "dry_run": True})["param"] == "dry_run"


@pytest.mark.parametrize(
    "name, arguments, param",
    [
        ("get_customer", {"customer_id": "cus_1", "emial": "x"}, "emial"),
        ("get_customer", {}, "customer_id"),
        ("create_customer", {"email": "a@b.co"}, "name"),
        ("create_price", {"product_id": "prod_1", "amount": 10.5, "currency": "usd"}, "amount"),
        ("list_customers", {"all": True}, "all"),
        ("stripe_call", {"entity": "customer", "action": "create", "email": "a@b.co"}, "email"),
        ("stripe_call", {"entity": "coupon", "action": "create", "params": {"percent_of": 10}}, "percent_of"),
        ("stripe_call", {"entity": "invoice", "action": "explode", "params": {}}, "action"),
        ("stripe_call", {"entity": "unicorn", "action": "get"}, "entity"),
        ("stripe_call", {"entity": "customer", "action": "list", "params": "not an object"}, "params"),
        ("stripe_describe", {"entity": "customer", "verbose": True}, "verbose"),
        ("no_such_tool", {}, "name"),
    ],
)
def test_unknown_missing_or_wrong_arguments_are_refused_by_name_and_nothing_is_sent(name, arguments, param):
    execute = Recorder()
    error = refusal(tools(execute=execute), name, arguments)
    assert error["type"] == "invalid_request_error" and error["param"] == param, error
    assert (name if name == "no_such_tool" else param) in error["message"]
    assert "stripe-connection" not in error["message"]  # hints name the tools, not the CLI
    assert execute.calls == []


def test_lists_default_to_a_small_page_and_name_the_cursor_to_continue():
    page = {
        "object": "list",
        "url": "/v1/customers",
        "has_more": True,
        "data": [{"id": "cus_1", "object": "customer"}, {"id": "cus_2", "object": "customer"}],
    }
    execute = Recorder(answer=page)
    server = tools(execute=execute, page_size=7)
    result = server.call("list_customers", {})
    assert result[NEXT_CURSOR] == "cus_2" and result["data"] == page["data"]
    server.call("list_customers", {"limit": 3, "starting_after": "cus_2"})
    assert [c.query for c in execute.calls] == [{"limit": 7}, {"limit": 3, "starting_after": "cus_2"}]
    execute.answer = {**page, "has_more": False}
    assert NEXT_CURSOR not in server.call("stripe_call", {"entity": "invoice", "action": "list"})
    assert execute.calls[-1].query == {"limit": 7}
    assert "7 per page" in server.tools["list_customers"].description


def test_describe_lists_entities_actions_and_one_actions_parameters():
    server = tools()
    everything = server.call("stripe_describe", {})["entities"]
    assert len(everything) == len(resources.entities()) and "finalize" in everything["invoice"]
    finalize = server.call("stripe_describe", {"entity": "invoices", "action": "finalize"})
    assert (finalize["method"], finalize["path"]) == ("POST", "/v1/invoices/{invoice}/finalize")
    assert "auto_advance" in finalize["input_schema"]["properties"] and "dry_run" in finalize["input_schema"]["properties"]
    assert refusal(server, "stripe_describe", {"action": "get"})["param"] == "entity"


# -- errors and secrets ---------------------------------------------------------------------------


def test_stripes_error_reaches_the_model_with_type_code_param_and_message():
    error = InvalidRequestError(
        "Stripe refused",
        http_status=404,
        error_type="invalid_request_error",
        code="resource_missing",
        param="id",
        stripe_message="No such customer: 'cus_x'",
        request_id="req_1",
    )
    got = refusal(tools(execute=Recorder(error=error)), "get_customer", {"customer_id": "cus_x"})
    assert got == {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "param": "id",
        "message": "No such customer: 'cus_x'",
        "request_id": "req_1",
        "http_status": 404,
    }


def test_a_write_without_an_answer_hands_back_its_idempotency_key():
    server = tools(execute=Recorder(error=TransientError("No answer from Stripe after 3 attempts.")))
    error = refusal(server, "create_customer", {"email": "a@b.co", "name": "A", "idempotency_key": "key-1"})
    assert error["type"] == "api_connection_error" and error["idempotency_key"] == "key-1"
    assert "same idempotency_key" in error["message"]


def test_no_secret_in_a_result_or_an_error():
    leaky = {"id": "cus_1", "object": "customer", "description": f"made with {SECRET} and {TOKEN}"}
    server = tools(execute=Recorder(answer=leaky))
    text = server.render(server.call("get_customer", {"customer_id": "cus_1"}))
    assert SECRET not in text and TOKEN not in text and "cus_1" in text
    server = tools(execute=Recorder(error=RuntimeError(f"boom {SECRET} {TOKEN} sk_live_otherKEY123")))
    error = refusal(server, "get_customer", {"customer_id": "cus_1"})
    assert error["type"] == "api_error"
    for secret in (SECRET, TOKEN, "sk_live_otherKEY123"):
        assert secret not in json.dumps(error)


# -- results cut to size ---------------------------------------------------------------------------


def customers(count: int, size: int = 400) -> dict:
    return {
        "object": "list",
        "url": "/v1/customers",
        "has_more": False,
        "data": [{"id": f"cus_{i:04d}", "object": "customer", "description": "x" * size} for i in range(count)],
    }


def test_a_long_list_keeps_what_fits_and_says_where_to_continue():
    page = customers(100)
    cut = cut_to_size(page, 5_000)
    assert len(to_json(cut)) <= 5_000
    kept = len(cut["data"])
    assert 1 <= kept < 100 and cut["data"] == page["data"][:kept]
    assert cut["has_more"] is True and cut[NEXT_CURSOR] == page["data"][kept - 1]["id"]
    assert f"starting_after={cut[NEXT_CURSOR]}" in cut["truncated"]
    # The largest count that fits: one more would not.
    assert len(to_json({**cut, "data": page["data"][: kept + 1]})) > 5_000 - 200
    assert cut_to_size(customers(3), 5_000) == customers(3)  # what fits is unchanged


def test_a_long_search_result_drops_next_page_and_asks_for_a_smaller_limit():
    page = {**customers(50), "object": "search_result", "has_more": True, "next_page": "tok"}
    cut = cut_to_size(page, 4_000)
    assert len(to_json(cut)) <= 4_000 and "next_page" not in cut and NEXT_CURSOR not in cut
    assert f"limit={len(cut['data'])}" in cut["truncated"]


def test_a_long_object_empties_its_nested_lists_then_keeps_its_plain_fields():
    invoice = {"id": "in_1", "object": "invoice", "amount_due": 100, "lines": customers(40)}
    cut = cut_to_size(invoice, 3_000)
    assert cut["lines"]["data"] == [] and cut["lines"]["has_more"] is True and cut["amount_due"] == 100
    huge = {"id": "in_2", "object": "invoice", "amount_due": 5, "footer": {"text": "y" * 5_000}}
    cut = cut_to_size(huge, 3_000)
    assert cut["id"] == "in_2" and cut["amount_due"] == 5 and "footer" not in cut and "plain fields" in cut["truncated"]


def test_render_cuts_to_the_servers_limit():
    server = tools(execute=Recorder(answer=customers(100)), max_result_chars=6_000)
    text = server.render(server.call("list_customers", {"limit": 100}))
    assert len(text) <= 6_000 and json.loads(text)["has_more"] is True


@pytest.mark.parametrize(
    "kwargs, message",
    [({"page_size": 0}, "--page-size"), ({"page_size": 101}, "--page-size"), ({"max_result_chars": 100}, "--max-result-chars")],
)
def test_page_size_and_result_limit_are_checked(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        tools(**kwargs)
