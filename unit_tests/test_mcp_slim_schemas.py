"""The MCP tool list an agent can afford: by default each named tool offers its required
parameters, the seed's names and the common optional ones (``SEED_COMMON``), slimmed by rule,
in at most 25,000 characters for the whole list; ``--full-schemas`` brings back every parameter.
A slim tool still takes every valid parameter of its action, checked against the full schema."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from mcp import Client

from integration_tests.seed_examples import SEED_EXAMPLES
from source_stripe_proxy.actions.catalog import action_spec, find_action, seed_calls
from source_stripe_proxy.actions.cli import parse_block, split_call
from source_stripe_proxy.actions.connection import PreparedCall
from source_stripe_proxy.actions.mcp_server import build_parser, build_server, prepare
from source_stripe_proxy.actions.mcp_tools import AccessPolicy, StripeTools, ToolCallError
from source_stripe_proxy.actions.seed_aliases import SEED_COMMON
from source_stripe_proxy.actions.tool_results import FIELDS_SCHEMA
from source_stripe_proxy.actions.tool_schemas import SLIM_DESCRIPTION_CHARS, slim_parameters, tool_input_schema, tool_name

BUDGET = 25_000  # characters of the whole tools/list result, as json.dumps writes it


class Recorder:
    def __init__(self) -> None:
        self.calls: list[PreparedCall] = []

    def __call__(self, prepared: PreparedCall) -> Any:
        self.calls.append(prepared)
        return {"id": "sub_1", "object": "subscription"}


def listed(full_schemas: bool) -> list[Any]:
    server = build_server(StripeTools(Recorder(), full_schemas=full_schemas), instructions="test")

    async def scenario():
        async with Client(server, mode="legacy") as client:
            return (await client.list_tools()).tools

    return asyncio.run(scenario())


def listing_chars(tools: list[Any]) -> int:
    return len(json.dumps({"tools": [tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in tools]}))


def test_the_default_tool_list_fits_the_budget_and_full_schemas_bring_back_everything():
    slim, full = listed(False), listed(True)
    assert [t.name for t in slim] == [t.name for t in full]
    assert listing_chars(slim) <= BUDGET < 3 * BUDGET <= listing_chars(full) + BUDGET
    for tool in full:
        spec = next((s for s in seed_calls() if tool_name(s) == tool.name), None)
        if spec is not None:  # today's schema, whole, plus the tool's own fields on reads
            want = tool_input_schema(spec)
            if spec.read_only:
                want["properties"]["fields"] = FIELDS_SCHEMA
            assert tool.input_schema == want


@pytest.mark.parametrize("spec", seed_calls(), ids=tool_name)
def test_a_slim_schema_keeps_the_required_the_seeds_and_the_common_parameters(spec):
    schema = StripeTools(Recorder()).tools[tool_name(spec)].input_schema
    kept = set(schema["properties"])
    aliased = {re.split(r"[\[.]", target, maxsplit=1)[0] for target in spec.aliases.values()}
    assert set(spec.aliases) <= kept
    assert {name for name in spec.required if name not in aliased} <= kept  # customer_id stands for customer
    assert set(SEED_COMMON[(spec.action, spec.entity)]) - aliased <= kept
    assert ("dry_run" in kept) == (not spec.read_only) and ("fields" in kept) == spec.read_only
    assert "all" not in kept and not {"allOf", "anyOf", "oneOf"} & set(schema)
    assert "additionalProperties" not in schema  # other valid parameters are taken, and checked by the server
    assert list(schema["properties"]) == slim_parameters(spec) + (["dry_run"] if not spec.read_only else ["fields"])


def test_every_common_parameter_is_a_parameter_of_its_action_and_every_seed_call_has_some():
    assert set(SEED_COMMON) == {(spec.action, spec.entity) for spec in seed_calls()}
    for (action, entity), names in SEED_COMMON.items():
        assert set(names) <= set(action_spec(entity, action).properties), (action, entity)


@pytest.mark.parametrize("name", sorted(SEED_EXAMPLES))
def test_every_parameter_of_the_seeds_examples_is_in_its_slim_schema(name):
    action, entity, params = split_call(parse_block(SEED_EXAMPLES[name][0]))
    spec = find_action(action, entity)
    assert set(params) <= set(StripeTools(Recorder()).tools[tool_name(spec)].input_schema["properties"]), name


def walk(schema: Any, depth: int = 0):
    yield schema, depth
    if isinstance(schema, dict):
        for key, value in schema.items():
            yield from walk(value, depth + (key == "properties"))
    elif isinstance(schema, list):
        for value in schema:
            yield from walk(value, depth)


@pytest.mark.parametrize("spec", seed_calls(), ids=tool_name)
def test_slimming_shortens_by_rule_and_keeps_each_parameters_type(spec):
    tool = StripeTools(Recorder()).tools[tool_name(spec)]
    full = tool_input_schema(spec)["properties"]
    for name, slim in tool.input_schema["properties"].items():
        description = slim.get("description", "")
        assert "\n" not in description and len(description) <= SLIM_DESCRIPTION_CHARS + 60, (name, description)
        if name in ("dry_run", "fields"):  # the tool's own arguments, not the action's
            continue
        whole = full[name]
        branches = [b for b in whole.get("anyOf", [whole]) if b.get("enum") != [""]]
        if name in spec.aliases and name.endswith("_id"):  # an id by the seed's name: the id, not an inline object
            branches = [b for b in branches if b.get("type") == "string"]
        kinds = {b.get("type") for b in branches}
        assert {b.get("type") for b in slim.get("anyOf", [slim])} == kinds or name == "idempotency_key", name
        for branch in slim.get("anyOf", [slim]):
            assert branch.get("enum") != [""]  # unsetting stays possible, but is not advertised
            full_enum = next((set(b["enum"]) for b in branches if "enum" in b), None)
            assert "enum" not in branch or set(branch["enum"]) == full_enum
    for node, depth in walk(tool.input_schema["properties"]):
        if isinstance(node, dict):
            assert not any(str(k).startswith("x-") for k in node) and node.get("maxLength", 0) < 5000
            assert depth <= 2 or "properties" not in node  # nested objects stop at address.city
    assert len(tool.description) <= 420 and f"stripe_describe entity={spec.entity} action={spec.action}" in tool.description
    assert f"{spec.method} {spec.path}" in tool.description


def test_a_slim_tool_takes_any_valid_parameter_of_its_action_and_refuses_the_rest_by_name():
    execute = Recorder()
    tools = StripeTools(execute)
    assert "cancel_at_period_end" not in tools.tools["create_subscription"].input_schema["properties"]
    tools.call(
        "create_subscription",
        {"customer_id": "cus_1", "price_id": "price_1", "cancel_at_period_end": True, "coupon": "SPRING", "items": None},
    )
    (sent,) = execute.calls
    assert sent.body == {"customer": "cus_1", "items": [{"price": "price_1"}], "cancel_at_period_end": True, "coupon": "SPRING"}
    for arguments, param in (({"cancel_at_period_end": "maybe"}, "cancel_at_period_end"), ({"cuopon": "X"}, "cuopon")):
        with pytest.raises(ToolCallError) as caught:
            tools.call("create_subscription", {"customer_id": "cus_1", "price_id": "price_1", **arguments})
        error = caught.value.error["error"]
        assert error["param"] == param and param in error["message"]
    assert "coupon" in caught.value.error["error"]["accepted"] and "Did you mean coupon?" in error["message"]
    assert len(execute.calls) == 1


def test_the_full_schema_is_one_stripe_describe_away():
    described = StripeTools(Recorder()).call("stripe_describe", {"entity": "subscription", "action": "create"})
    assert described["input_schema"] == tool_input_schema(action_spec("subscription", "create"))
    assert "cancel_at_period_end" in described["input_schema"]["properties"]


def test_stripe_call_names_its_entities_unless_few_are_allowed():
    assert "enum" not in StripeTools(Recorder()).tools["stripe_call"].input_schema["properties"]["entity"]
    allowed = StripeTools(Recorder(), policy=AccessPolicy(allow=["customer", "finalize_invoice"]))
    assert allowed.tools["stripe_call"].input_schema["properties"]["entity"]["enum"] == ["customer", "invoice"]
    with pytest.raises(ToolCallError) as caught:
        StripeTools(Recorder()).call("stripe_call", {"entity": "invoices_x", "action": "list"})
    assert caught.value.error["error"]["param"] == "entity"


def test_the_full_schemas_option_reaches_the_tools():
    environ = {"STRIPE_API_KEY": "rk_test_slimOPTION", "STRIPE_API_BASE": "http://127.0.0.1:9"}
    assert prepare(build_parser().parse_args(["--full-schemas"]), environ).tools.full_schemas is True
    assert prepare(build_parser().parse_args([]), environ).tools.full_schemas is False
