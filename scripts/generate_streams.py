#!/usr/bin/env python3
"""Build the stream catalogue from Stripe's OpenAPI description: every list endpoint a stream.

A list endpoint is a GET whose 200 response is a Stripe list (``object: "list"``). Each becomes
a stream, except those ``stream_overrides.yaml`` leaves out (previews, duplicates, endpoints whose
parent no endpoint lists). What the spec cannot tell (Airbyte's names, ``status=all``, which
products an account must enable, ...) comes from that one overrides file; everything else is
read from the spec here:

* the object component, its ``object`` values, ``id`` as primary key;
* whether the list filters on ``created`` and which field holds the creation time;
* required query parameters and who supplies them (a parent stream, a fixed value, a window);
* the parent of a nested endpoint (``/v1/customers/{customer}/tax_ids`` -> ``customers``) or of
  an endpoint that needs a parent's id (``/v1/setup_attempts?setup_intent=``), the field of the
  child that names its parent (or the one the connector adds), and whether the parent embeds
  its children (a list property; always there when the property is required, else by expand);
* the event types whose ``data.object`` is the stream's object (by object prefix), the one after
  which the object is gone (a tombstone: the object has a ``deleted_<object>`` form) and a
  ``.deleted`` that only cancels it (``customer.subscription.deleted``);
* the retrieve endpoint for re-fetching;
* sync modes and cursor: incremental where the object has events (cursor ``updated``), where a
  parent that embeds it has events, or where the list filters on ``created``; else full refresh.

``build(spec, overrides)`` is pure; ``scripts/generate_schemas.py`` calls it and writes
``data/generated/streams.json``, ``data/generated/stream_examples.json`` and ``docs/streams.md``
(rendered by ``render_docs`` from the catalogue alone, so a test can check the file is current).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

OVERRIDES_PATH = Path(__file__).resolve().parent / "stream_overrides.yaml"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
REF_PREFIX = "#/components/schemas/"
PAGING_PARAMS = {"limit", "starting_after", "ending_before", "expand"}
PARAM = re.compile(r"\{([^}]+)\}")


def load_overrides(path=OVERRIDES_PATH):
    import yaml  # PyYAML comes with the Airbyte CDK; only the generator and a test read this file

    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# Reading the spec
# ---------------------------------------------------------------------------


def ref_name(ref):
    if not ref.startswith(REF_PREFIX):
        raise ValueError(f"unsupported $ref: {ref}")
    return ref[len(REF_PREFIX) :]


def list_endpoints(paths):
    """{path: [component, ...]} of every GET returning a Stripe list (several for a union)."""
    found = {}
    for path, operations in paths.items():
        operation = operations.get("get")
        if not operation:
            continue
        schema = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        properties = schema.get("properties", {})
        if properties.get("object", {}).get("enum") != ["list"]:
            continue
        items = properties["data"]["items"]
        refs = [items["$ref"]] if "$ref" in items else [branch["$ref"] for branch in items["anyOf"]]
        found[path] = [ref_name(ref) for ref in refs]
    return found


def query_parameters(operation):
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}


def path_params(path):
    return PARAM.findall(path)


def fixed(param, params):
    """Whether fixed params set `param` (a deepObject param is set by its sub-keys: scope[type])."""
    return any(key == param or key.startswith(param + "[") for key in params)


def shape(path):
    """The path with its parameters blanked: "/v1/customers/{}/tax_ids"."""
    return PARAM.sub("{}", path)


def event_types(paths):
    form = paths["/v1/webhook_endpoints"]["post"]["requestBody"]["content"][FORM_CONTENT_TYPE]
    return sorted(name for name in form["schema"]["properties"]["enabled_events"]["items"]["enum"] if name != "*")


def object_values(components, component_names):
    return sorted({value for name in component_names for value in components[name]["properties"]["object"].get("enum", [])})


def referenced_components(node):
    """Components a property can hold: its $ref, anyOf branches and expansion resources."""
    refs = set()
    if "$ref" in node:
        refs.add(ref_name(node["$ref"]))
    for branch in node.get("anyOf", []) + node.get("oneOf", []):
        if "$ref" in branch:
            refs.add(ref_name(branch["$ref"]))
    for branch in node.get("x-expansionResources", {}).get("oneOf", []):
        refs.add(ref_name(branch["$ref"]))
    return refs


def embedded_lists(component):
    """{property: (component names of its rows, required)} of the lists an object embeds."""
    found = {}
    required = set(component.get("required", []))
    for name, prop in component.get("properties", {}).items():
        candidates = [prop, *prop.get("anyOf", [])]
        for candidate in candidates:
            props = candidate.get("properties", {})
            if props.get("object", {}).get("enum") == ["list"] and "data" in props:
                items = props["data"].get("items", {})
                refs = (
                    {ref_name(items["$ref"])} if "$ref" in items else {ref_name(b["$ref"]) for b in items.get("anyOf", []) if "$ref" in b}
                )
                found[name] = (refs, name in required)
    return found


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


def singular(word):
    return word.removesuffix("s")


def path_name(path):
    """/v1/tax_rates -> tax_rates; /v1/customers/{customer}/tax_ids -> customer_tax_ids;
    /v1/sources/{source}/source_transactions -> source_transactions."""
    segments = path[len("/v1/") :].split("/")
    params = [i for i, segment in enumerate(segments) if segment.startswith("{")]
    if not params:
        return "_".join(segments)
    before, after = segments[: params[0]], [s for s in segments[params[0] + 1 :] if not s.startswith("{")]
    owner = singular(before[-1])
    child = "_".join(after)
    if child.startswith(owner + "_"):
        return "_".join([*before[:-1], child])
    return "_".join([*before[:-1], owner, child])


# ---------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------


class Catalogue:
    def __init__(self, spec, overrides):
        self.spec = spec
        self.paths = spec["paths"]
        self.components = spec["components"]["schemas"]
        self.overrides = overrides
        self.event_types = event_types(self.paths)
        self.lists = list_endpoints(self.paths)
        self.streams = {}
        self.left_out = []

    # --- which endpoints, under which names --------------------------------

    def collect(self):
        left_out = self.overrides["left_out"]
        for path in sorted(self.lists):
            if path in left_out:
                entry = dict(left_out[path], path=path)
                if entry["kind"] == "duplicate" and entry["of"] not in self.lists:
                    raise ValueError(f"{path} is left out as a duplicate of {entry['of']}, which is no list endpoint")
                self.left_out.append(entry)
                continue
            split = self.overrides["split"].get(path)
            if split:
                for name, filters in split.items():
                    self.add(name, path, self.lists[path], split_filter=filters)
            else:
                self.add(self.overrides["names"].get(path, path_name(path)), path, self.lists[path])
        for name, extra in self.overrides["extra_streams"].items():
            self.add(name, extra["path"], self.lists[extra["path"]], extra=extra)

    def add(self, name, path, component_names, split_filter=None, extra=None):
        if name in self.streams:
            raise ValueError(f"two endpoints would make stream {name!r}: {self.streams[name]['path']} and {path}")
        components = list(component_names)
        if split_filter:
            components = [c for c in components if object_values(self.components, [c]) == [split_filter["object"]]]
        self.streams[name] = {
            "name": name,
            "path": path,
            "components": components,
            "_split": split_filter,
            "_extra": extra,
        }

    # --- facts per stream -------------------------------------------------

    def build(self):
        self.collect()
        for stream in self.streams.values():
            self.describe_list(stream)
        for stream in self.streams.values():
            self.describe_parent(stream)
        for stream in self.streams.values():
            self.describe_events(stream)
        for stream in self.streams.values():
            self.describe_product(stream)
        for stream in self.streams.values():
            self.describe_sync(stream)
            self.describe_airbyte(stream)
        routes = {}
        for stream in self.streams.values():
            for event_type in stream["events"]["types"]:
                routes.setdefault(event_type, []).append(stream["name"])
        streams = {name: {k: v for k, v in s.items() if not k.startswith("_")} for name, s in self.streams.items()}
        return {
            "api_version": self.spec["info"]["version"],
            "streams": streams,
            "left_out": sorted(self.left_out, key=lambda entry: entry["path"]),
            "event_routes": {t: sorted(names) for t, names in sorted(routes.items())},
        }

    def stream_overrides(self, stream):
        return self.overrides["streams"].get(stream["name"], {})

    def describe_list(self, stream):
        path, components = stream["path"], stream["components"]
        operation = self.paths[path]["get"]
        query = query_parameters(operation)
        props = [self.components[c]["properties"] for c in components]
        own = self.stream_overrides(stream)
        stream["objects"] = object_values(self.components, components)
        stream["primary_key"] = own.get("primary_key", ["id"])
        if not all("id" in p for p in props):
            raise ValueError(f"{stream['name']}: records without an id")
        stream["filters_created"] = "created" in query
        if all("created" in p for p in props):
            stream["created_field"] = "created"
        elif stream["filters_created"] and all("date" in p for p in props):
            stream["created_field"] = "date"  # invoice items: the list's `created` filter is on `date`
        else:
            stream["created_field"] = None
        params = dict(own.get("params", {}))
        if stream["_split"]:
            params.update(stream["_split"])
        stream["params"] = params
        stream["required_params"] = sorted(name for name, p in query.items() if p.get("required"))
        stream["query_params"] = sorted(query)
        stream["paged"] = {"limit", "starting_after"} <= set(query)  # capabilities come all at once
        for note_key in ("note", "window", "also_per", "requires", "dated_by_parent"):
            if note_key in own:
                stream[note_key] = own[note_key]
        stream["immutable"] = bool(own.get("immutable"))
        stream["detail"] = self.detail(stream)

    def detail(self, stream):
        """The retrieve endpoint: GET on the list path plus one id parameter."""
        want = shape(stream["path"]) + "/{}"
        for candidate, operations in sorted(self.paths.items()):
            if shape(candidate) == want and "get" in operations:
                names = path_params(candidate)
                own = dict(zip(names[:-1], path_params(stream["path"]), strict=True))  # same shape: the same parents
                return {"path": candidate, "id_param": names[-1], "list_params": own}
        return None

    def stream_of_component(self, component, namespace=None):
        """The top-level stream listing a component (the parent of a child endpoint)."""
        found = [
            s
            for s in self.streams.values()
            if component in s["components"] and not path_params(s["path"]) and not s["_extra"] and not s["_split"]
        ]
        found = [s for s in found if not self.required_unbound(s)]
        if len(found) != 1:
            return None
        return found[0]["name"]

    def required_unbound(self, stream):
        return [p for p in self.required_from_spec(stream) if not fixed(p, stream["params"])]

    def required_from_spec(self, stream):
        query = query_parameters(self.paths[stream["path"]]["get"])
        return sorted(name for name, p in query.items() if p.get("required"))

    def component_for_param(self, param, child_components):
        """setup_intent -> setup_intent; financial_account -> treasury.financial_account (same namespace)."""
        namespaces = {c.split(".")[0] for c in child_components if "." in c}
        exact = [param] if param in self.components else []
        dotted = [c for c in self.components if c.endswith("." + param) and c.split(".")[0] in namespaces]
        return (dotted + exact)[:1]  # the same namespace first: issuing.card before card

    def describe_parent(self, stream):
        own = self.stream_overrides(stream)
        extra = stream["_extra"] or {}
        parent = copy.deepcopy(own.get("parent") or extra.get("parent"))
        names = path_params(stream["path"])
        if own.get("account_path_param"):
            stream["account_path_param"] = own["account_path_param"]
            names = [n for n in names if n != own["account_path_param"]]
        if parent is None and names:
            # Nested endpoint: the parent is the stream listing the path before the first {param}.
            prefix = stream["path"][: stream["path"].index("{" + names[0] + "}") - 1]
            candidates = [s for s in self.streams.values() if s["path"] == prefix and not s["_split"] and not s["_extra"]]
            if len(candidates) != 1:
                raise ValueError(f"{stream['name']}: no single parent stream lists {prefix}")
            parent = {"stream": candidates[0]["name"], "path_params": {names[0]: "id"}}
        unbound = [p for p in self.required_from_spec(stream) if not fixed(p, stream["params"])]
        window = stream.get("window", {})
        also_per = stream.get("also_per", {})
        unbound = [
            p
            for p in unbound
            if p not in (window.get("start_param"), window.get("end_param"))
            and p not in also_per.get("query_params", {})
            and p not in (parent or {}).get("query_params", {})
        ]
        if parent is None and unbound:
            # A required id parameter: the parent is the stream listing that object.
            param = unbound[0]
            candidates = self.component_for_param(param, stream["components"])
            parent_name = self.stream_of_component(candidates[0]) if candidates else None
            if parent_name is None:
                raise ValueError(f"{stream['name']}: nothing supplies the required parameter {param!r}")
            parent = {"stream": parent_name, "query_params": {param: "id"}}
            unbound = unbound[1:]
        if parent is not None:
            parent.setdefault("path_params", {})
            parent.setdefault("query_params", {})
            parent.setdefault("filter", {})
            parent_components = self.streams[parent["stream"]]["components"]
            parent_props = self.components[parent_components[0]]["properties"]
            for param in list(unbound):
                if param in parent_props:  # e.g. ownership=<the account's ownership id>
                    parent["query_params"][param] = param
                    unbound.remove(param)
            parent["ref"] = self.parent_ref(stream, parent, extra.get("parent_ref"))
            parent["embedded"] = self.embedding(stream, parent)
        if unbound:
            raise ValueError(f"{stream['name']}: nothing supplies the required parameters {unbound}")
        stream["parent"] = parent

    def parent_ref(self, stream, parent, added=None):
        """The child's field naming its parent, or the one the connector adds (`added`)."""
        if added:
            return {"field": added, "added": True}
        parent_components = set(self.streams[parent["stream"]]["components"])
        props = [self.components[c]["properties"] for c in stream["components"]]
        bound = list(parent["path_params"]) + list(parent["query_params"])
        candidates = [name for name in bound if name != "id"] + [c.split(".")[-1] for c in parent_components]
        for name in props[0]:
            if all(name in p and referenced_components(p[name]) & parent_components for p in props):
                return {"field": name, "added": False}
        for name in candidates:
            if all(name in p for p in props):
                return {"field": name, "added": False}
        return {"field": min(parent_components).replace(".", "_") + "_id", "added": True}

    def embedding(self, stream, parent):
        """The parent's list property holding this stream's rows, if any."""
        if parent["query_params"] and list(parent["query_params"].values()) != ["id"]:
            return None
        parent_component = self.components[self.streams[parent["stream"]]["components"][0]]
        own = set(stream["components"])
        last_segment = stream["path"].rsplit("/", 1)[-1]
        for field, (rows, required) in sorted(embedded_lists(parent_component).items()):
            # The same rows may sit in another list of the parent (a quote's line_items are not its
            # computed upfront line items): the field must be the endpoint's, unless the stream
            # filters a mixed list (bank accounts among sources) or names its parent by query.
            if own <= rows and (field == last_segment or own < rows or parent["query_params"]):
                return {"field": field, "always": required, "expand": None if required else field}
        return None

    def event_prefixes(self, stream):
        own = self.overrides["stream_event_prefixes"].get(stream["name"])
        if own is not None:
            return own
        prefixes = []
        for component in stream["components"]:
            if component in self.overrides["event_prefixes"]:
                prefixes += self.overrides["event_prefixes"][component]
            elif component.startswith("issuing."):
                prefixes.append(component.replace(".", "_", 1))
            else:
                prefixes.append(component)
        return prefixes

    def describe_events(self, stream):
        prefixes = self.event_prefixes(stream)
        not_changes = set(self.overrides["not_changes"])
        types = sorted(
            name
            for name in self.event_types
            for prefix in prefixes
            if name.startswith(prefix + ".") and "." not in name[len(prefix) + 1 :] and name not in not_changes
        )
        deletable = any(f"deleted_{c}" in self.components for c in stream["components"]) or self.deleted_by_api(stream)
        dot_deleted = [t for t in types if t.endswith(".deleted")]
        stream["deletable"] = deletable
        stream["events"] = {
            "prefixes": prefixes,
            "types": types,
            "deleted": dot_deleted[0] if deletable and dot_deleted else None,
            "cancelled": dot_deleted[0] if dot_deleted and not deletable else None,
            "refresh": dict(self.stream_overrides(stream).get("refresh_events", {})),
        }
        unknown = [t for t in stream["events"]["refresh"] if t not in self.event_types]
        if unknown:
            raise ValueError(f"{stream['name']}: unknown refresh event types {unknown}")

    def deleted_by_api(self, stream):
        detail = stream["detail"]
        operation = self.paths[detail["path"]].get("delete") if detail else None
        if not operation:
            return False
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        refs = [schema.get("$ref")] + [b.get("$ref") for b in schema.get("anyOf", [])]
        return any(ref and ref_name(ref).startswith("deleted_") for ref in refs)

    def describe_product(self, stream):
        if "product" in stream:
            return
        parent = stream["parent"]
        if parent:
            self.describe_product(self.streams[parent["stream"]])
            inherited = self.streams[parent["stream"]]["product"]
        else:
            inherited = None
        own = [product for prefix, product in self.overrides["products"].items() if stream["path"].startswith(prefix)]
        stream["product"] = own[0] if own else inherited

    def describe_airbyte(self, stream):
        """Whether Airbyte's source-stripe has this stream (same name, same meaning) and its key."""
        stream["airbyte"] = stream["name"] in self.overrides["airbyte_streams"]
        if stream["airbyte"]:
            stream["airbyte_primary_key"] = self.overrides["airbyte_primary_keys"].get(stream["name"], ["id"])

    def describe_sync(self, stream):
        parent = stream["parent"]
        events = stream["events"]
        parent_stream = self.streams[parent["stream"]] if parent else None
        if events["types"]:
            changes = "events"
        elif parent and parent["embedded"] and parent_stream["events"]["types"]:
            changes = "parent_events"  # a change to an embedded child is a change to its parent
        elif events["refresh"]:
            changes = "parent_events"
        elif stream["filters_created"] and stream["created_field"]:
            changes = "created"
        else:
            changes = "full_refresh"
        if stream["immutable"] and changes == "full_refresh":
            raise ValueError(f"{stream['name']}: immutable but not listed by created")
        if events["deleted"]:
            deletes = "events"
        elif parent and parent["embedded"] and parent_stream["events"]["types"] and (parent_stream["deletable"] or stream["deletable"]):
            deletes = "parent_events"  # removed from its parent, or its parent deleted
        elif stream["deletable"]:
            deletes = "full_refresh"
        else:
            deletes = "never"
        stream["changes"] = changes
        stream["deletes"] = deletes
        incremental = changes in ("events", "parent_events", "created")
        stream["sync_modes"] = ["full_refresh", "incremental"] if incremental else ["full_refresh"]
        stream["cursor"] = None if not incremental else ("updated" if changes != "created" else stream["created_field"])


def build(spec, overrides):
    catalogue = Catalogue(spec, overrides).build()
    check(catalogue, overrides)
    return catalogue


def check(catalogue, overrides):
    """Fail the generation when the overrides no longer match the spec."""
    streams = catalogue["streams"]
    missing = [name for name in overrides["airbyte_streams"] if name not in streams]
    if missing:
        raise ValueError(f"Airbyte streams missing from the catalogue: {missing}")
    for name in overrides["streams"]:
        if name not in streams:
            raise ValueError(f"stream_overrides.yaml names unknown stream {name!r}")
    for name in overrides["stream_event_prefixes"]:
        if name not in streams:
            raise ValueError(f"stream_overrides.yaml names unknown stream {name!r}")


# ---------------------------------------------------------------------------
# Example objects (Stripe-shaped, every field filled, generated from the component)
# ---------------------------------------------------------------------------

EXAMPLE_DEPTH = 2  # nested objects below this many $refs are left empty: enough to type-check
EXAMPLE_TIME = 1718000000  # 2024-06-10, a plausible time for API 2024-06-20


class ExampleMaker:
    def __init__(self, components):
        self.components = components

    def make(self, component_name):
        return self.node(self.components[component_name], 0, (component_name,), component_name)

    def node(self, node, depth, stack, name_hint):
        if "$ref" in node:
            name = ref_name(node["$ref"])
            if name in stack or depth >= EXAMPLE_DEPTH:
                return None if node.get("nullable") else {}
            return self.node(self.components[name], depth + 1, (*stack, name), name_hint)
        branches = node.get("anyOf") or node.get("oneOf")
        if branches:
            if "x-expansionResources" in node or any(b.get("type") == "string" for b in branches):
                strings = [b for b in branches if b.get("type") == "string"]
                if strings:
                    return self.scalar(strings[0], name_hint)
            usable = [b for b in branches if b.get("type") != "null"]
            return self.node(usable[0], depth, stack, name_hint) if usable else None
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            props = node.get("properties")
            if props is None:
                extra = node.get("additionalProperties")
                return {"key": self.node(extra, depth, stack, "key")} if isinstance(extra, dict) else {}
            if props.get("object", {}).get("enum") == ["list"]:
                return {"object": "list", "data": [], "has_more": False, "url": "/v1/example"}
            return {key: self.node(prop, depth, stack, key) for key, prop in props.items()}
        if kind == "array":
            items = node.get("items", {})
            if "$ref" in items and depth >= EXAMPLE_DEPTH:
                return []
            return [self.node(items, depth, stack, name_hint)]
        return self.scalar(node, name_hint)

    def scalar(self, node, name_hint):
        kind = node.get("type")
        if "enum" in node:
            return node["enum"][0]
        if kind == "string":
            if name_hint == "currency":
                return "usd"
            if name_hint == "id":
                return "example_id"
            return "example"
        if kind == "integer":
            return EXAMPLE_TIME if node.get("format") == "unix-time" else 1
        if kind == "number":
            return 1.5
        if kind == "boolean":
            return True
        return None


def build_examples(spec, catalogue):
    """One example object per stream (per component for unions), ``object`` set to its value."""
    maker = ExampleMaker(spec["components"]["schemas"])
    examples = {}
    for name, stream in catalogue["streams"].items():
        rows = []
        for component in stream["components"]:
            example = maker.make(component)
            example["id"] = f"{name}_example"
            rows.append(example)
        examples[name] = rows
    return examples


# ---------------------------------------------------------------------------
# docs/streams.md
# ---------------------------------------------------------------------------

CHANGES_TEXT = {
    "events": "events of the object",
    "parent_events": "re-read with its parent's events",
    "created": "new objects by `created`; later changes only with a full refresh",
    "full_refresh": "each full refresh",
}
DELETES_TEXT = {
    "events": "tombstone from the `{deleted}` event",
    "parent_events": "with its parent's events",
    "full_refresh": "gone from the next full refresh",
    "never": "never deleted",
}


def parent_text(stream):
    parent = stream.get("parent")
    if stream.get("account_path_param"):
        return "the account read"
    if not parent:
        return ""
    binds = [f"`{{{p}}}`" for p in parent["path_params"]] + [f"`{q}=`" for q in parent["query_params"]]
    text = f"{parent['stream']} ({', '.join(binds)})"
    if parent.get("filter"):
        text += " where " + ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in sorted(parent["filter"].items()))
    if stream.get("also_per"):
        also = stream["also_per"]
        text += f" and each of {also['stream']} ({', '.join(f'`{q}=`' for q in also['query_params'])})"
    if stream.get("window"):
        window = stream["window"]
        text += f", by windows (`{window['start_param']}=`, `{window['end_param']}=`)"
    if parent.get("embedded"):
        embedded = parent["embedded"]
        text += f"; embedded in `{embedded['field']}`" + ("" if embedded["always"] else " by expand")
    return text


def render_docs(catalogue):
    streams = catalogue["streams"]
    lines = [
        "# Streams",
        "",
        f"Generated from Stripe's OpenAPI description (API {catalogue['api_version']}) by",
        "`scripts/generate_schemas.py` (`scripts/generate_streams.py`, hand-written facts in",
        "`scripts/stream_overrides.yaml`); do not edit. Data: `source_stripe_proxy/data/generated/streams.json`.",
        "",
        f"{len(streams)} streams, every list endpoint of the API except the {len(catalogue['left_out'])} left out below.",
        "Incremental streams follow the object's events (cursor `updated`) or, without events,",
        "list new objects by `created`. An event goes to every stream listing its type whose objects",
        "have the event object's `object` (`customer.source.created` with a card: `customer_cards`,",
        "`customer_sources`). A product in the last column must be enabled on the account;",
        'without it Stripe answers "Your account is not set up to use ...".',
        "",
        "| stream | path | parent | sync modes | cursor | primary key | updates | deletes | product |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in sorted(streams):
        s = streams[name]
        params = "&".join(f"{k}={v}" for k, v in sorted(s["params"].items()))
        path = f"`{s['path']}`" + (f" `?{params}`" if params else "")
        modes = ", ".join("incremental" if m == "incremental" else "full refresh" for m in s["sync_modes"])
        updates = "never change" if s["immutable"] else CHANGES_TEXT[s["changes"]]
        deletes = DELETES_TEXT[s["deletes"]].format(deleted=(s["events"]["deleted"] or ""))
        if s["events"]["cancelled"]:
            deletes += f" (`{s['events']['cancelled']}` cancels: an update)"
        key = ", ".join(s["primary_key"])
        label = f"**{name}**" if s["airbyte"] else name
        lines.append(
            f"| {label} | {path} | {parent_text(s)} | {modes} | {s['cursor'] or ''} | {key} | {updates} | {deletes} | "
            f"{s['product'] or ''} |"
        )
    notes = [(name, s["note"]) for name, s in sorted(streams.items()) if s.get("note")]
    lines += ["", "Names in bold are Airbyte source-stripe's (a migrating user keeps their tables)."]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {name}: {note}." for name, note in notes]
    lines += ["", "## Endpoints left out", "", "| path | why |", "| --- | --- |"]
    for entry in catalogue["left_out"]:
        why = entry["kind"]
        if entry.get("of"):
            why += f" of `{entry['of']}`"
        if entry.get("reason"):
            why += f": {entry['reason']}"
        lines.append(f"| `{entry['path']}` | {why} |")
    return "\n".join(lines) + "\n"
