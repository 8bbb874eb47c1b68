"""Rules written once and used by every face: Stripe's metadata limits (core/stripe_facts), the
reading of a boolean (core/forms.parse_boolean) and the scrubbing of a JSON document
(core/redaction.scrub_document). The same input gets the same answer, in the same words,
whether it comes through the actions, the MCP tools or the destination."""

from __future__ import annotations

import pytest

from source_stripe_proxy.actions.connection import ActionInputError, prepare_call
from source_stripe_proxy.actions.mcp_tools import StripeTools, ToolCallError
from source_stripe_proxy.core.forms import parse_boolean
from source_stripe_proxy.core.stripe_facts import (
    METADATA_KEYS_MAX,
    metadata_count_problem,
    metadata_key_problem,
    metadata_value_problem,
)
from source_stripe_proxy.destination.mapping import RecordProblem, map_record
from source_stripe_proxy.destination.options import WriterOptions

TOO_MANY = {f"k{i}": "v" for i in range(METADATA_KEYS_MAX + 1)}
METADATA_CASES = [
    ({"k" * 41: "v"}, metadata_key_problem("k" * 41), "k" * 41),
    ({"a[b]": "v"}, metadata_key_problem("a[b]"), "a[b]"),
    ({"note": "x" * 501}, metadata_value_problem("x" * 501), "note"),
    (TOO_MANY, metadata_count_problem(len(TOO_MANY)), None),
]


@pytest.mark.parametrize("metadata, problem, key", METADATA_CASES, ids=["long key", "brackets", "long value", "51 keys"])
def test_metadata_limits_have_one_wording_in_the_actions_and_the_destination(metadata, problem, key):
    assert problem  # the rule refuses it
    with pytest.raises(ActionInputError) as caught:
        prepare_call("update", "customer", {"customer": "cus_1", "metadata": metadata})
    assert problem in caught.value.message
    assert caught.value.param == ("metadata" if key is None else f"metadata[{key}]")

    if key is None:  # the destination adds the external id to the record's metadata
        metadata = dict(list(metadata.items())[1:])
    with pytest.raises(RecordProblem) as record:
        map_record("customers", {"external_id": "ext_1", "metadata": metadata}, WriterOptions())
    assert record.value.error["message"] == problem


@pytest.mark.parametrize("key, value", [("k" * 40, "v" * 500), ("plan.v2", ""), ("a b", "ok")])
def test_metadata_at_the_limits_passes_everywhere(key, value):
    assert metadata_key_problem(key) is None and metadata_value_problem(value) is None
    assert prepare_call("update", "customer", {"customer": "cus_1", "metadata": {key: value}}).body["metadata"] == {key: value}
    mapped = map_record("customers", {"external_id": "ext_1", "metadata": {key: value}}, WriterOptions())
    assert mapped.payload["metadata"][key] == value


@pytest.mark.parametrize(
    "value, expected",
    [(True, True), (False, False), ("true", True), ("FALSE", False), (" True ", True), ("yes", None), (1, None), ("", None)],
)
def test_one_reading_of_a_boolean_for_parameters_dry_runs_and_records(value, expected):
    assert parse_boolean(value) is expected and parse_boolean(None) is None
    tools = StripeTools(lambda prepared: {"id": "prod_1", "object": "product"})
    arguments = {"product_id": "prod_1", "active": value, "dry_run": True}
    record = {"external_id": "ext_1", "name": "P", "active": value}
    if expected is None:
        with pytest.raises(ActionInputError, match="'active' must be true or false"):
            prepare_call("update", "product", {"product_id": "prod_1", "active": value})
        with pytest.raises(ToolCallError) as caught:
            tools.call("update_product", {"product_id": "prod_1", "dry_run": value})
        assert caught.value.error["error"]["param"] == "dry_run" and "true or false" in caught.value.error["error"]["message"]
        with pytest.raises(RecordProblem, match="must be true or false"):
            map_record("products", record, WriterOptions())
        return
    assert prepare_call("update", "product", {"product_id": "prod_1", "active": value}).body["active"] is expected
    assert tools.call("update_product", arguments)["request"]["body"]["active"] == str(expected).lower()
    assert map_record("products", record, WriterOptions()).payload["active"] is expected


ODD_SECRET = 'hdr"value\\with-quote'  # a proxy header value: JSON escapes it, so a text replace would miss it


def test_a_json_document_is_scrubbed_string_by_string():
    from source_stripe_proxy.core.redaction import MASK, REDACTED_KEY, scrub_document

    document = {"message": f"sent {ODD_SECRET}", ODD_SECRET: [1, True, None, {"k": "sk_live_abcDEF123"}]}
    assert scrub_document(document, (ODD_SECRET,)) == {"message": f"sent {MASK}", MASK: [1, True, None, {"k": REDACTED_KEY}]}


def test_tool_results_and_errors_never_carry_a_secret_even_one_json_escapes():
    import json

    leaky = {"id": "cus_1", "object": "customer", "description": f"header {ODD_SECRET}"}
    tools = StripeTools(lambda prepared: leaky, secrets=(ODD_SECRET,))
    text = tools.render(tools.call("get_customer", {"customer_id": "cus_1"}))
    assert ODD_SECRET not in text and json.dumps(ODD_SECRET)[1:-1] not in text and json.loads(text)["id"] == "cus_1"

    def failing(prepared):
        raise RuntimeError(f"boom {ODD_SECRET}")

    with pytest.raises(ToolCallError) as caught:
        StripeTools(failing, secrets=(ODD_SECRET,)).call("get_customer", {"customer_id": "cus_1"})
    assert ODD_SECRET not in json.dumps(caught.value.error) and json.dumps(ODD_SECRET)[1:-1] not in str(caught.value)
