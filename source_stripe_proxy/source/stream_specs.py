"""Every stream as data, built from the generated stream catalogue (``generated/streams.json``).

The catalogue is generated from Stripe's OpenAPI description by ``scripts/generate_schemas.py``
(``scripts/generate_streams.py``, with the facts the spec cannot tell in
``scripts/stream_overrides.yaml``): every list endpoint of the API, its parent for nested
endpoints and endpoints that need a parent's id, its events, its retrieve endpoint, sync modes,
cursor and primary key, and the product an account must enable. This module turns each entry
into a ``StreamSpec``; nothing here does I/O, and nothing here is typed by hand.
``streams.py``, ``children.py`` and ``events.py`` read these facts.

(Airbyte calls the streams a source offers its "catalog"; these are the specs behind it.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from source_stripe_proxy.core.endpoints import fill_path
from source_stripe_proxy.data import load_generated

# How a stream learns about changes after its first read (the catalogue's `changes`):
EVENTS = "events"  # its objects' own events
PARENT_EVENTS = "parent_events"  # its parent's events (an embedded child), or events that name its parent (`refresh`)
CREATED = "created"  # immutable enough: new objects by `created`
FULL_REFRESH = "full_refresh"  # only a full refresh sees changes


@dataclass(frozen=True)
class ParentLink:
    """How a child stream's objects hang from its parent stream's.

    ``path_params`` / ``query_params``: the child endpoint's parameter -> the parent object's field
    that fills it (``{"customer": "id"}``). ``filter``: only parents with these field values have
    children (automatic payouts). ``ref_field``: the child's field naming its parent (added by the
    connector when ``ref_added``). ``embedded_field``: the parent's list property holding the
    children, always present (``embedded_always``) or only when expanded.
    """

    stream: str
    path_params: Mapping[str, str] = field(default_factory=dict)
    query_params: Mapping[str, str] = field(default_factory=dict)
    filter: Mapping[str, Any] = field(default_factory=dict)
    ref_field: str | None = None
    ref_added: bool = False
    embedded_field: str | None = None
    embedded_always: bool = False
    expand: str | None = None  # the parent list's `expand[]=data.<this>` that includes the children

    @property
    def embedded(self) -> bool:
        """Children arrive inside every parent (invoice lines): no request per parent needed."""
        return self.embedded_field is not None and self.embedded_always

    @property
    def includable(self) -> bool:
        """Children Stripe includes in the parent when asked (a customer's sources, its tax ids):
        the first 10 and ``has_more``."""
        return self.embedded_field is not None and not self.embedded_always and self.expand is not None


@dataclass(frozen=True)
class AlsoPer:
    """A second parent the endpoint needs (meter event summaries: per meter *and* per customer)."""

    stream: str
    query_params: Mapping[str, str]


@dataclass(frozen=True)
class Window:
    """Required time bounds (``start_time``/``end_time``), aligned to ``align_seconds``."""

    start_param: str
    end_param: str
    align_seconds: int


@dataclass(frozen=True)
class StreamSpec:
    name: str
    path: str  # the stream's own list endpoint ("{param}" filled from its parent, or the account read)
    params: Mapping[str, Any] = field(default_factory=dict)  # sent on every list request
    events: tuple[str, ...] = ()  # event type prefixes (documentation; `event_types` is what is read)
    deleted_event: str | None = None  # the event after which the object is gone (a tombstone)
    detail: str | None = None  # retrieve endpoint for re-fetching: "{id}" = the object's id
    expand: tuple[str, ...] = ()  # expansions the stream asks for (so payloads are never enough)
    created_field: str | None = "created"  # the object's creation time (invoice items: `date`; None: none)
    parent: ParentLink | None = None
    event_types: tuple[str, ...] | None = None  # None: expanded from `events` against Stripe's list
    filters_created: bool | None = None  # None: from generated/list_parameters.json
    changes: str | None = None  # EVENTS, PARENT_EVENTS, CREATED or FULL_REFRESH; None: derived
    objects: tuple[str, ...] = ()  # the `object` values of its records ("card", "bank_account")
    primary_key: tuple[str, ...] = ("id",)
    cursor: str | None = "updated"  # None: full refresh only
    product: str | None = None  # the Stripe product the account must enable (Issuing, ...)
    refresh: Mapping[str, str] = field(default_factory=dict)  # event type -> its object's field naming a parent to re-list
    detail_params: Mapping[str, str] = field(default_factory=dict)  # detail path param -> list path param
    account_path_param: str | None = None  # a path param filled with the account read (external accounts)
    also_per: AlsoPer | None = None
    window: Window | None = None
    requires: str | None = None  # a stream that must have an object for this one to have any (entitlement features)
    dated_by_parent: bool = False  # a `created` child whose cursor is its parent's `created` (a payout's transactions)
    paged: bool = True  # False: the endpoint returns everything at once (no limit/starting_after)
    immutable: bool = False
    airbyte: bool = False  # the name and meaning of Airbyte's source-stripe stream

    def __post_init__(self) -> None:
        if self.event_types is None:
            object.__setattr__(self, "event_types", types_for_prefixes(self.events))
        if self.filters_created is None:
            entry = load_generated("list_parameters.json").get(self.path)
            object.__setattr__(self, "filters_created", bool(entry) and "created" in entry["query"])
        if self.changes is None:
            object.__setattr__(self, "changes", EVENTS if self.event_types else CREATED)

    # -- where a read starts ------------------------------------------------------------

    @property
    def source(self) -> StreamSpec:
        """Whose list a first read pages through: the stream's own, or its top ancestor's."""
        return STREAM_SPECS[self.parent.stream].source if self.parent else self

    @property
    def list_path(self) -> str:
        return self.source.path

    @property
    def ancestry(self) -> tuple[StreamSpec, ...]:
        """The top ancestor first, down to this stream."""
        return (*STREAM_SPECS[self.parent.stream].ancestry, self) if self.parent else (self,)

    # -- how changes arrive ---------------------------------------------------------------

    @property
    def incremental(self) -> bool:
        return self.cursor is not None

    @property
    def can_be_deleted(self) -> bool:
        """Whether the stream's records can be tombstones (``is_deleted: true``).

        Any stream that follows events can: a ``deleted_event``, a child removed from its parent
        or the parent deleted, or a re-fetch that finds the object gone. Its records always
        carry ``is_deleted``. Streams read by ``created`` or in full never have it.
        """
        return self.changes in (EVENTS, PARENT_EVENTS)

    @property
    def follows_parent_events(self) -> bool:
        """A change of an embedded child is a change of its parent, so it follows the parent's events:
        children listed only through their parent (invoice lines), and children Stripe always
        embeds even when they have events of their own (an application fee's refunds: a new one
        comes as `application_fee.refunded`)."""
        link = self.parent
        if link is None or link.embedded_field is None or not STREAM_SPECS[link.stream].event_types:
            return False
        return self.changes == PARENT_EVENTS or (self.changes == EVENTS and link.embedded_always)

    @property
    def change_event_types(self) -> tuple[str, ...]:
        """Every event type an events read of this stream needs: its own, its parent's (an
        embedded child) and those naming a parent whose children to re-list (``refresh``)."""
        if self.changes not in (EVENTS, PARENT_EVENTS):
            return ()
        types = set(self.event_types or ()) if self.changes == EVENTS else set()
        parent = self.parent
        if parent is not None and self.follows_parent_events:
            types.update(STREAM_SPECS[parent.stream].event_types or ())
        types.update(self.refresh)
        return tuple(sorted(types))

    def detail_path(self, obj: Mapping[str, Any], account_id: str | None = None) -> str | None:
        """The retrieve path of ``obj`` ("/v1/customers/cus_1/tax_ids/txi_1"), or None when the
        stream has no retrieve endpoint or the object does not say its parent."""
        if not self.detail or not obj.get("id"):
            return None
        values = {"id": obj["id"]}
        for param, list_param in self.detail_params.items():
            if list_param == self.account_path_param:
                value = account_id
            elif self.parent and self.parent.ref_field and list_param in self.parent.path_params and not self.parent.ref_added:
                value = obj.get(self.parent.ref_field)
                value = value.get("id") if isinstance(value, Mapping) else value
            else:
                value = None
            if not isinstance(value, str) or not value:
                return None
            values[param] = value
        return fill_path(self.detail, values)


def types_for_prefixes(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """``customer`` -> customer.created, customer.deleted, customer.updated (not customer.source.*)."""
    return tuple(
        name
        for name in load_generated("event_types.json")
        for prefix in prefixes
        if name.startswith(prefix + ".") and "." not in name[len(prefix) + 1 :] and name not in NOT_CHANGES
    )


# Events that announce something without changing the object (invoice.upcoming carries a
# preview with no id). The catalogue leaves them out too (stream_overrides.yaml: not_changes).
NOT_CHANGES = frozenset({"invoice.upcoming"})


def spec_from_catalogue(entry: Mapping[str, Any]) -> StreamSpec:
    """One catalogue entry (``generated/streams.json``) as a ``StreamSpec``."""
    parent = entry["parent"]
    detail = entry["detail"]
    events = entry["events"]
    also_per = entry.get("also_per")
    window = entry.get("window")
    return StreamSpec(
        name=entry["name"],
        path=entry["path"],
        params=dict(entry["params"]),
        events=tuple(events["prefixes"]),
        event_types=tuple(events["types"]),
        deleted_event=events["deleted"],
        detail=_detail_template(detail),
        detail_params=dict((detail or {}).get("list_params", {})),
        created_field=entry["created_field"],
        filters_created=entry["filters_created"],
        changes=entry["changes"],
        objects=tuple(entry["objects"]),
        primary_key=tuple(entry["primary_key"]),
        cursor=entry["cursor"],
        product=entry["product"],
        refresh=dict(events["refresh"]),
        parent=_parent_link(parent) if parent else None,
        account_path_param=entry.get("account_path_param"),
        also_per=AlsoPer(also_per["stream"], dict(also_per["query_params"])) if also_per else None,
        window=Window(window["start_param"], window["end_param"], window["align_seconds"]) if window else None,
        requires=entry.get("requires"),
        dated_by_parent=bool(entry.get("dated_by_parent")),
        paged=entry["paged"],
        immutable=entry["immutable"],
        airbyte=entry["airbyte"],
    )


def _detail_template(detail: Mapping[str, Any] | None) -> str | None:
    """/v1/customers/{customer} -> /v1/customers/{id}: the object's own id is always `{id}`."""
    if not detail:
        return None
    head, _, last = detail["path"].rpartition("/")
    if last != "{" + detail["id_param"] + "}":
        return None
    return head + "/{id}"


def _parent_link(parent: Mapping[str, Any]) -> ParentLink:
    embedded = parent.get("embedded") or {}
    return ParentLink(
        stream=parent["stream"],
        path_params=dict(parent["path_params"]),
        query_params=dict(parent["query_params"]),
        filter=dict(parent["filter"]),
        ref_field=parent["ref"]["field"],
        ref_added=parent["ref"]["added"],
        embedded_field=embedded.get("field"),
        embedded_always=bool(embedded.get("always")),
        expand=embedded.get("expand"),
    )


def _load_specs() -> dict[str, StreamSpec]:
    catalogue = load_generated("streams.json")["streams"]
    return {name: spec_from_catalogue(entry) for name, entry in sorted(catalogue.items())}


STREAM_SPECS: dict[str, StreamSpec] = _load_specs()


def box_spec(spec: StreamSpec) -> StreamSpec:
    """The stream whose endpoint lists the whole of the parent's list ``spec`` is part of: a
    customer's cards and bank accounts are among its ``sources`` (``customer_sources``); most
    streams are their own."""
    link = spec.parent
    if link is None or link.embedded_field is None or spec.path.rsplit("/", 1)[-1] == link.embedded_field:
        return spec
    family = [
        other
        for other in STREAM_SPECS.values()
        if other.parent
        and other.parent.stream == link.stream
        and other.parent.embedded_field == link.embedded_field
        and other.path.rsplit("/", 1)[-1] == link.embedded_field
    ]
    return family[0] if len(family) == 1 else spec


def changes_through_events(spec: StreamSpec) -> bool:
    """Whether incremental syncs after the first read follow events (the stream's, its parent's,
    or those naming a parent whose children to re-list)."""
    return bool(spec.change_event_types)
