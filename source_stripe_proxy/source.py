"""The Airbyte source: spec, check, discover and read over the shared client."""

from __future__ import annotations

import logging
from typing import Any, List, Mapping, Optional, Tuple

from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets

from source_stripe_proxy.client import StripeClient
from source_stripe_proxy.errors import ConfigError, StripeAPIError, StripeProxyError
from source_stripe_proxy.settings import MAX_PAGE_SIZE, ConnectionSettings, parse_start_date
from source_stripe_proxy.streams import SECONDS_PER_DAY, STREAM_CLASSES, ReadOptions

CHECK_PATH = "/v1/customers"  # one page of one cheap endpoint


class SourceStripeProxy(AbstractSource):
    # The CDK's jsonschema check quotes the offending value (a key, a token) in its error;
    # settings.py and read_options() validate every field with messages that never do.
    check_config_against_spec = False

    def __init__(self) -> None:
        super().__init__()
        self._client: Optional[StripeClient] = None

    @property
    def raise_exception_on_missing_stream(self) -> bool:
        return True  # a catalog naming an unknown stream is a config error, not a silent skip

    def client_for(self, config: Mapping[str, Any]) -> StripeClient:
        """One client (and one request budget) per connection settings for the whole process."""
        settings = ConnectionSettings.from_config(config)
        if self._client is None or self._client.settings != settings:
            for secret in settings.secrets:
                add_to_secrets(secret)  # the CDK masks these in LOG messages
            self._client = StripeClient(settings)
        return self._client

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        try:
            read_options(config)
            client = self.client_for(config)
            client.get(CHECK_PATH, {"limit": 1})
        except StripeProxyError as error:
            # Our messages never carry config values, so they are safe in CONNECTION_STATUS.
            return False, _Safe(str(error))
        mode = self._client.settings.mode if self._client else "api_key"
        logger.info("Connected to Stripe through %s.", mode)
        return True, None

    def read(self, logger, config, catalog, state=None):
        try:
            yield from super().read(logger, config, catalog, state)
        finally:
            if self._client is not None:
                logger.info(
                    "Stripe requests: %d (%d of them retries).", self._client.request_count, self._client.retry_count
                )

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        options = read_options(config)
        client = self.client_for(config)
        return [stream_class(client, options) for stream_class in STREAM_CLASSES]


def read_options(config: Mapping[str, Any]) -> ReadOptions:
    lookback_days = config.get("lookback_window_days", 0) or 0
    window_days = config.get("slice_range_days", 365) or 365
    page_size = config.get("page_size", MAX_PAGE_SIZE) or MAX_PAGE_SIZE
    for key, value, low, high in (
        ("lookback_window_days", lookback_days, 0, 3650),
        ("slice_range_days", window_days, 1, 3650),
        ("page_size", page_size, 1, MAX_PAGE_SIZE),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"'{key}' must be a whole number from {low} to {high}.")
    return ReadOptions(
        start_date=parse_start_date(config.get("start_date")),
        lookback_seconds=lookback_days * SECONDS_PER_DAY,
        window_seconds=window_days * SECONDS_PER_DAY,
        page_size=page_size,
    )


class _Safe:
    """AbstractSource.check formats the error with repr(); keep it to our plain message."""

    def __init__(self, message: str):
        self.message = message

    def __repr__(self) -> str:
        return self.message


__all__ = ["SourceStripeProxy", "StripeAPIError"]
