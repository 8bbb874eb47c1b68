"""Both specs render well in the Airbyte UI.

The UI builds its form from the spec: a `oneOf` becomes a dropdown of its options' titles (the
`const` discriminator inside each option is what it sends, and is not shown), every other field
shows its `title`, its `description` as help text, its `examples` as placeholder, in `order`;
`airbyte_secret` fields are masked and never shown again. These tests walk the specs exactly as
each connector serves them (its `spec` command).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import pytest

from source_stripe_proxy.destination.connector import DestinationStripeProxy
from source_stripe_proxy.source.connector import SourceStripeProxy

SECRET_WORDS = ("key", "token", "secret", "password")
SECRET_NAMES = ("extra_headers",)  # header values carry credentials too


def served_specs() -> dict[str, Mapping[str, Any]]:
    logger = logging.getLogger("test")
    return {
        "source": SourceStripeProxy().spec(logger).connectionSpecification,
        "destination": DestinationStripeProxy().spec(logger).connectionSpecification,
    }


SPECS = served_specs()


def discriminators(schema: Mapping[str, Any]) -> set:
    """Names of the `const` properties that tell the options of a oneOf apart."""
    options = schema.get("oneOf") or []
    names = None
    for option in options:
        consts = {name for name, prop in (option.get("properties") or {}).items() if "const" in prop}
        names = consts if names is None else names & consts
    return names or set()


def walk(schema: Mapping[str, Any], path: str = "", hidden: frozenset = frozenset()) -> Iterator[tuple[str, str, Mapping[str, Any], bool]]:
    """(path, name, property schema, is a oneOf discriminator) for every property at any depth."""
    for option in schema.get("oneOf") or []:
        yield from walk(option, f"{path}[{option.get('title', '?')}]", frozenset(discriminators(schema)))
    for name, prop in (schema.get("properties") or {}).items():
        yield f"{path}.{name}", name, prop, name in hidden
        if prop.get("type") == "object" or "oneOf" in prop:
            yield from walk(prop, f"{path}.{name}")


def objects(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every schema that has `properties` (the top level, each oneOf option, nested objects)."""
    if "properties" in schema:
        yield path or "(top)", schema
    for option in schema.get("oneOf") or []:
        yield from objects(option, f"{path}[{option.get('title', '?')}]")
    for name, prop in (schema.get("properties") or {}).items():
        yield from objects(prop, f"{path}.{name}")


def looks_secret(name: str) -> bool:
    return name in SECRET_NAMES or any(word in name.lower() for word in SECRET_WORDS)


@pytest.mark.parametrize("connector", sorted(SPECS))
def test_spec_is_a_valid_json_schema(connector):
    jsonschema.Draft7Validator.check_schema(SPECS[connector])


@pytest.mark.parametrize("connector", sorted(SPECS))
def test_connection_mode_is_a_titled_one_of(connector):
    credentials = SPECS[connector]["properties"]["credentials"]
    assert "credentials" in SPECS[connector]["required"]
    options = credentials["oneOf"]
    assert len(options) >= 3  # api key, Paragon, PinkConnect
    titles = [option.get("title") for option in options]
    assert all(titles) and len(set(titles)) == len(titles), titles
    assert all(option.get("description") for option in options)
    [discriminator] = discriminators(credentials)
    consts = [option["properties"][discriminator]["const"] for option in options]
    assert len(set(consts)) == len(consts), consts
    for option in options:
        assert discriminator in option["required"], option["title"]
        assert set(option["required"]) <= set(option["properties"]), option["title"]


@pytest.mark.parametrize("connector", sorted(SPECS))
def test_every_field_has_order_title_description(connector):
    missing: list[str] = []
    for path, _name, prop, is_discriminator in walk(SPECS[connector]):
        if not isinstance(prop.get("order"), int):
            missing.append(f"{path}: order")
        if is_discriminator:
            continue  # the UI shows the option's title instead
        for key in ("title", "description"):
            if not str(prop.get(key) or "").strip():
                missing.append(f"{path}: {key}")
    assert not missing, missing


@pytest.mark.parametrize("connector", sorted(SPECS))
def test_orders_are_unique_at_each_level(connector):
    for path, schema in objects(SPECS[connector]):
        orders = [prop.get("order") for prop in schema["properties"].values()]
        assert len(orders) == len(set(orders)), f"{path}: {orders}"


@pytest.mark.parametrize("connector", sorted(SPECS))
def test_free_text_fields_have_examples(connector):
    """A text or number field the user types gets a placeholder; choices and secrets need none."""
    missing = []
    for path, _name, prop, is_discriminator in walk(SPECS[connector]):
        typed = prop.get("type") in ("string", "integer", "number")
        if typed and not is_discriminator and "enum" not in prop and not prop.get("airbyte_secret") and not prop.get("examples"):
            missing.append(path)
    assert not missing, missing


@pytest.mark.parametrize("connector", sorted(SPECS))
def test_secret_looking_fields_are_airbyte_secrets(connector):
    secrets = [(path, prop) for path, name, prop, _ in walk(SPECS[connector]) if looks_secret(name)]
    assert secrets, "every spec has at least a key or a token"
    assert [path for path, prop in secrets if prop.get("airbyte_secret") is not True] == []


@pytest.mark.parametrize("connector", sorted(SPECS))
def test_defaults_and_examples_are_valid_values(connector):
    """A default or example the field itself would reject is worse than none."""
    problems = []
    for path, _name, prop, _ in walk(SPECS[connector]):
        field_schema = {k: v for k, v in prop.items() if k not in ("default", "examples")}
        validator = jsonschema.Draft7Validator(field_schema, format_checker=jsonschema.FormatChecker())
        values = ([("default", prop["default"])] if "default" in prop else []) + [("example", e) for e in prop.get("examples", [])]
        for kind, value in values:
            for error in validator.iter_errors(value):
                problems.append(f"{path} {kind} {value!r}: {error.message}")
    assert not problems, problems


def test_the_checks_catch_a_bad_spec():
    """The walkers above see nested options and fields (so the tests can fail)."""
    bad = {
        "type": "object",
        "properties": {
            "credentials": {
                "type": "object",
                "title": "C",
                "description": "d",
                "order": 0,
                "oneOf": [{"title": "A", "properties": {"mode": {"const": "a", "order": 0}, "api_key": {"type": "string", "order": 1}}}],
            }
        },
    }
    found = {path: (name, hidden) for path, name, _prop, hidden in walk(bad)}
    assert found[".credentials[A].mode"] == ("mode", True)
    assert found[".credentials[A].api_key"] == ("api_key", False)
    assert looks_secret("api_key") and looks_secret("user_token") and looks_secret("extra_headers")
    assert not looks_secret("project_id")
