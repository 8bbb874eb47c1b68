"""Streams an account cannot read: told apart from real errors by Stripe's error body.

With a hundred streams, many are unreadable for most accounts, and that is not a bug:

* a product the account has not enabled answers **400** ``invalid_request_error`` without a
  ``param``, with a message like "Your account is not set up to use Issuing" (Treasury,
  Terminal, Climate and the others alike);
* a restricted key without a permission answers **403**, naming the permission it lacks
  ("... Having the 'rak_tax_rate_read' permission would allow this request to continue.").

Any other 400 (a bad parameter: it names a ``param``) is a real error, a bug on our side, and
stays one. ``unavailable`` returns a ``StreamUnavailable`` (a config_error that names the
product or the permission) for the first two, and None for everything else.

A product is not enabled for a while, so a read keeps what it learned in the stream's state
(``learned``: ``state.Unavailable``) and the next syncs within a day don't ask again
(``still_unavailable``): they report the stream as before, skipped or unavailable, at no
request. A missing permission is asked about every sync: a key gets one, or is replaced, at
any time, and the user expects the next sync to see it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from source_stripe_proxy.core.errors import ConfigError, PermissionDeniedError, StripeAPIError, StripeProxyError
from source_stripe_proxy.source.state import Unavailable
from source_stripe_proxy.source.stream_specs import StreamSpec

# Stripe's words for a product the account has not enabled (the product name follows when known).
NOT_ENABLED = re.compile(
    r"not set up to use (?P<product>[A-Z][\w ]*?)(?:[.,]|$)"
    r"|(?:has|have) not (?:been )?(?:enabled|activated|signed up for) (?P<product2>[A-Z][\w ]*?)(?:[.,]|$)"
    r"|signed up for (?P<product3>Connect)"
)
PERMISSION = re.compile(r"'(rak_[a-z0-9_]+)'")
SKIP_OPTION = "unavailable_streams"
KIND_PRODUCT, KIND_PERMISSION = "product", "permission"  # what StreamUnavailable.kind says
REPROBE_SECONDS = 86_400  # a product found not enabled is asked about again after a day


class StreamUnavailable(ConfigError):
    """A stream the account or key cannot read; ``reason`` says why in a few words, ``kind``
    whether a product is not enabled or the key lacks a permission. ``checked``: when Stripe
    said so, for a stream not asked again this sync (``still_unavailable``)."""

    def __init__(self, stream: str, reason: str, stripe_message: str, kind: str = KIND_PRODUCT, checked: int | None = None):
        self.stream = stream
        self.reason = reason
        self.stripe_message = stripe_message
        self.kind = kind
        self.checked = checked
        when = ""
        if checked is not None:
            when = (
                f" Stripe said so at {_utc(checked)}; it is asked again once a day (next after {_utc(checked + REPROBE_SECONDS)}), "
                "or at once if the stream is reset."
            )
        super().__init__(
            f"Stream '{stream}' can't be read: {reason} (Stripe said: {stripe_message}).{when} Enable it in Stripe, "
            f"deselect the stream, or set '{SKIP_OPTION}' to 'skip' to skip such streams with a warning."
        )


def learned(spec: StreamSpec, error: BaseException, now: int) -> Unavailable | None:
    """What to keep in the stream's state from a failure: a product not enabled (not a permission)."""
    cannot = unavailable(spec, error)
    if cannot is None or cannot.kind != KIND_PRODUCT or cannot.checked is not None:
        return None
    return Unavailable(now, cannot.reason, cannot.stripe_message)


def still_unavailable(spec: StreamSpec, known: Unavailable | None, now: int) -> StreamUnavailable | None:
    """The stream's error without asking Stripe, when the last answer is less than a day old."""
    if known is None or not 0 <= now - known.checked < REPROBE_SECONDS:
        return None
    return StreamUnavailable(spec.name, known.reason, known.said, KIND_PRODUCT, checked=known.checked)


def _utc(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def unavailable(spec: StreamSpec, error: BaseException) -> StreamUnavailable | None:
    """The error as a ``StreamUnavailable`` if it says the account or key can't read the stream."""
    if isinstance(error, StreamUnavailable):
        return error
    if not isinstance(error, StripeAPIError) or error.source != "stripe":
        return None  # a proxy's own answer says nothing about Stripe products
    said = error.stripe_message or ""
    if isinstance(error, PermissionDeniedError):
        permission = PERMISSION.search(said)
        reason = f"the key lacks permission {permission.group(1)}" if permission else "the key lacks a permission for it"
        return StreamUnavailable(spec.name, reason, said, KIND_PERMISSION)
    if error.http_status == 400 and error.error_type == "invalid_request_error" and not error.param:
        match = NOT_ENABLED.search(said)
        if match:
            product = next((g for g in match.groups() if g), None) or spec.product or "a product it needs"
            return StreamUnavailable(spec.name, f"{product.strip()} is not enabled on this account", said)
    return None


@dataclass(frozen=True)
class Probe:
    """One cheap request (``limit=1``) that tells whether the streams behind it are readable."""

    path: str
    params: tuple[tuple[str, str], ...]
    streams: tuple[str, ...]
    paged: bool = True  # False: the endpoint takes no `limit` (it answers everything at once)

    @property
    def query(self) -> dict[str, object]:
        return {**dict(self.params), **({"limit": 1} if self.paged else {})}


def probes(specs: Iterable[StreamSpec], path_for: Callable[[StreamSpec], str]) -> list[Probe]:
    """One probe per top-level list a stream starts from; a child stream is as readable as the
    top ancestor whose list it starts from (its product is inherited from it)."""
    grouped: dict[tuple[str, tuple[tuple[str, str], ...], bool], list[str]] = {}
    for spec in specs:
        source = spec.source
        key = (path_for(source), tuple(sorted((k, str(v)) for k, v in source.params.items())), source.paged)
        grouped.setdefault(key, []).append(spec.name)
    return [Probe(path, params, tuple(names), paged) for (path, params, paged), names in grouped.items()]


def probe_all(
    probe_list: list[Probe], fetch: Callable[[Probe], None], workers: int, stop_on: Callable[[BaseException], bool]
) -> dict[Probe, BaseException | None]:
    """Run every probe side by side (the client's budget paces them): probe -> its error or None.
    An error for which ``stop_on`` is true (a rejected key) is raised at once."""

    def run(probe: Probe) -> BaseException | None:
        try:
            fetch(probe)
        except StripeProxyError as error:
            if stop_on(error):
                raise
            return error
        return None

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="stripe-probe") as pool:
        return dict(zip(probe_list, pool.map(run, probe_list), strict=True))
