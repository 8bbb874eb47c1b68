"""The destination's config, validated once, in one pass: connection settings plus ``WriterOptions``.

``destination_config`` is the destination's one validation path (``check`` and ``write`` both
start with it). The rules JSON Schema can state are in ``spec.yaml`` (``core/config_rules.py``
enforces them); the code rule here adds the one it cannot: ``external_id_field`` may not name a
field the destination writes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from source_stripe_proxy.core.config_rules import DESTINATION, CodeRule, ConfigRules, FieldError, connection_specification
from source_stripe_proxy.core.settings import CONNECTION_RULES, ConnectionSettings
from source_stripe_proxy.destination.mapping import STREAMS

WRITER_KEYS = ("external_id_field", "match_customers_by_email", "unknown_fields", "fail_fast", "dry_run", "concurrency")


@dataclass(frozen=True)
class WriterOptions:
    external_id_field: str = "external_id"
    match_customers_by_email: bool = False
    unknown_fields: str = "reject"
    fail_fast: bool = False
    dry_run: bool = False
    concurrency: int | None = None  # None: derived from the request budget

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WriterOptions:
        """The destination-only fields of ``config``, validated; messages name the field, never its value."""
        return cls.from_values(destination_rules().validate(config, WRITER_KEYS))

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> WriterOptions:
        """From values ``ConfigRules.validate`` returned (checked, the spec's defaults filled in)."""
        return cls(**{key: values[key] for key in WRITER_KEYS})


@dataclass(frozen=True)
class DestinationConfig:
    settings: ConnectionSettings
    options: WriterOptions


def destination_config(config: Mapping[str, Any]) -> DestinationConfig:
    """The whole destination config, checked field by field in the spec's order; the first problem wins."""
    values = destination_rules().validate(config)
    return DestinationConfig(ConnectionSettings.from_values(values), WriterOptions.from_values(values))


def _not_a_written_field(name: str, field_name: str) -> str:
    written = sorted({field for table in STREAMS.values() for field in table.fields} - {"metadata"})
    if name in ("id", "metadata", *written):
        raise FieldError(
            field_name, "{field} may not name 'id', 'metadata' or a Stripe field the destination writes (" + ", ".join(written) + ")."
        )
    return name


@functools.cache
def destination_rules() -> ConfigRules:
    return ConfigRules(
        connection_specification(DESTINATION), {**CONNECTION_RULES, "external_id_field": CodeRule(check=_not_a_written_field)}
    )


__all__ = ["DestinationConfig", "WriterOptions", "destination_config", "destination_rules"]
