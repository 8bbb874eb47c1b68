#!/usr/bin/env python3
"""Generate the stream catalogue, its schemas and the parameter tables from Stripe's OpenAPI spec.

Input: Stripe's OpenAPI 3.0 description (``spec3.json``, API version 2024-06-20).
The connector never reads that file at run time or in tests; it uses the
committed outputs of this script instead:

* ``source_stripe_proxy/data/generated/streams.json`` - the stream catalogue: every list
  endpoint of the API as a stream (built by ``scripts/generate_streams.py`` with the
  hand-written facts of ``scripts/stream_overrides.yaml``), plus the endpoints left out and why.
* ``source_stripe_proxy/data/generated/stream_examples.json`` - one example object per stream,
  every field filled from its component (tests validate them; the emulator serves them).
* ``source_stripe_proxy/data/schemas/<stream>.json`` - one draft-07 JSON Schema per stream,
  derived from the stream's OpenAPI component(s).
* ``docs/streams.md`` - the catalogue as a table (a test fails when it is stale).
* ``source_stripe_proxy/data/generated/list_parameters.json`` - query parameters of every list
  endpoint the streams read from, with enums.
* ``source_stripe_proxy/data/generated/write_parameters.json`` - top-level body
  parameters of create/update endpoints and query parameters of retrieve
  endpoints (see ``WRITE_ENDPOINTS``).
* ``source_stripe_proxy/data/generated/event_types.json`` - every event type Stripe
  can send (the ``enabled_events`` enum of ``POST /v1/webhook_endpoints``);
  ``source/stream_specs.py`` picks each stream's types from it by prefix.
* ``source_stripe_proxy/data/generated/endpoints.json`` - every path template of the
  API (the keys of ``paths``, e.g. ``/v1/customers/{customer}``); the client maps
  a concrete path to its template to keep one rate budget per Stripe endpoint.

Every stream schema also gets the connector's own top-level fields
(``CONNECTOR_PROPERTIES``): ``updated`` (the change cursor) and ``account_id`` (the
Connect account read); streams that can have deletes (those whose changes arrive through
events: a tombstone event, a child removed from its parent, or a re-fetch that finds the
object gone) also get ``is_deleted`` (``DELETE_PROPERTIES``); and a child stream whose
objects do not name their parent gets the field the connector adds for it
(``checkout_session_id``).

Each output's origin (the spec's sha256) is recorded in ``source_stripe_proxy/data/provenance.json``
(``scripts/provenance.py``). Re-run after updating the spec or the overrides (from the repository
root), or ``make check-generated`` to regenerate and fail on any difference:

    .venv/bin/python scripts/generate_schemas.py [--spec PATH]

The default spec path is ``<repo>/../shared/stripe-openapi/spec3.json``.
Only the standard library and PyYAML (for the overrides) are used, and output is
deterministic (sorted keys, indent=2, trailing newline) so that re-running produces no diff.
"""

import argparse
import json
import sys
from pathlib import Path

import generate_streams  # beside this script
from provenance import record_outputs  # beside this script

# (method, path) pairs for write_parameters.json. POSTs contribute their form
# body; GET retrieve endpoints contribute their query parameters (``expand``).
WRITE_ENDPOINTS = [
    ("POST", "/v1/customers"),
    ("POST", "/v1/customers/{customer}"),
    ("GET", "/v1/customers/{customer}"),
    ("POST", "/v1/products"),
    ("POST", "/v1/products/{id}"),
    ("GET", "/v1/products/{id}"),
    ("POST", "/v1/prices"),
    ("POST", "/v1/prices/{price}"),
    ("GET", "/v1/prices/{price}"),
    ("POST", "/v1/plans"),
    ("POST", "/v1/plans/{plan}"),
    ("GET", "/v1/plans/{plan}"),
    ("POST", "/v1/subscriptions"),
    ("POST", "/v1/subscriptions/{subscription_exposed_id}"),
    ("GET", "/v1/subscriptions/{subscription_exposed_id}"),
]

# List filters that the spec types as a bare string, but whose values are the enum of the
# object's field of the same meaning: (list path, filter) -> (component, field).
FILTER_ENUMS_FROM_FIELDS = {
    ("/v1/balance_transactions", "type"): ("balance_transaction", "type"),
}

# Fields the connector adds to every record (see docs/change_capture.md). A field Stripe
# already has (products carry their own ``updated``) keeps Stripe's definition.
CONNECTOR_PROPERTIES = {
    "updated": {"type": "integer"},  # event time of the change, or created on a list read
    "account_id": {"type": ["null", "string"]},  # the Connect account the record was read from
}
# Added to the streams whose records can be tombstones; every record of those carries it.
DELETE_PROPERTIES = {
    "is_deleted": {"type": "boolean"},  # true: the object's last version, deleted at `updated`
}

# How many component $refs deep we inline before falling back to "any object".
# Deeper levels are rarely useful for analytics and would bloat the files.
MAX_REF_DEPTH = 4

# Stripe API version of the spec the outputs are generated from.
API_VERSION = "2024-06-20"

JSON_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
REF_PREFIX = "#/components/schemas/"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC_PATH = REPO_ROOT.parent / "shared" / "stripe-openapi" / "spec3.json"
SCHEMAS_DIR = REPO_ROOT / "source_stripe_proxy" / "data" / "schemas"
DOCS_PATH = REPO_ROOT / "docs" / "streams.md"
GENERATED_DIR = REPO_ROOT / "source_stripe_proxy" / "data" / "generated"

ANY_OBJECT = {"type": "object", "additionalProperties": True}


# ---------------------------------------------------------------------------
# Small helpers on JSON Schema "type" values
# ---------------------------------------------------------------------------


def type_list(schema):
    """Return the schema's "type" as a list (empty when unconstrained)."""
    declared = schema.get("type")
    if declared is None:
        return []
    return list(declared) if isinstance(declared, list) else [declared]


def set_types(schema, types):
    """Store a sorted, de-duplicated type list; a single type stays a plain string."""
    unique = sorted(set(types))
    schema["type"] = unique[0] if len(unique) == 1 else unique
    return schema


def allow_null(schema):
    """Return a copy of ``schema`` that also accepts null."""
    schema = dict(schema)
    if "anyOf" in schema:
        branches = schema["anyOf"]
        if not any("null" in type_list(branch) for branch in branches):
            schema["anyOf"] = [*branches, {"type": "null"}]
        return schema
    if "type" not in schema:
        return schema  # no type constraint: null is already accepted
    return set_types(schema, [*type_list(schema), "null"])


def ref_name(ref):
    if not ref.startswith(REF_PREFIX):
        raise ValueError(f"unsupported $ref: {ref}")
    return ref[len(REF_PREFIX) :]


# ---------------------------------------------------------------------------
# Record schemas (OpenAPI component -> JSON Schema)
# ---------------------------------------------------------------------------


class SchemaConverter:
    """Turns OpenAPI component schemas into permissive draft-07 JSON Schemas.

    Permissive on purpose: records must never be rejected because Stripe added
    an enum value, a field, or returns an object shape we did not inline.
    """

    def __init__(self, components):
        self.components = components

    def convert(self, node, depth, ref_stack):
        """Convert one OpenAPI schema node.

        ``depth`` counts component $refs inlined so far on this path and
        ``ref_stack`` holds their names, for the depth limit and cycle protection.
        """
        if "$ref" in node:
            converted = self.convert_ref(node["$ref"], depth, ref_stack)
        elif "anyOf" in node or "oneOf" in node:
            converted = self.convert_union(node, depth, ref_stack)
        else:
            converted = self.convert_plain(node, depth, ref_stack)
        if node.get("nullable"):
            converted = allow_null(converted)
        return converted

    def convert_ref(self, ref, depth, ref_stack):
        name = ref_name(ref)
        if name in ref_stack or depth >= MAX_REF_DEPTH:
            # Recursive type or too deep: accept any object rather than recurse.
            return dict(ANY_OBJECT)
        return self.convert(self.components[name], depth + 1, (*ref_stack, name))

    def convert_plain(self, node, depth, ref_stack):
        """Convert a node with a concrete ``type`` (or none). Drops enum,
        maxLength, pattern, format, descriptions and nested ``required``."""
        declared = node.get("type")
        if declared == "object" or "properties" in node:
            return self.convert_object(node, depth, ref_stack)
        if declared == "array":
            result = {"type": "array"}
            if "items" in node:
                result["items"] = self.convert(node["items"], depth, ref_stack)
            return result
        if declared is None:
            return {}  # OpenAPI "any value"
        # string / integer / number / boolean; unix-time stays "integer".
        return {"type": declared}

    def convert_object(self, node, depth, ref_stack):
        result = {"type": "object"}
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            # Typed maps such as metadata ({key: string}) keep their value type.
            result["additionalProperties"] = self.convert(extra, depth, ref_stack)
        else:
            result["additionalProperties"] = True
        properties = node.get("properties")
        if properties:
            # Nested fields also accept null: Stripe (and its test doubles) fill nested
            # objects differently across API versions and expansions. A null never
            # harms a destination; a rejected record is data lost. Top-level fields
            # keep Stripe's exact nullability (see build_stream_schema).
            result["properties"] = {name: allow_null(self.convert(prop, depth, ref_stack)) for name, prop in properties.items()}
        return result

    def convert_union(self, node, depth, ref_stack):
        branches = node.get("anyOf") or node.get("oneOf")
        has_id_branch = any(b.get("type") == "string" and "$ref" not in b for b in branches)
        has_ref_branch = any("$ref" in b for b in branches)
        if "x-expansionResources" in node or (has_id_branch and has_ref_branch):
            # Expandable field: an ID string, or the expanded object when the
            # caller asked for it. Any object is accepted in the expanded case.
            return {"type": ["object", "string"]}
        converted = [self.convert(branch, depth, ref_stack) for branch in branches]
        if len(converted) == 1:
            # Stripe wraps nullable $refs as anyOf: [$ref] + nullable: true.
            return converted[0]
        return merge_alternatives(converted)


def merge_alternatives(alternatives):
    """Merge alternative schemas into one that accepts at least everything any
    alternative accepts (e.g. bank_account | card in external account lists)."""
    types = []
    for alternative in alternatives:
        alternative_types = type_list(alternative)
        if not alternative_types:
            return {}  # one alternative accepts anything, so the union does too
        types.extend(alternative_types)
    merged = set_types({}, types)
    objects = [a for a in alternatives if "object" in type_list(a)]
    if objects:
        merged["additionalProperties"] = True
        # Keep only properties every object alternative declares identically;
        # anything else is still allowed through additionalProperties.
        common = dict(objects[0].get("properties", {}))
        for other in objects[1:]:
            other_props = other.get("properties", {})
            common = {k: v for k, v in common.items() if other_props.get(k) == v}
        if common:
            merged["properties"] = common
    arrays = [a for a in alternatives if "array" in type_list(a)]
    if len(arrays) == 1 and "items" in arrays[0]:
        merged["items"] = arrays[0]["items"]
    return merged


def can_have_deletes(catalogue_entry):
    """Whether a stream's records can be tombstones: its changes arrive through events."""
    return catalogue_entry["changes"] in ("events", "parent_events")


def component_properties(component_name, components):
    """Top-level JSON Schema properties of one component, with Stripe's nullability."""
    component = components[component_name]
    converter = SchemaConverter(components)
    required = set(component.get("required", []))
    properties = {}
    for name, prop in component["properties"].items():
        converted = converter.convert(prop, 0, (component_name,))
        # Stripe leaves out non-required top-level fields in some responses
        # (and older API versions), so those also accept null. ``id`` is kept
        # strict: listed records always carry one (the invoice component marks
        # it optional only because upcoming-invoice previews have none).
        if name != "id" and name not in required:
            converted = allow_null(converted)
        properties[name] = converted
    if "id" not in properties:
        raise ValueError(f"component {component_name} has no id property")
    return properties


def union_properties(alternatives):
    """Properties of a list of several object types (a customer's sources: bank account, card,
    source): a field of every type keeps a schema accepting each type's value; a field of
    only some types also accepts null."""
    names = sorted({name for properties in alternatives for name in properties})
    merged = {}
    for name in names:
        schemas = [properties[name] for properties in alternatives if name in properties]
        unique = [schema for i, schema in enumerate(schemas) if schema not in schemas[:i]]
        schema = unique[0] if len(unique) == 1 else merge_alternatives(unique)
        if len(schemas) < len(alternatives) and name != "id":
            schema = allow_null(schema)
        merged[name] = schema
    return merged


def build_stream_schema(stream, catalogue_entry, components):
    component_names = catalogue_entry["components"]
    alternatives = [component_properties(name, components) for name in component_names]
    properties = alternatives[0] if len(alternatives) == 1 else union_properties(alternatives)
    for name, extra in CONNECTOR_PROPERTIES.items():
        properties.setdefault(name, dict(extra))
    if can_have_deletes(catalogue_entry):
        for name, extra in DELETE_PROPERTIES.items():
            properties.setdefault(name, dict(extra))
    parent = catalogue_entry.get("parent") or {}
    ref = parent.get("ref") or {}
    if ref.get("added"):
        properties.setdefault(ref["field"], {"type": "string"})  # the parent's id, added by the connector
    described = " | ".join(component_names)
    return {
        "$schema": JSON_SCHEMA_DRAFT,
        "title": stream,
        "description": (
            f"Stripe {described} object, generated from Stripe OpenAPI spec3 "
            f"(API version {API_VERSION}) by scripts/generate_schemas.py. Do not edit."
        ),
        "type": "object",
        "additionalProperties": True,
        "required": ["id"],
        "properties": properties,
    }


# ---------------------------------------------------------------------------
# Parameter tables
# ---------------------------------------------------------------------------


def basic_types(schema):
    """Basic JSON types a request parameter accepts (anyOf branches merged)."""
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        types = []
        for branch in branches:
            types.extend(basic_types(branch))
        return types
    if "type" in schema:
        return type_list(schema)
    if "properties" in schema:
        return ["object"]
    return []


def describe_parameter(schema, style=None, required=False):
    """Summarise one request parameter: type, style, enum and sub-keys."""
    described = {}
    types = basic_types(schema)
    if types:
        set_types(described, types)
    if style:
        described["style"] = style
    if "enum" in schema:
        described["enum"] = list(schema["enum"])
    # Sub-keys of deepObject parameters, e.g. created[gte] or automatic_tax[enabled].
    subkeys = set()
    for branch in schema.get("anyOf") or schema.get("oneOf") or [schema]:
        subkeys.update(branch.get("properties", {}))
    if subkeys:
        described["subkeys"] = sorted(subkeys)
    if required:
        described["required"] = True
    return described


def describe_operation_parameters(operation):
    """Split an operation's declared parameters into query and path tables."""
    tables = {"query": {}, "path": {}}
    for parameter in operation.get("parameters", []):
        location = parameter["in"]
        if location not in tables:
            continue
        tables[location][parameter["name"]] = describe_parameter(
            parameter.get("schema", {}),
            style=parameter.get("style"),
            required=parameter.get("required", False),
        )
    return {location: table for location, table in tables.items() if table}


def list_item_component(operation):
    """Component name of the items returned by a list endpoint (data[])."""
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    items = schema["properties"]["data"]["items"]
    if "$ref" not in items:  # a list of several types (a customer's sources)
        return [ref_name(branch["$ref"]) for branch in items["anyOf"]]
    return ref_name(items["$ref"])


def build_list_parameters(paths, components, list_paths):
    table = {}
    for path in list_paths:
        operation = paths[path]["get"]
        entry = describe_operation_parameters(operation)
        entry.setdefault("query", {})
        entry["object"] = list_item_component(operation)
        for name, described in entry["query"].items():
            source = FILTER_ENUMS_FROM_FIELDS.get((path, name))
            if source and "enum" not in described:
                component, field = source
                described["enum"] = list(components[component]["properties"][field]["enum"])
        table[path] = entry
    return table


def build_write_parameters(paths):
    table = {}
    for method, path in WRITE_ENDPOINTS:
        operation = paths[path][method.lower()]
        entry = describe_operation_parameters(operation)
        if method == "POST":
            form = operation["requestBody"]["content"][FORM_CONTENT_TYPE]
            body_schema = form["schema"]
            encoding = form.get("encoding", {})
            entry["body"] = {
                name: describe_parameter(prop, style=encoding.get(name, {}).get("style"))
                for name, prop in body_schema.get("properties", {}).items()
            }
            entry["required"] = sorted(body_schema.get("required", []))
        table[f"{method} {path}"] = entry
    return table


def build_endpoints(paths):
    """Every path template, sorted: Stripe rate-limits per (method, template)."""
    return sorted(paths)


def build_event_types(paths):
    """Every event type, from the enabled_events enum of webhook endpoints (sorted, no "*")."""
    form = paths["/v1/webhook_endpoints"]["post"]["requestBody"]["content"][FORM_CONTENT_TYPE]
    enum = form["schema"]["properties"]["enabled_events"]["items"]["enum"]
    return sorted(name for name in enum if name != "*")


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC_PATH, help="path to spec3.json")
    args = parser.parse_args(argv)

    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    spec_version = spec.get("info", {}).get("version")
    if spec_version != API_VERSION:
        # The version is written into every schema description; refuse to mislabel.
        sys.exit(f"spec is API version {spec_version!r}, expected {API_VERSION!r}; update API_VERSION")
    components = spec["components"]["schemas"]
    paths = spec["paths"]

    catalogue = generate_streams.build(spec, generate_streams.load_overrides())
    streams = catalogue["streams"]
    for old in SCHEMAS_DIR.glob("*.json"):
        if old.stem not in streams:
            old.unlink()  # a stream that left the catalogue
    outputs = []
    for name, entry in streams.items():
        outputs.append(write_json(SCHEMAS_DIR / f"{name}.json", build_stream_schema(name, entry, components)))
    list_paths = sorted({entry["path"] for entry in streams.values()} | {"/v1/events"})
    outputs += [
        write_json(GENERATED_DIR / "streams.json", catalogue),
        write_json(GENERATED_DIR / "stream_examples.json", generate_streams.build_examples(spec, catalogue)),
        write_json(GENERATED_DIR / "list_parameters.json", build_list_parameters(paths, components, list_paths)),
        write_json(GENERATED_DIR / "write_parameters.json", build_write_parameters(paths)),
        write_json(GENERATED_DIR / "event_types.json", build_event_types(paths)),
        write_json(GENERATED_DIR / "endpoints.json", build_endpoints(paths)),
    ]
    DOCS_PATH.write_text(generate_streams.render_docs(catalogue), encoding="utf-8")
    record_outputs("scripts/generate_schemas.py", args.spec, [*outputs, DOCS_PATH])
    print(
        f"wrote {len(streams)} streams ({len(catalogue['left_out'])} endpoints left out), their schemas "
        f"to {SCHEMAS_DIR}, the tables to {GENERATED_DIR} and {DOCS_PATH}"
    )


if __name__ == "__main__":
    main()
