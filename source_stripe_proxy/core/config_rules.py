"""One validation path for every face's config, with its rules read from the connectors' spec.

What JSON Schema can state (types, bounds, enums, patterns, lengths, required fields, the
credentials' modes) is stated once, in ``source/spec.yaml`` and ``destination/spec.yaml``, and
enforced here by walking that schema. What it cannot state is code, attached to a field as a
``CodeRule``: a shorthand accepted before the spec's checks (``expand``) and a check after them
(``check``: URL safety, header safety, key shapes, dates not in the future ...). The faces add
cross-field rules after the walk. ``unit_tests/test_config_rules.py`` keeps the two in
agreement: the walk accepts exactly what jsonschema accepts, and every bound the faces enforce
is the spec's.

The walk follows the spec's ``order``, so the first bad field in the form is the one reported,
the same in ``check``, ``discover``, ``read``, ``write`` and the actions. Messages name the
field and say what is allowed; they are built from the field's path and its schema only,
never from the value. ``null`` means "not set" for every field, and so does ``""`` for a text
field; an unset field takes the spec's ``default``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from source_stripe_proxy.core.errors import ConfigError

SOURCE, DESTINATION = "source", "destination"

# Validation keywords the walk enforces. A spec that uses another one fails test_config_rules
# until the walk learns it; annotations are what the walk may ignore.
ENFORCED_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "oneOf",
        "const",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "pattern",
        "minLength",
        "maxLength",
        "items",
        "uniqueItems",
    }
)
ANNOTATION_KEYWORDS = frozenset(
    {"$schema", "title", "description", "order", "examples", "default", "airbyte_secret", "pattern_descriptor", "format"}
)

FieldCheck = Callable[[Any, str], Any]  # (value, field path) -> the value to use, or ConfigError


@dataclass(frozen=True)
class CodeRule:
    """What code adds to one field of the spec."""

    expand: Callable[[Any], Any] | None = None  # a documented shorthand -> the spec's form, before its checks
    check: FieldCheck | None = None  # after the spec's checks: what JSON Schema cannot say


class FieldError(ConfigError):
    """A ConfigError about one field; ``template`` holds ``{field}`` where the field is named."""

    def __init__(self, field: str, template: str):
        self.field = field
        self.template = template
        super().__init__(template.format(field=f"'{field}'"))

    def renamed(self, name: str) -> FieldError:
        """The same error with the field called ``name`` (e.g. the environment variable that set it)."""
        error = FieldError(self.field, self.template)
        error.message = error.internal_message = error.template.format(field=name)
        error.args = (error.message,)
        return error


@functools.cache
def spec_document(face: str) -> Mapping[str, Any]:
    """``source/spec.yaml`` or ``destination/spec.yaml``, parsed once: the one reader of either file
    (the connectors serve it, the config rules come from it)."""
    from importlib import resources  # here, not at import time: ~20 ms with YAML, paid only to validate a config

    import yaml

    text = resources.files(f"source_stripe_proxy.{face}").joinpath("spec.yaml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a SafeLoader, in C where built


def connection_specification(face: str) -> Mapping[str, Any]:
    """The ``connectionSpecification`` of ``source`` or ``destination``, as the connector serves it."""
    return spec_document(face)["connectionSpecification"]


class ConfigRules:
    """A spec's ``connectionSpecification`` plus code rules by field path (``credentials.api_key``)."""

    def __init__(self, schema: Mapping[str, Any], code_rules: Mapping[str, CodeRule] | None = None):
        self.schema = schema
        self.code_rules: Mapping[str, CodeRule] = dict(code_rules or {})

    def validate(self, config: Any, keys: Iterable[str] | None = None) -> dict[str, Any]:
        """The config's values (of ``keys`` only, when given), checked, defaults filled in.

        Raises a ``FieldError`` (a ``ConfigError``) for the first bad field in the spec's order.
        """
        if not isinstance(config, Mapping):
            raise ConfigError("The config must be a JSON object.")
        return self._object(self.schema, config, "", None if keys is None else frozenset(keys))

    # -- the walk ----------------------------------------------------------------------------

    def _object(self, schema: Mapping[str, Any], value: Mapping[str, Any], path: str, keys=None) -> dict[str, Any]:
        required = set(schema.get("required") or ())
        values: dict[str, Any] = {}
        for name, prop in ordered_properties(schema):
            if keys is not None and name not in keys:
                continue
            field = f"{path}.{name}" if path else name
            rule = self.code_rules.get(field, CodeRule())
            raw = value.get(name)
            if rule.expand is not None:
                raw = rule.expand(raw)
            if is_unset(raw, prop):
                if name in required:
                    raise FieldError(field, "Missing {field}: it must be " + describe(prop, required=True) + ".")
                raw = prop.get("default")
                if raw is None:
                    values[name] = None
                    continue
                checked = raw  # the spec's defaults are valid (test_spec_ui checks them)
            else:
                checked = self._value(prop, raw, field)
            values[name] = rule.check(checked, field) if rule.check is not None else checked
        return values

    def _value(self, prop: Mapping[str, Any], value: Any, field: str) -> Any:
        if "oneOf" in prop:
            return self._one_of(prop, value, field)
        kind = prop.get("type")
        if kind == "object" and isinstance(value, Mapping):
            if "properties" in prop:
                return self._object(prop, value, field)
            extra = prop.get("additionalProperties")
            if not isinstance(extra, Mapping) or all(_scalar_ok(extra, item) for item in value.values()):
                return dict(value)
        elif kind == "array" and isinstance(value, (list, tuple)):
            items = prop.get("items") or {}
            distinct = not prop.get("uniqueItems") or not any(a == b for i, a in enumerate(value) for b in value[i + 1 :])
            if all(_scalar_ok(items, item) for item in value) and distinct:
                return [_normalized(items, item) for item in value]
        elif kind not in ("object", "array") and _scalar_ok(prop, value):
            return _normalized(prop, value)
        raise FieldError(field, "{field} must be " + describe(prop) + ".")

    def _one_of(self, prop: Mapping[str, Any], value: Any, field: str) -> dict[str, Any]:
        """A oneOf of objects told apart by a ``const`` property (the credentials' ``auth_type``)."""
        discriminator, options = one_of_options(prop)
        if not isinstance(value, Mapping):
            raise FieldError(field, "{field} must be " + describe(prop) + ".")
        chosen = value.get(discriminator)
        option = options.get(chosen) if isinstance(chosen, str) else None
        if option is None:
            allowed = ", ".join(options)
            if chosen is None:
                raise FieldError(f"{field}.{discriminator}", "Missing {field}: it must be one of: " + allowed + ".")
            raise FieldError(f"{field}.{discriminator}", "{field} must be one of: " + allowed + ".")
        return self._object(option, value, field)


# -- the schema, read -----------------------------------------------------------------------


def ordered_properties(schema: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """``properties`` in the form's order (the UI's ``order``; declaration order breaks ties)."""
    props = list((schema.get("properties") or {}).items())
    return sorted(props, key=lambda item: item[1].get("order", math.inf))


def one_of_options(prop: Mapping[str, Any]) -> tuple[str, dict[str, Mapping[str, Any]]]:
    """(discriminator name, {its const: option schema}) of a oneOf of objects."""
    options = prop["oneOf"]
    common = set.intersection(*({n for n, p in o.get("properties", {}).items() if "const" in p} for o in options))
    if len(common) != 1:
        raise ValueError(f"a oneOf needs exactly one const property common to its options, not {sorted(common)}")
    [discriminator] = common
    return discriminator, {o["properties"][discriminator]["const"]: o for o in options}


def is_unset(value: Any, prop: Mapping[str, Any]) -> bool:
    return value is None or (value == "" and prop.get("type") == "string")


def describe(prop: Mapping[str, Any], *, required: bool = False) -> str:
    """What a field accepts, in words, from its schema alone."""
    if "enum" in prop:
        return "one of: " + ", ".join(str(v) for v in prop["enum"])
    if "oneOf" in prop:
        discriminator, options = one_of_options(prop)
        return f"an object with '{discriminator}' (one of: {', '.join(options)}) and that mode's fields"
    kind = prop.get("type")
    if kind == "boolean":
        return "true or false"
    if kind == "integer":
        return "a whole number" + _range(prop)
    if kind == "number":
        return "a number" + _range(prop)
    if kind == "string":
        text = "a non-empty string" if required or prop.get("minLength", 0) > 0 else "a string"
        if "maxLength" in prop:
            text += f" of at most {prop['maxLength']} characters"
        if "pattern" in prop:
            text += f" ({prop['pattern_descriptor']})"
        return text
    if kind == "array":
        items = prop.get("items") or {}
        text = "a list of " + ("distinct " if prop.get("uniqueItems") else "")
        if items.get("type") == "string":
            return text + "strings" + (f", each {items['pattern_descriptor']}" if "pattern" in items else "")
        return text + "values, each " + describe(items)
    if kind == "object":
        extra = prop.get("additionalProperties")
        if isinstance(extra, Mapping) and extra.get("type") == "string":
            return "an object of names to text values"
        return "an object"
    return "a valid value"


def _range(prop: Mapping[str, Any]) -> str:
    if "minimum" in prop and "maximum" in prop:
        return f" from {_num(prop['minimum'])} to {_num(prop['maximum'])}"
    parts = []
    if "minimum" in prop:
        parts.append(f"at least {_num(prop['minimum'])}")
    elif "exclusiveMinimum" in prop:
        parts.append(f"above {_num(prop['exclusiveMinimum'])}")
    if "maximum" in prop:
        parts.append(f"at most {_num(prop['maximum'])}")
    elif "exclusiveMaximum" in prop:
        parts.append(f"below {_num(prop['exclusiveMaximum'])}")
    return " " + " and ".join(parts) if parts else ""


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


# -- one value against one schema ------------------------------------------------------------


def _scalar_ok(prop: Mapping[str, Any], value: Any) -> bool:
    """``value`` satisfies the keywords of a non-object schema (the walk handles objects)."""
    kind = prop.get("type")
    if kind == "string":
        if not isinstance(value, str):
            return False
        if len(value) < prop.get("minLength", 0) or len(value) > prop.get("maxLength", math.inf):
            return False
        if "pattern" in prop and not _pattern(prop["pattern"]).search(value):
            return False
    elif kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False  # not JSON; jsonschema would let NaN pass every bound
        if kind == "integer" and isinstance(value, float) and not value.is_integer():
            return False  # JSON Schema (draft 6 on): 3.0 is an integer, 3.5 is not
        if not _in_range(prop, value):
            return False
    elif kind == "boolean":
        if not isinstance(value, bool):
            return False
    elif kind is not None:
        return False  # nested objects or arrays inside arrays: not in our specs
    if "enum" in prop and not any(value == v and isinstance(value, bool) == isinstance(v, bool) for v in prop["enum"]):
        return False
    return "const" not in prop or value == prop["const"]


def _in_range(prop: Mapping[str, Any], value: float) -> bool:
    if "minimum" in prop and value < prop["minimum"]:
        return False
    if "maximum" in prop and value > prop["maximum"]:
        return False
    if "exclusiveMinimum" in prop and value <= prop["exclusiveMinimum"]:
        return False
    return "exclusiveMaximum" not in prop or value < prop["exclusiveMaximum"]


def _normalized(prop: Mapping[str, Any], value: Any) -> Any:
    if prop.get("type") == "integer" and isinstance(value, float):
        return int(value)
    return value


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    """A spec pattern with ECMA-262's ``$`` (the UI's): the end of the text, not before a last newline."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


__all__ = [
    "DESTINATION",
    "SOURCE",
    "CodeRule",
    "ConfigRules",
    "FieldError",
    "connection_specification",
    "describe",
    "ordered_properties",
]
