"""The read-related part of the source's config, validated once into ``ReadOptions``."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Tuple

from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.settings import parse_start_date
from source_stripe_proxy.core.stripe_facts import MAX_PAGE_SIZE

SECONDS_PER_DAY = 86_400
MAX_CONCURRENCY = 64
ALL_ACCOUNTS = ("all",)
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]+")
CHOICES = {"event_payloads": ("payload", "refetch"), "on_stale_state": ("full_refresh", "fail"), "unavailable_streams": ("fail", "skip")}


@dataclass(frozen=True)
class ReadOptions:
    """The read-related part of the config, validated once (see ``read_options``)."""

    start_date: Optional[int] = None  # epoch seconds
    lookback_seconds: int = 0
    window_seconds: int = 365 * SECONDS_PER_DAY
    page_size: int = 100
    refetch_always: bool = False  # event_payloads: "refetch"
    fail_on_stale_state: bool = False  # on_stale_state: "fail"
    skip_unavailable: bool = False  # unavailable_streams: "skip"
    account_ids: Optional[Tuple[str, ...]] = None  # None: no per-account partitioning; ("all",): list them
    concurrency: Optional[int] = None  # None: enough to fill the request budget
    clock: Callable[[], float] = field(default=time.time, compare=False)


def read_options(config: Mapping[str, Any]) -> ReadOptions:
    def whole_number(key: str, default: int, low: int, high: int) -> int:
        value = config.get(key)
        if value is None:
            return default  # absent or null: the default; 0 is a value and is checked
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"'{key}' must be a whole number from {low} to {high}.")
        return value

    lookback_days = whole_number("lookback_window_days", 0, 0, 3650)
    window_days = whole_number("slice_range_days", 365, 1, 3650)
    page_size = whole_number("page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    concurrency = config.get("concurrency")
    if concurrency is not None:
        concurrency = whole_number("concurrency", 1, 1, MAX_CONCURRENCY)
    for key, allowed in CHOICES.items():
        if config.get(key) not in (None, *allowed):
            raise ConfigError(f"'{key}' must be one of: {', '.join(allowed)}.")
    return ReadOptions(
        start_date=parse_start_date(config.get("start_date")),
        lookback_seconds=lookback_days * SECONDS_PER_DAY,
        window_seconds=window_days * SECONDS_PER_DAY,
        page_size=page_size,
        refetch_always=config.get("event_payloads") == "refetch",
        fail_on_stale_state=config.get("on_stale_state") == "fail",
        skip_unavailable=config.get("unavailable_streams") == "skip",
        account_ids=parse_account_ids(config),
        concurrency=concurrency,
    )


def parse_account_ids(config: Mapping[str, Any]) -> Optional[Tuple[str, ...]]:
    """``account_ids``: a list of ``acct_...`` ids, or ``"all"`` (also ``["all"]``); None when unset."""
    value = config.get("account_ids")
    if value in (None, "", []):
        return None
    if config.get("account_id"):
        raise ConfigError("Set either 'account_id' (one account) or 'account_ids' (several), not both.")
    if value == "all" or value == ["all"]:
        return ALL_ACCOUNTS
    if not isinstance(value, list) or not all(isinstance(v, str) and ACCOUNT_ID.fullmatch(v) for v in value):
        raise ConfigError("'account_ids' must be a list of Stripe Connect account ids (acct_ followed by letters and digits), or \"all\".")
    if len(set(value)) != len(value):
        raise ConfigError("'account_ids' lists the same account twice.")
    return tuple(value)
