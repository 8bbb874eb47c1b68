"""The destination's pure parts: options, record mapping, keys, derived ids, comparisons."""

import hashlib
import json
import re

import pytest

from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.forms import encode_form
from source_stripe_proxy.data import resources
from source_stripe_proxy.destination.idempotency import derived_product_id, idempotency_key
from source_stripe_proxy.destination.mapping import (
    STREAMS,
    RecordProblem,
    apply_payload,
    create_params,
    current_values,
    map_record,
    mask_email,
    payload_matches,
    update_params,
)
from source_stripe_proxy.destination.options import WriterOptions
from source_stripe_proxy.destination.writer import search_query

DEFAULT = WriterOptions()


def problem(stream, data, options=DEFAULT):
    with pytest.raises(RecordProblem) as caught:
        map_record(stream, data, options)
    return caught.value.error


# -- options -----------------------------------------------------------------------------


def test_options_defaults():
    options = WriterOptions.from_config({"credentials": {}})
    assert options == WriterOptions("external_id", False, "reject", False, False)


@pytest.mark.parametrize(
    "config, field",
    [
        ({"external_id_field": " sku"}, "external_id_field"),
        ({"external_id_field": "x" * 41}, "external_id_field"),
        ({"external_id_field": "a[b]"}, "external_id_field"),
        ({"external_id_field": "email"}, "external_id_field"),
        ({"external_id_field": "id"}, "external_id_field"),
        ({"external_id_field": 7}, "external_id_field"),
        ({"unknown_fields": "keep"}, "unknown_fields"),
        ({"fail_fast": "yes"}, "fail_fast"),
        ({"dry_run": 1}, "dry_run"),
        ({"match_customers_by_email": "true"}, "match_customers_by_email"),
    ],
)
def test_options_errors_name_the_field_never_the_value(config, field):
    with pytest.raises(ConfigError) as caught:
        WriterOptions.from_config(config)
    message = str(caught.value)
    assert f"'{field}'" in message
    for value in config.values():
        if isinstance(value, str) and value not in ("email", "id", "true"):  # words the message uses anyway
            assert value not in message


def test_options_accept_every_documented_value():
    options = WriterOptions.from_config(
        {"external_id_field": "sku", "unknown_fields": "metadata", "fail_fast": True, "dry_run": True, "match_customers_by_email": True}
    )
    assert options == WriterOptions("sku", True, "metadata", True, True)


# -- mapping -----------------------------------------------------------------------------


def test_customer_fields_map_to_stripe_parameters():
    record = map_record(
        "customers",
        {
            "external_id": 42,
            "email": "ada@example.com",
            "name": "Ada",
            "description": "first",
            "phone": 5551234,
            "address": {"line1": "1 Main St", "city": "Paris", "country": "FR", "line2": None},
            "metadata": {"tier": "gold", "score": 9.0, "vip": True, "tags": ["a", "b"], "gone": None},
        },
        DEFAULT,
    )
    assert record.key == ("external_id", "42")
    assert record.payload == {
        "email": "ada@example.com",
        "name": "Ada",
        "description": "first",
        "phone": "5551234",
        "address": {"line1": "1 Main St", "city": "Paris", "country": "FR"},
        "metadata": {"tier": "gold", "score": "9", "vip": "true", "tags": '["a","b"]', "external_id": "42"},
    }
    # Nested values travel in Stripe's form encoding.
    pairs = dict(encode_form(record.payload))
    assert pairs["address[city]"] == "Paris" and pairs["metadata[external_id]"] == "42"


def test_product_fields_map_and_active_accepts_boolean_strings():
    record = map_record("products", {"external_id": "sku-1", "name": "Widget", "active": "false", "description": ""}, DEFAULT)
    assert record.payload == {"name": "Widget", "active": False, "description": "", "metadata": {"external_id": "sku-1"}}
    assert problem("products", {"external_id": "sku-1", "active": "maybe"})["code"] == "invalid_value"


def test_nulls_are_left_out_and_empty_strings_kept_to_clear():
    record = map_record("customers", {"external_id": "k", "name": None, "phone": ""}, DEFAULT)
    assert record.payload == {"phone": "", "metadata": {"external_id": "k"}}


def test_unknown_fields_are_rejected_by_default():
    error = problem("customers", {"external_id": "k", "favourite_colour": "blue"})
    assert error["code"] == "unknown_field" and error["param"] == "favourite_colour"
    assert "blue" not in error["message"]
    # "active" is a product field, not a customer one.
    assert problem("customers", {"external_id": "k", "active": True})["param"] == "active"
    assert problem("customers", {"external_id": "k", "address": {"planet": "Mars"}})["param"] == "address[planet]"


def test_unknown_fields_go_to_metadata_when_configured():
    options = WriterOptions(unknown_fields="metadata")
    record = map_record("customers", {"external_id": "k", "favourite_colour": "blue", "prefs": {"a": 1}, "metadata": {"x": "1"}}, options)
    assert record.payload["metadata"] == {"x": "1", "favourite_colour": "blue", "prefs": '{"a":1}', "external_id": "k"}
    conflict = problem("customers", {"external_id": "k", "x": "2", "metadata": {"x": "1"}}, options)
    assert conflict["code"] == "metadata_conflict"


@pytest.mark.parametrize(
    "data, code, param",
    [
        ({"external_id": "k", "name": {"first": "A"}}, "invalid_value", "name"),
        ({"external_id": "k", "email": ["a@b.c"]}, "invalid_value", "email"),
        ({"external_id": "k", "name": True}, "invalid_value", "name"),
        ({"external_id": "k", "address": "1 Main St"}, "invalid_value", "address"),
        ({"external_id": "k", "metadata": "x"}, "invalid_value", "metadata"),
        ({"external_id": "k", "metadata": {"k" * 41: "v"}}, "invalid_metadata_key", "metadata[" + "k" * 40 + "]"),
        ({"external_id": "k", "metadata": {"external_id": "other"}}, "metadata_conflict", "metadata"),
        ({"external_id": {"a": 1}}, "invalid_external_id", "external_id_field"),
        ({"external_id": True}, "invalid_external_id", "external_id_field"),
        ({"external_id": " padded"}, "invalid_external_id", "external_id_field"),
        ({"id": "prod_1", "name": "x"}, "invalid_id", "id"),
        ({"id": "cus_1/../x"}, "invalid_id", "id"),
        ({"name": "nobody"}, "missing_key", "id"),
    ],
)
def test_bad_customer_records_are_problems(data, code, param):
    error = problem("customers", data)
    assert (error["code"], error["param"]) == (code, param)
    assert error["type"] == "record_error" and error["message"]


def test_the_record_key_prefers_id_then_external_id_then_email():
    by_email = WriterOptions(match_customers_by_email=True)
    assert map_record("customers", {"id": "cus_1", "external_id": "k"}, DEFAULT).key == ("id", "cus_1")
    assert map_record("customers", {"id": "cus_1", "external_id": "k"}, DEFAULT).payload == {"metadata": {"external_id": "k"}}
    assert map_record("customers", {"external_id": "k", "email": "a@b.co"}, by_email).key == ("external_id", "k")
    assert map_record("customers", {"email": "a@b.co"}, by_email).key == ("email", "a@b.co")
    # Email matching is a customers-only strategy, and only when configured.
    assert problem("customers", {"email": "a@b.co"})["code"] == "missing_key"
    assert problem("products", {"name": "x"}, by_email)["code"] == "missing_key"


def test_a_custom_external_id_field():
    options = WriterOptions(external_id_field="sku")
    record = map_record(
        "products",
        {"sku": "A-1", "name": "x", "external_id": "ignored?"},
        WriterOptions(external_id_field="sku", unknown_fields="metadata"),
    )
    assert record.payload["metadata"] == {"external_id": "ignored?", "sku": "A-1"}
    assert map_record("products", {"sku": "A-1", "name": "x"}, options).key == ("external_id", "A-1")


def test_describe_key_masks_emails():
    by_email = WriterOptions(match_customers_by_email=True)
    assert map_record("customers", {"email": "ada@example.com"}, by_email).describe_key() == "email a***@example.com"
    assert mask_email("nonsense") == "***"


# -- keys --------------------------------------------------------------------------------


def test_idempotency_key_is_deterministic_and_order_insensitive():
    a = idempotency_key("customers", "create", ("external_id", "k"), {"name": "A", "metadata": {"x": "1", "y": "2"}})
    b = idempotency_key("customers", "create", ("external_id", "k"), {"metadata": {"y": "2", "x": "1"}, "name": "A"})
    assert a == b
    assert re.fullmatch(r"sp-customers-create-[0-9a-f]{48}", a) and len(a) <= 255


def test_idempotency_key_documented_derivation():
    payload = {"name": "A"}
    material = json.dumps(
        ["v1", "products", "update", ["external_id", "k"], "prod_1", payload, {"name": "B"}], sort_keys=True, separators=(",", ":")
    )
    expected = "sp-products-update-" + hashlib.sha256(material.encode()).hexdigest()[:48]
    assert idempotency_key("products", "update", ("external_id", "k"), payload, target_id="prod_1", before={"name": "B"}) == expected


@pytest.mark.parametrize(
    "change",
    [
        {"stream": "products"},
        {"action": "update"},
        {"record_key": ("external_id", "other")},
        {"payload": {"name": "B"}},
        {"target_id": "cus_2"},
        {"before": {"name": "old"}},
    ],
)
def test_idempotency_key_changes_with_every_input(change):
    base = {
        "stream": "customers",
        "action": "create",
        "record_key": ("external_id", "k"),
        "payload": {"name": "A"},
        "target_id": None,
        "before": None,
    }
    args = dict(base, **change)
    changed = idempotency_key(args.pop("stream"), args.pop("action"), args.pop("record_key"), args.pop("payload"), **args)
    original = idempotency_key(base["stream"], base["action"], base["record_key"], base["payload"])
    assert changed != original


def test_derived_product_ids_are_stable_readable_and_distinct():
    first = derived_product_id("SKU 001/blue")
    assert first == derived_product_id("SKU 001/blue")
    assert re.fullmatch(r"prod_x_SKU_001_blue_[0-9a-f]{16}", first)
    # Same slug, different keys: the hash keeps them apart.
    assert derived_product_id("SKU 001 blue") != first
    assert re.fullmatch(r"prod_x_[0-9a-f]{16}", derived_product_id("€€€"))
    long_id = derived_product_id("x" * 500)
    assert len(long_id) <= 7 + 32 + 1 + 16 and long_id.startswith(STREAMS["products"].id_prefix)


def test_search_query_quotes_values():
    assert search_query("external_id", "k-1") == "metadata['external_id']:'k-1'"
    assert search_query("external_id", "O'Brien") == "metadata['external_id']:\"O'Brien\""
    assert search_query("external_id", "a'b\"c") == "metadata['external_id']:'a\\'b\"c'"


# -- comparisons -------------------------------------------------------------------------


STRIPE_CUSTOMER = {
    "id": "cus_1",
    "email": "a@b.co",
    "name": "Ada",
    "description": None,
    "address": {"line1": "1 Main", "line2": None, "city": "Paris", "state": None, "postal_code": None, "country": "FR"},
    "metadata": {"external_id": "k", "other": "kept"},
}


@pytest.mark.parametrize(
    "payload, same",
    [
        ({"email": "a@b.co", "metadata": {"external_id": "k"}}, True),
        ({"address": {"city": "Paris"}}, True),
        ({"description": ""}, True),  # clearing an empty field changes nothing
        ({"address": {"city": "Lyon"}}, False),
        ({"metadata": {"external_id": "k", "new": "1"}}, False),
        ({"name": "Bob"}, False),
        ({"phone": "1"}, False),  # a field Stripe doesn't have set
    ],
)
def test_payload_matches(payload, same):
    assert payload_matches(payload, STRIPE_CUSTOMER) is same


def test_current_values_and_apply_payload():
    payload = {"name": "Bob", "address": {"city": "Lyon"}, "description": ""}
    assert current_values(payload, STRIPE_CUSTOMER) == {"name": "Ada", "address": {"city": "Paris"}, "description": None}
    after = apply_payload(STRIPE_CUSTOMER, payload)
    assert after["name"] == "Bob" and after["address"]["city"] == "Lyon" and after["address"]["line1"] == "1 Main"
    assert payload_matches(payload, after)


def test_create_params_leave_out_clears():
    assert create_params({"name": "A", "description": "", "address": {"city": "", "line1": "x"}, "metadata": {"a": ""}}) == {
        "name": "A",
        "address": {"line1": "x"},
    }


def test_update_params_send_whole_addresses_and_merge_metadata():
    payload = {"address": {"city": "Lyon", "line2": ""}, "metadata": {"external_id": "k"}}
    params = update_params(STREAMS["customers"], payload, STRIPE_CUSTOMER)
    assert params["address"] == {"line1": "1 Main", "city": "Lyon", "country": "FR", "line2": ""}
    assert params["metadata"] == {"external_id": "k"}  # Stripe merges metadata key by key itself


def test_the_destination_takes_its_paths_from_the_registry_of_resources():
    """One registry of Stripe resources: the destination's paths are the generated create/search ones."""
    assert STREAMS["customers"].path == "/v1/customers" and STREAMS["customers"].search_path == "/v1/customers/search"
    assert STREAMS["products"].path == "/v1/products" and STREAMS["products"].search_path is None
    assert STREAMS["customers"].object_path("get", "cus_1") == "/v1/customers/cus_1"
    assert STREAMS["products"].object_path("update", "prod_1") == "/v1/products/prod_1"  # the spec names it {id}
    for table in STREAMS.values():
        for action in ("get", "update"):
            template = resources.path(table.object_name, action)
            assert table.object_path(action, "x_1") == template.split("{")[0] + "x_1"
