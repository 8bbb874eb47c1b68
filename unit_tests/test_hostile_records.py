"""Hostile records for the destination's mapping: each bad record is refused with a reason
(a code and the param), never a crash; good records next to them map normally."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from source_stripe_proxy.destination.mapping import RecordProblem, map_record
from source_stripe_proxy.destination.options import WriterOptions

OPTIONS = WriterOptions()


def problem(stream, data):
    with pytest.raises(RecordProblem) as info:
        map_record(stream, data, OPTIONS)
    error = info.value.error
    assert error["code"] and error["message"]
    return error


@pytest.mark.parametrize(
    "stream, data, code, param",
    [
        ("customers", {"external_id": "a", "name": {"first": "Ada"}}, "invalid_value", "name"),
        ("customers", {"external_id": "a", "email": ["x@example.com"]}, "invalid_value", "email"),
        ("customers", {"external_id": "a", "address": "1 Main St"}, "invalid_value", "address"),
        ("customers", {"external_id": "a", "address": {"planet": "Mars"}}, "unknown_field", "address[planet]"),
        ("customers", {"external_id": "a", "metadata": ["a", "b"]}, "invalid_value", "metadata"),
        ("customers", {"name": "no key at all"}, "missing_key", "id"),
        ("customers", {"id": 42}, "invalid_id", "id"),
        ("customers", {"id": "prod_123"}, "invalid_id", "id"),
        ("customers", {"id": "cus_1/../../v1/charges"}, "invalid_id", "id"),
        ("customers", {"external_id": {"nested": 1}}, "invalid_external_id", "external_id_field"),
        ("customers", {"external_id": "x" * 501}, "invalid_external_id", "external_id_field"),
        ("customers", {"external_id": "a", "favourite_colour": "blue"}, "unknown_field", "favourite_colour"),
        ("customers", {"external_id": "a", "metadata": {"k" * 41: "v"}}, "invalid_metadata_key", None),
        ("customers", {"external_id": "a", "metadata": {"a[b]": "v"}}, "invalid_metadata_key", None),
        ("products", {"external_id": "p", "active": "maybe"}, "invalid_value", "active"),
        ("products", {"external_id": "p", "name": True}, "invalid_value", "name"),
    ],
)
def test_bad_records_are_refused_with_a_reason(stream, data, code, param):
    error = problem(stream, data)
    assert error["code"] == code
    if param is not None:
        assert error["param"] == param


def test_the_record_is_not_a_json_object():
    assert problem("customers", ["not", "an", "object"])["code"] == "invalid_record"


def test_good_records_still_map():
    mapped = map_record(
        "customers", {"external_id": "ok", "email": "a@example.com", "metadata": {f"k{i}": "v" for i in range(49)}}, OPTIONS
    )
    assert mapped.payload["email"] == "a@example.com" and len(mapped.payload["metadata"]) == 50  # Stripe's limit, external id included


def test_metadata_with_more_than_50_keys_is_refused():
    error = problem("customers", {"external_id": "a", "metadata": {f"k{i}": "v" for i in range(51)}})
    assert error["code"] == "invalid_metadata" and error["param"] == "metadata"


def test_a_metadata_value_over_500_characters_is_refused_before_sending():
    error = problem("customers", {"external_id": "a", "metadata": {"note": "v" * 501}})
    assert error["param"] == "metadata[note]"


def test_a_huge_string_is_refused_before_sending():
    error = problem("customers", {"external_id": "a", "name": "x" * 2_000_000})
    assert error["param"] == "name"


@hsettings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["customers", "products"]),
    st.dictionaries(
        st.sampled_from(["id", "external_id", "email", "name", "description", "phone", "active", "address", "metadata", "junk"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=45), inner, max_size=4),
            max_leaves=8,
        ),
        max_size=6,
    ),
)
def test_fuzz_records_map_or_are_refused_never_crash(stream, data):
    try:
        mapped = map_record(stream, data, OPTIONS)
    except RecordProblem as problem_:
        assert problem_.error["code"] and problem_.error["type"]
        return
    # what is sent is Stripe-shaped: flat strings/booleans, and string-valued hashes
    for name, value in mapped.payload.items():
        if isinstance(value, dict):
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()), name
        else:
            assert isinstance(value, (str, bool)), name
    assert mapped.stripe_id or mapped.external_id or mapped.email
