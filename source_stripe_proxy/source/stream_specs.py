"""Every stream as data: where it is listed, which events change it, how to re-fetch it.

Adding a stream is one ``StreamSpec(...)`` line in ``STREAM_SPECS`` plus its schema in
``scripts/generate_schemas.py``. Nothing here does I/O; ``streams.py`` and ``events.py``
read these facts.

Two facts come from Stripe's OpenAPI description (``generated/*.json``) instead of being
typed here: each stream's event types (``event_types``, expanded from ``events`` prefixes)
and whether its list endpoint takes ``created`` filters (``filters_created``).
(Airbyte calls the streams a source offers its "catalog"; these are the specs behind it.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

from source_stripe_proxy.data import load_generated


@dataclass(frozen=True)
class ChildOf:
    """A stream whose records are embedded as a list in each parent object.

    ``field`` is the parent's embedded list (``{"data": [...], "has_more": ...}``). When it has
    more, the rest is paged from ``path`` (``{id}`` = the parent's id), with the parent's id
    also sent as ``parent_param`` when the endpoint filters by query instead of path.
    """

    parent: str
    field: str
    path: str
    parent_param: Optional[str] = None


@dataclass(frozen=True)
class StreamSpec:
    name: str
    path: str  # the list endpoint (for a child: where its pages continue)
    params: Mapping[str, str] = field(default_factory=dict)  # sent on every list request
    events: Tuple[str, ...] = ()  # event type prefixes; () = immutable, read by `created` only
    deleted_event: Optional[str] = None  # the event after which the object is gone (a tombstone)
    detail: Optional[str] = None  # retrieve endpoint for re-fetching, "{id}" = the object's id
    expand: Tuple[str, ...] = ()  # expansions the stream asks for (so payloads are never enough)
    created_field: str = "created"  # the object's creation time (invoice items call it `date`)
    child_of: Optional[ChildOf] = None

    @property
    def event_types(self) -> Tuple[str, ...]:
        """``customer`` -> customer.created, customer.deleted, customer.updated (not customer.source.*)."""
        return tuple(
            name
            for name in load_generated("event_types.json")
            for prefix in self.events
            if name.startswith(prefix + ".") and "." not in name[len(prefix) + 1 :] and name not in NOT_CHANGES
        )

    @property
    def filters_created(self) -> bool:
        entry = load_generated("list_parameters.json").get(self.list_path)
        return bool(entry) and "created" in entry["query"]

    @property
    def list_path(self) -> str:
        """The endpoint the stream's first read pages through (a child's is its parent's)."""
        return STREAM_SPECS[self.child_of.parent].path if self.child_of else self.path

    @property
    def can_be_deleted(self) -> bool:
        """Whether the stream's records can be tombstones (``is_deleted: true``).

        Any stream that follows events can: a ``deleted_event``, a child removed from its parent
        or the parent deleted, or a re-fetch that finds the object gone. Its records always
        carry ``is_deleted``. Immutable streams (balance transactions, events) never have it.
        """
        return bool(self.source.events)

    @property
    def source(self) -> "StreamSpec":
        """Whose list, events and detail endpoint a read uses: the parent's for a child stream."""
        return STREAM_SPECS[self.child_of.parent] if self.child_of else self


# Events that announce something without changing the object (invoice.upcoming carries a
# preview with no id).
NOT_CHANGES = frozenset({"invoice.upcoming"})


def _specs(*specs: StreamSpec) -> Dict[str, StreamSpec]:
    return {spec.name: spec for spec in specs}


# subscriptions: `customer.subscription.deleted` is a cancellation; the object stays
# retrievable with status "canceled", so it is an update, not a tombstone.
STREAM_SPECS: Dict[str, StreamSpec] = _specs(
    StreamSpec("customers", "/v1/customers", events=("customer",), deleted_event="customer.deleted", detail="/v1/customers/{id}"),
    StreamSpec(
        "subscriptions", "/v1/subscriptions", {"status": "all"}, events=("customer.subscription",), detail="/v1/subscriptions/{id}"
    ),
    StreamSpec("products", "/v1/products", events=("product",), deleted_event="product.deleted", detail="/v1/products/{id}"),
    StreamSpec("plans", "/v1/plans", events=("plan",), deleted_event="plan.deleted", detail="/v1/plans/{id}"),
    StreamSpec("prices", "/v1/prices", events=("price",), deleted_event="price.deleted", detail="/v1/prices/{id}"),
    StreamSpec("balance_transactions", "/v1/balance_transactions"),
    StreamSpec("invoices", "/v1/invoices", events=("invoice",), deleted_event="invoice.deleted", detail="/v1/invoices/{id}"),
    StreamSpec(
        "invoice_items",
        "/v1/invoiceitems",
        events=("invoiceitem",),
        deleted_event="invoiceitem.deleted",
        detail="/v1/invoiceitems/{id}",
        created_field="date",
    ),
    StreamSpec("invoice_line_items", "/v1/invoices/{id}/lines", child_of=ChildOf("invoices", "lines", "/v1/invoices/{id}/lines")),
    StreamSpec(
        "subscription_items",
        "/v1/subscription_items",
        child_of=ChildOf("subscriptions", "items", "/v1/subscription_items", parent_param="subscription"),
    ),
    StreamSpec("charges", "/v1/charges", events=("charge",), detail="/v1/charges/{id}"),
    StreamSpec("refunds", "/v1/refunds", events=("refund", "charge.refund"), detail="/v1/refunds/{id}"),
    StreamSpec("payment_intents", "/v1/payment_intents", events=("payment_intent",), detail="/v1/payment_intents/{id}"),
    StreamSpec("payouts", "/v1/payouts", events=("payout",), detail="/v1/payouts/{id}"),
    StreamSpec("coupons", "/v1/coupons", events=("coupon",), deleted_event="coupon.deleted", detail="/v1/coupons/{id}"),
    StreamSpec("promotion_codes", "/v1/promotion_codes", events=("promotion_code",), detail="/v1/promotion_codes/{id}"),
    StreamSpec("disputes", "/v1/disputes", events=("charge.dispute",), detail="/v1/disputes/{id}"),
    StreamSpec("credit_notes", "/v1/credit_notes", events=("credit_note",), detail="/v1/credit_notes/{id}"),
    StreamSpec("events", "/v1/events"),  # events never change: read by `created`
)


def changes_through_events(spec: StreamSpec) -> bool:
    """Whether incremental syncs after the first read follow this stream's (or its parent's) events."""
    return bool(spec.source.event_types)
