"""The source's config, validated once, in one pass: connection settings plus ``ReadOptions``.

``source_config`` is the source's one validation path (``check``, ``discover`` and ``read`` all
start with it, so a bad config gets the same message in each). The rules JSON Schema can state
are in ``spec.yaml`` (``core/config_rules.py`` enforces them); the code rules here add what it
cannot: a ``start_date`` that parses and is not in the future, ``account_ids``' ``"all"``
shorthand and that ``all`` stands alone, and ``account_id`` / ``account_ids`` being exclusive.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from source_stripe_proxy.core.config_rules import SOURCE, CodeRule, ConfigRules, FieldError, connection_specification
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.settings import CONNECTION_RULES, ConnectionSettings, parse_start_date

SECONDS_PER_DAY = 86_400
ALL_ACCOUNTS = ("all",)


@dataclass(frozen=True)
class ReadOptions:
    """The read-related part of the config, validated once (see ``source_config``)."""

    start_date: int | None = None  # epoch seconds
    lookback_seconds: int = 0
    window_seconds: int = 365 * SECONDS_PER_DAY
    page_size: int = 100
    refetch_always: bool = False  # event_payloads: "refetch"
    fail_on_stale_state: bool = False  # on_stale_state: "fail"
    skip_unavailable: bool = False  # unavailable_streams: "skip"
    account_ids: tuple[str, ...] | None = None  # None: no per-account partitioning; ("all",): list them
    concurrency: int | None = None  # None: enough to fill the request budget
    clock: Callable[[], float] = field(default=time.time, compare=False)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> ReadOptions:
        """From values ``ConfigRules.validate`` returned (checked, the spec's defaults filled in)."""
        return cls(
            start_date=values["start_date"],
            lookback_seconds=values["lookback_window_days"] * SECONDS_PER_DAY,
            window_seconds=values["slice_range_days"] * SECONDS_PER_DAY,
            page_size=values["page_size"],
            refetch_always=values["event_payloads"] == "refetch",
            fail_on_stale_state=values["on_stale_state"] == "fail",
            skip_unavailable=values["unavailable_streams"] == "skip",
            account_ids=_accounts(values),
            concurrency=values["concurrency"],
        )


@dataclass(frozen=True)
class SourceConfig:
    settings: ConnectionSettings
    options: ReadOptions


def source_config(config: Mapping[str, Any]) -> SourceConfig:
    """The whole source config, checked field by field in the spec's order; the first problem wins."""
    values = source_rules().validate(config)
    return SourceConfig(ConnectionSettings.from_values(values), ReadOptions.from_values(values))


def read_options(config: Mapping[str, Any]) -> ReadOptions:
    """The read options of a whole source config (validated whole, so every caller sees the same error)."""
    return source_config(config).options


def parse_account_ids(config: Mapping[str, Any]) -> tuple[str, ...] | None:
    """``account_ids``: a list of ``acct_...`` ids, or ``"all"`` (also ``["all"]``); None when unset."""
    return _accounts(source_rules().validate(config, ("account_id", "account_ids")))


def _all_shorthand(value: Any) -> Any:
    """``"account_ids": "all"`` is documented shorthand for ``["all"]``."""
    return list(ALL_ACCOUNTS) if value == "all" else value


def _all_alone(value: list[str], field_name: str) -> list[str]:
    if "all" in value and len(value) > 1:
        raise FieldError(field_name, '{field} may hold "all" only on its own, not beside account ids.')
    return value


def _accounts(values: Mapping[str, Any]) -> tuple[str, ...] | None:
    accounts = values["account_ids"]
    if not accounts:
        return None
    if values.get("account_id"):
        raise ConfigError("Set either 'account_id' (one account) or 'account_ids' (several), not both.")
    return tuple(accounts)


READ_RULES = {
    "start_date": CodeRule(check=parse_start_date),
    "account_ids": CodeRule(expand=_all_shorthand, check=_all_alone),
}


@functools.cache
def source_rules() -> ConfigRules:
    return ConfigRules(connection_specification(SOURCE), {**CONNECTION_RULES, **READ_RULES})


__all__ = ["ALL_ACCOUNTS", "ReadOptions", "SourceConfig", "parse_account_ids", "read_options", "source_config", "source_rules"]
