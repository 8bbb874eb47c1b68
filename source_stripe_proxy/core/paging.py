"""Stripe's list pages: what a valid page is, and where the next one starts.

Shared by ``StripeClient.list_pages`` and the source's concurrent reader, so both refuse a
malformed answer with the same words (docs.stripe.com/api/pagination).
"""

from __future__ import annotations

from typing import Any

from source_stripe_proxy.core.errors import StripeProxyError


def page_objects(page: Any, path: str) -> list[dict]:
    """The page's ``data`` list, after checking that it is one of objects."""
    objects = page.get("data") if isinstance(page, dict) else None
    if not isinstance(objects, list):
        raise StripeProxyError(f"GET {path} did not return a Stripe list object (no 'data' array).")
    for obj in objects:
        if not isinstance(obj, dict):
            raise StripeProxyError(
                f"GET {path} returned a list entry that is not an object ({type(obj).__name__}); "
                "the server or proxy answered something other than Stripe's list format."
            )
    return objects


def next_cursor(page: dict, objects: list[dict], previous: str | None, path: str) -> str | None:
    """The ``starting_after`` of the next page, or None after the last one."""
    if not page.get("has_more") or not objects:
        return None
    last_id = objects[-1].get("id")
    if not last_id or last_id == previous:
        raise StripeProxyError(f"GET {path} claims more pages but the cursor did not advance.")
    return last_id
