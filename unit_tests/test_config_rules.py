"""The spec and the code agree: one set of config rules, read from spec.yaml.

* the walk in core/config_rules.py understands every keyword the specs use, and accepts
  exactly the configs jsonschema accepts (fuzzed, boundary values included);
* every bound and choice the faces enforce is the spec's: each face's real validation accepts
  a spec bound and refuses just past it, naming the field, for every numeric field and choice;
* the defaults the code uses are the spec's, and the connection fields are declared alike in
  both specs (the actions validate them against the source's).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from source_stripe_proxy.core import stripe_facts
from source_stripe_proxy.core.config_rules import (
    ANNOTATION_KEYWORDS,
    DESTINATION,
    ENFORCED_KEYWORDS,
    SOURCE,
    ConfigRules,
    connection_specification,
    one_of_options,
)
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.settings import CONNECTION_KEYS, CONNECTION_RULES, ConnectionSettings
from source_stripe_proxy.destination.options import WRITER_KEYS, WriterOptions, destination_config, destination_rules
from source_stripe_proxy.source.options import ReadOptions, source_config, source_rules

KEY = "sk_test_RULESsecretKey55"
SPECS = {face: connection_specification(face) for face in (SOURCE, DESTINATION)}
CREDENTIALS = {"auth_type": "api_key", "api_key": KEY}
# Each face's one validation path, as its commands call it (the actions: the connection fields).
FACES = {
    "source": (SOURCE, source_config),
    "destination": (DESTINATION, destination_config),
    "actions": (SOURCE, ConnectionSettings.from_config),
}
FACE_KEYS = {"source": None, "destination": None, "actions": CONNECTION_KEYS}
UI_ONLY = {"pattern_descriptor"}  # annotations the Airbyte UI reads; jsonschema ignores them


def schemas(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, schema) of every schema in a spec: properties, oneOf options, items, additionalProperties."""
    yield path or "(top)", schema
    for option in schema.get("oneOf") or []:
        yield from schemas(option, f"{path}[{option.get('title')}]")
    for name, prop in (schema.get("properties") or {}).items():
        yield from schemas(prop, f"{path}.{name}" if path else name)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            yield from schemas(schema[key], f"{path}<{key}>")


def leaf_fields(schema: Mapping[str, Any], keys=None) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Top-level fields other than credentials (the credentials' fields are tested by mode)."""
    for name, prop in schema["properties"].items():
        if name != "credentials" and (keys is None or name in keys):
            yield name, prop


# -- the spec uses only what the walk enforces -------------------------------------------------


@pytest.mark.parametrize("face", sorted(SPECS))
def test_every_keyword_in_the_spec_is_enforced_or_an_annotation(face):
    unknown = [
        f"{path}: {key}"
        for path, schema in schemas(SPECS[face])
        for key in schema
        if key not in ENFORCED_KEYWORDS | ANNOTATION_KEYWORDS and key != "properties"
    ]
    assert not unknown, "teach core/config_rules.py these keywords, or move the rule to code: " + ", ".join(unknown)


@pytest.mark.parametrize("face", sorted(SPECS))
def test_every_pattern_says_in_words_what_it_allows(face):
    """Messages never quote the value, so a pattern's rule must be said by its pattern_descriptor."""
    missing = [path for path, schema in schemas(SPECS[face]) if "pattern" in schema and not schema.get("pattern_descriptor")]
    assert not missing


@pytest.mark.parametrize("face, rules", [(SOURCE, source_rules), (DESTINATION, destination_rules)])
def test_a_format_is_checked_by_code(face, rules):
    """The walk ignores `format` (an annotation); a field that has one needs a code check."""
    formatted = [path for path, schema in schemas(SPECS[face]) if "format" in schema]
    assert all(rules().code_rules.get(path) and rules().code_rules[path].check for path in formatted), formatted


@pytest.mark.parametrize("face, rules", [(SOURCE, source_rules), (DESTINATION, destination_rules)])
def test_code_rules_name_fields_the_spec_has(face, rules):
    """A code rule under a name the spec doesn't have would never run."""
    fields = set(SPECS[face]["properties"]) | {
        f"credentials.{name}" for option in SPECS[face]["properties"]["credentials"]["oneOf"] for name in option["properties"]
    }
    assert set(rules().code_rules) <= fields, set(rules().code_rules) - fields


def test_the_connection_fields_are_declared_alike_in_both_specs():
    """The actions and ConnectionSettings validate them against the source's spec: they must be the destination's too."""

    def rules_only(schema: Any) -> Any:
        if isinstance(schema, Mapping):
            return {k: rules_only(v) for k, v in schema.items() if k in ENFORCED_KEYWORDS | {"default"} or k not in ANNOTATION_KEYWORDS}
        if isinstance(schema, list):
            return [rules_only(v) for v in schema]
        return schema

    for key in CONNECTION_KEYS:
        assert rules_only(SPECS[SOURCE]["properties"][key]) == rules_only(SPECS[DESTINATION]["properties"][key]), key
    assert set(CONNECTION_KEYS) <= set(SPECS[SOURCE]["properties"]) & set(SPECS[DESTINATION]["properties"])
    assert set(WRITER_KEYS) <= set(SPECS[DESTINATION]["properties"])


# -- the walk accepts exactly what jsonschema accepts -----------------------------------------

# A "$" in a spec pattern is ECMA-262's (the end of the text); Python's also matches before a
# final newline, so the fuzz keeps text free of newlines (test_a_trailing_newline_... covers them).
text = st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=12)
junk = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
    | st.lists(text, max_size=2)
    | st.dictionaries(text, text, max_size=2)
)


def numbers(prop: Mapping[str, Any]) -> st.SearchStrategy:
    """Each bound, just inside and just outside it, integral floats, fractions, and anything."""
    bounds = [prop[k] for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") if k in prop]
    near = [b + d for b in bounds for d in (-1, -0.001, 0, 0.001, 1)]
    return st.sampled_from([*near, 0, -1, 2.5, 3.0, 10**12]) | st.integers(-10, 10**5) | st.floats(-1e6, 1e6)


def valid_for(prop: Mapping[str, Any]) -> st.SearchStrategy:
    """Values the spec allows: its default, examples and choices, a number at or between its bounds."""
    known = [prop["default"]] if "default" in prop else []
    known += list(prop.get("examples") or []) + list(prop.get("enum") or [])
    kind = prop.get("type")
    if kind in ("integer", "number"):
        low = prop.get("minimum", prop.get("exclusiveMinimum", 0) + 1)
        high = prop.get("maximum", low + 100)
        between = st.integers(math.ceil(low), math.floor(high)) if kind == "integer" else st.floats(low, high)
        return st.sampled_from([*known, low, high]) | between
    if kind == "string" and not known:
        return st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), min_size=1, max_size=12)
    if kind == "boolean":
        return st.booleans()
    return st.sampled_from(known)


def any_for(prop: Mapping[str, Any]) -> st.SearchStrategy:
    """Anything, and for numbers each bound, just inside and just outside it."""
    kind = prop.get("type")
    if kind in ("integer", "number"):
        return numbers(prop) | junk
    if kind == "array":
        item = st.sampled_from(["acct_1", "acct_2", "all", "ALL", "cus_1", "acct_", ""]) | junk
        return st.lists(item, max_size=3) | junk
    if kind == "object":
        return st.dictionaries(text, text | st.integers(), max_size=2) | junk
    return junk


@st.composite
def configs(draw, face: str):
    """A config valid but for at most a few fields (perturbed with bound values or junk)."""
    schema = SPECS[face]
    discriminator, options = one_of_options(schema["properties"]["credentials"])
    fields = [name for name, _ in leaf_fields(schema)]
    credential_fields = sorted({f"credentials.{n}" for o in options.values() for n in o["properties"]})
    perturbed = draw(st.sets(st.sampled_from(["credentials", *credential_fields, *fields]), max_size=2))
    mode = draw(st.sampled_from(sorted(options)))
    credentials: dict[str, Any] = {}
    for name, prop in options[mode]["properties"].items():
        if f"credentials.{name}" in perturbed:
            if draw(st.booleans()):  # left out, or anything
                credentials[name] = draw(any_for(prop) if name != discriminator else junk | st.sampled_from(["oauth", ""]))
        elif name == discriminator:
            credentials[name] = mode
        elif name in options[mode]["required"] or draw(st.booleans()):
            credentials[name] = draw(valid_for(prop))
    config: dict[str, Any] = {}
    if "credentials" not in perturbed:
        config["credentials"] = credentials
    elif draw(st.booleans()):
        config["credentials"] = draw(junk)
    for name, prop in leaf_fields(schema):
        if name in perturbed:
            config[name] = draw(any_for(prop))
        elif draw(st.booleans()):
            config[name] = draw(valid_for(prop))
    return config


def without_unset(value: Any, schema: Mapping[str, Any]) -> Any:
    """The config as jsonschema should see it: the walk reads null (and "" in a text field) as unset."""
    if not isinstance(value, dict):
        return value
    props = dict(schema.get("properties") or {})
    if "oneOf" in schema:
        _, options = one_of_options(schema)
        option = options.get(value.get("auth_type")) if isinstance(value.get("auth_type"), str) else None
        props.update((option or {}).get("properties") or {})
    kept = {}
    for name, item in value.items():
        prop = props.get(name, {})
        if item is None or (item == "" and prop.get("type") == "string"):
            continue
        kept[name] = without_unset(item, prop)
    return kept


def walk_accepts(schema: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    try:
        ConfigRules(schema).validate(config)  # the spec's rules alone, no code rules
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("face", sorted(SPECS))
def test_the_walk_and_jsonschema_agree_on_fuzzed_configs(face):
    validator = jsonschema.Draft7Validator(SPECS[face])

    @hsettings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(configs(face))
    def agree(config):
        expected = validator.is_valid(without_unset(copy.deepcopy(config), SPECS[face]))
        assert walk_accepts(SPECS[face], config) == expected, config

    agree()


def test_the_fuzz_reaches_both_verdicts():
    """Guard for the test above: its configs are not all valid or all invalid."""
    validator = jsonschema.Draft7Validator(SPECS[SOURCE])
    verdicts = set()

    @hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(configs(SOURCE))
    def collect(config):
        verdicts.add(validator.is_valid(without_unset(copy.deepcopy(config), SPECS[SOURCE])))

    collect()
    assert verdicts == {True, False}


def test_a_trailing_newline_does_not_slip_past_a_pattern():
    """ECMA-262's `$` (the Airbyte UI's) ends the text; Python's would also match before a final newline."""
    rules = ConfigRules(SPECS[SOURCE])
    with pytest.raises(ConfigError, match="'account_id'"):
        rules.validate({"credentials": CREDENTIALS, "account_id": "acct_1\n"})


# -- every bound the faces enforce is the spec's ----------------------------------------------


def boundary_cases(face: str) -> list[tuple[str, str, Any, bool]]:
    """(face, field, value, accepted?) at each numeric bound and for each choice of each spec field."""
    spec_face, _ = FACES[face]
    cases = []
    for name, prop in leaf_fields(SPECS[spec_face], FACE_KEYS[face]):
        step = 1 if prop.get("type") == "integer" else 0.001
        for key, inside in (("minimum", True), ("maximum", True), ("exclusiveMinimum", False), ("exclusiveMaximum", False)):
            if key in prop:
                outward = -step if "inimum" in key else step
                cases.append((face, name, prop[key], inside))
                cases.append((face, name, prop[key] + outward, False))
                if not inside:
                    cases.append((face, name, prop[key] - outward, True))
        for choice in prop.get("enum") or []:
            cases.append((face, name, choice, True))
        if "enum" in prop:
            cases.append((face, name, "not-a-choice", False))
        if prop.get("type") == "boolean":
            cases += [(face, name, True, True), (face, name, False, True), (face, name, "true", False)]
        if "maxLength" in prop:
            cases += [(face, name, "k" * prop["maxLength"], True), (face, name, "k" * (prop["maxLength"] + 1), False)]
        for example in prop.get("examples") or []:
            cases.append((face, name, example, True))
    return cases


BOUNDARY_CASES = [case for face in FACES for case in boundary_cases(face)]


def test_the_boundary_table_covers_every_numeric_field():
    numeric = {
        (face, name)
        for face, (spec_face, _) in FACES.items()
        for name, prop in leaf_fields(SPECS[spec_face], FACE_KEYS[face])
        if prop.get("type") in ("integer", "number")
    }
    assert numeric and numeric <= {(face, name) for face, name, _, _ in BOUNDARY_CASES}


@pytest.mark.parametrize("face, name, value, accepted", BOUNDARY_CASES, ids=lambda v: str(v)[:24])
def test_each_face_enforces_the_spec_bound_and_nothing_else(face, name, value, accepted):
    _, validate = FACES[face]
    config = {"credentials": dict(CREDENTIALS), name: value}
    if not accepted:
        with pytest.raises(ConfigError) as caught:
            validate(config)
        assert f"'{name}'" in caught.value.message
        return
    validate(config)  # no bound of its own in code


# -- the defaults the code uses are the spec's ------------------------------------------------


def spec_default(face: str, name: str) -> Any:
    return SPECS[face]["properties"][name].get("default")


def test_connection_defaults_are_the_spec_defaults():
    settings = ConnectionSettings.from_config({"credentials": CREDENTIALS})
    assert settings.base_url == spec_default(SOURCE, "api_base")
    assert settings.stripe_version == spec_default(SOURCE, "stripe_version") == stripe_facts.API_VERSION
    assert settings.timeout_seconds == spec_default(SOURCE, "request_timeout_seconds")
    assert settings.max_retries == spec_default(SOURCE, "max_retries")
    assert settings.endpoint_requests_per_second == spec_default(SOURCE, "endpoint_requests_per_second")
    assert spec_default(SOURCE, "endpoint_requests_per_second") == stripe_facts.ENDPOINT_REQUESTS_PER_SECOND
    paragon = ConnectionSettings.from_config({"credentials": {"auth_type": "paragon", "project_id": "p", "user_token": "t"}})
    _, options = one_of_options(SPECS[SOURCE]["properties"]["credentials"])
    host, integration = (options["paragon"]["properties"][k]["default"] for k in ("proxy_host", "integration_type"))
    assert paragon.base_url == f"{host}/projects/p/sdk/proxy/{integration}"


def test_read_and_write_defaults_are_the_spec_defaults():
    read = source_config({"credentials": CREDENTIALS}).options
    assert read.page_size == spec_default(SOURCE, "page_size")
    assert read.window_seconds == spec_default(SOURCE, "slice_range_days") * 86_400
    assert read.lookback_seconds == spec_default(SOURCE, "lookback_window_days") * 86_400
    assert read.refetch_always == (spec_default(SOURCE, "event_payloads") == "refetch")
    assert read.fail_on_stale_state == (spec_default(SOURCE, "on_stale_state") == "fail")
    assert read == ReadOptions(clock=read.clock)  # the dataclass's defaults say the same
    write = destination_config({"credentials": CREDENTIALS}).options
    assert write == WriterOptions() == WriterOptions(**{k: spec_default(DESTINATION, k) for k in WRITER_KEYS})


def test_stripe_limits_in_the_spec_are_stripes():
    assert SPECS[SOURCE]["properties"]["page_size"]["maximum"] == stripe_facts.MAX_PAGE_SIZE
    assert SPECS[DESTINATION]["properties"]["external_id_field"]["maxLength"] == stripe_facts.METADATA_KEY_MAX


def test_connection_rules_cover_every_url_and_credential_text_field():
    """Each field sent in a header or used as a URL has a code check (JSON Schema can't say 'safe')."""
    _, options = one_of_options(SPECS[SOURCE]["properties"]["credentials"])
    sent = {
        f"credentials.{name}"
        for option in options.values()
        for name, prop in option["properties"].items()
        if prop.get("type") == "string" and "const" not in prop and name != "integration_type"
    }
    sent |= {"api_base", "stripe_version", "credentials.extra_headers"}
    assert sent <= {path for path, rule in CONNECTION_RULES.items() if rule.check}, sent - set(CONNECTION_RULES)
