"""Per-page record transforms, run by the reader's worker threads (``ReadPlan.transform``).

* ``EventChanges``: one stream's part of a newest-first page of events -> its records. The
  events read is shared by every stream that follows events (``ReadPlan.accepts`` picks each
  stream's events by type and object); each stream keeps its own seen-sets.
  - the stream's own events: the latest version of each changed object, once per sync. The
    first event seen for an id is its newest, so later (older) events for that id are skipped.
    A ``deleted_event`` becomes a tombstone: the object as the event carries it (its last
    version) with ``is_deleted: true``. Otherwise the event's payload is used, or the object is
    re-fetched from its detail endpoint when the payload can't be trusted (rendered at another
    API version, or the stream asks for expansions, which payloads never carry) or when config
    ``event_payloads`` is ``"refetch"``.
  - its parent's events (an embedded child): the children of each changed parent, plus a
    tombstone for every child an event says was removed (``previous_attributes`` lists the
    children before the change), from every event, not only each parent's newest.
  - events that name a parent (``refresh``: ``customer.updated`` for a customer's balance
    transactions): that parent's children, listed again, once per parent.
* ``children.Descent``: parent objects -> a child stream's objects (list reads).
* ``Stamp``: every record gets ``updated`` (the change cursor), ``is_deleted: false`` when
  its stream can have deletes and it is not a tombstone, and, when known, ``account_id``.

Records are changed in place: they are freshly parsed JSON owned by this read (the reader
copies an object that two streams take).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import StripeAPIError
from source_stripe_proxy.source.children import ChildLink, parent_id
from source_stripe_proxy.source.stream_specs import EVENTS, STREAM_SPECS, StreamSpec

Transform = Callable[[list[dict]], Any]
REFETCH_WORKERS = 8  # re-fetches of one page run side by side; the shared budget still paces them


def tombstone(last_version: dict, when: Any) -> dict:
    """A deleted object: its last known version, marked deleted at ``when`` (the event time)."""
    last_version["is_deleted"] = True
    last_version["updated"] = when
    return last_version


def _own_updated(obj: dict, when: Any) -> Any:
    """The change cursor: the event time, or Stripe's own `updated` (products) if newer."""
    own = obj.get("updated")
    return own if isinstance(own, int) and isinstance(when, int) and own > when else when


def _object(event: dict) -> dict | None:
    obj = (event.get("data") or {}).get("object")
    return obj if isinstance(obj, dict) else None


def _of_kind(obj: dict, kinds: tuple[str, ...]) -> bool:
    """Whether the event's object is one a stream lists (a card, not a bank account)."""
    return not kinds or obj.get("object") in kinds or "object" not in obj


class ObjectVersions:
    """Events of one stream's objects -> the latest version of each changed object, once."""

    def __init__(
        self, spec: StreamSpec, client: StripeClient, *, refetch_always: bool, account_id: str | None, min_created: int | None = None
    ):
        self.spec = spec
        self.types = frozenset(spec.event_types or ())
        self.client = client
        self.refetch_always = refetch_always or bool(spec.expand)
        self.api_version = client.settings.stripe_version
        self.account_id = account_id
        self.min_created = min_created  # start_date: changes to older objects are not wanted
        self.seen: set = set()

    def takes(self, event: dict) -> bool:
        obj = _object(event)
        return event.get("type") in self.types and obj is not None and _of_kind(obj, self.spec.objects)

    def wanted(self, obj: dict) -> bool:
        created = obj.get(self.spec.created_field) if self.spec.created_field else None
        return not (self.min_created is not None and isinstance(created, int) and created < self.min_created)

    def __call__(self, events: Iterable[dict]) -> list[dict]:
        records: list[dict] = []
        to_fetch: list[tuple[dict, Any]] = []
        for event in events:
            obj = _object(event)
            if obj is None:
                continue
            object_id = obj.get("id")
            if not object_id or not self.wanted(obj):
                continue
            if object_id in self.seen:
                continue  # an older event of an object already emitted in its newest version
            self.seen.add(object_id)
            when = event.get("created")
            if event.get("type") == self.spec.deleted_event:
                records.append(tombstone(obj, when))
            elif self.refetch_always or (self.api_version and event.get("api_version") not in (None, self.api_version)):
                to_fetch.append((obj, when))
            else:
                obj["updated"] = _own_updated(obj, when)
                records.append(obj)
        if to_fetch:
            records.extend(self._refetch(to_fetch))
        return records

    def _refetch(self, stale: list[tuple[dict, Any]]) -> list[dict]:
        if len(stale) == 1:
            return [self._fetch_one(*stale[0])]
        with ThreadPoolExecutor(max_workers=min(REFETCH_WORKERS, len(stale)), thread_name_prefix="stripe-refetch") as pool:
            return list(pool.map(lambda item: self._fetch_one(*item), stale))

    def _fetch_one(self, payload: dict, when: Any) -> dict:
        path = self.spec.detail_path(payload, self.account_id)
        if path is None:  # no retrieve endpoint: the event's version is the best there is
            payload["updated"] = _own_updated(payload, when)
            return payload
        params = {"expand": list(self.spec.expand)} if self.spec.expand else None
        try:
            current = self.client.send("GET", path, params=params, account_id=self.account_id).data
        except StripeAPIError as error:
            if error.http_status == 404:  # gone since the event: the event's version is its last
                return tombstone(payload, when)
            raise
        if current.get("deleted") is True:  # deleted customers stay retrievable as a stub
            return tombstone(payload, when)
        current["updated"] = _own_updated(current, when)
        return current


class EventChanges:
    """One stream's events transform. Not shared between reads: its seen-sets are this read's.

    ``link``: for a child stream, how to list its children from a parent (``children.ChildLink``).
    """

    def __init__(
        self,
        spec: StreamSpec,
        client: StripeClient,
        *,
        refetch_always: bool,
        account_id: str | None,
        min_created: int | None = None,
        link: ChildLink | None = None,
    ):
        self.spec = spec

        def versions_of(of: StreamSpec) -> ObjectVersions:
            return ObjectVersions(of, client, refetch_always=refetch_always, account_id=account_id, min_created=min_created)

        self.own = versions_of(spec) if spec.changes == EVENTS and spec.event_types else None
        parent = spec.parent
        follows_parent = link is not None and parent is not None and spec.follows_parent_events
        self.parents = versions_of(STREAM_SPECS[parent.stream]) if parent is not None and follows_parent else None
        self.link = link
        self.refresh = dict(spec.refresh) if link is not None else {}
        self.refreshed: set = set()  # parents whose children were listed again this sync
        self.emitted_children: set = set()  # ids of children emitted (live or tombstone) this sync

    @property
    def types(self) -> tuple[str, ...]:
        """The event types this stream reads."""
        types = set(self.refresh)
        for versions in (self.own, self.parents):
            if versions is not None:
                types.update(versions.types)
        return tuple(sorted(types))

    def accepts(self, event: dict) -> bool:
        """Whether an event of the shared events read is this stream's."""
        return (
            (self.own is not None and self.own.takes(event))
            or (self.parents is not None and self.parents.takes(event))
            or (event.get("type") in self.refresh and _object(event) is not None)
        )

    def __call__(self, events: list[dict]) -> list[dict]:
        records: list[dict] = []
        if self.own is not None:
            records.extend(self.own([e for e in events if self.own.takes(e)]))
        if self.link is None:  # a stream of its own: no children to list
            return records
        if self.parents is not None:
            records.extend(self._children_of_changed_parents(self.link, self.parents, [e for e in events if self.parents.takes(e)]))
        if self.refresh:
            records.extend(self._refreshed(self.link, [e for e in events if e.get("type") in self.refresh]))
        return records

    def _children_of_changed_parents(self, link: ChildLink, parents: ObjectVersions, events: list[dict]) -> list[dict]:
        removed: list[dict] = []
        if link.link.embedded_field:
            for event in events:
                obj = _object(event)
                if obj and obj.get("id") and parents.wanted(obj):
                    removed.extend(self._removed_children(link, event, obj))
        children = self._new([child for chunk in link.children(parents(events)) for child in chunk])
        for child in removed:  # after the current children: a child still there is not removed
            if child.get("id") not in self.emitted_children:
                self.emitted_children.add(child.get("id"))
                children.append(child)
        return children

    def _refreshed(self, link: ChildLink, events: list[dict]) -> list[dict]:
        parents = []
        for event in events:
            obj = _object(event) or {}
            source = self.refresh[event["type"]]
            named = parent_id(obj.get(source))
            if named is None or named in self.refreshed:
                continue  # newest first: this parent's children were listed for a newer event
            self.refreshed.add(named)
            parent = dict(obj) if source == "id" else {"id": named}
            parent["updated"] = event.get("created")
            parents.append(parent)
        return self._new([child for chunk in link.children(parents) for child in chunk])

    def _new(self, children: list[dict]) -> list[dict]:
        """Each child once per sync, in its newest version (parents come newest first)."""
        fresh = []
        for child in children:
            if child.get("id") in self.emitted_children:
                continue
            self.emitted_children.add(child.get("id"))
            fresh.append(child)
        return fresh

    def _removed_children(self, link: ChildLink, event: dict, obj: dict) -> list[dict]:
        """Children the event's ``previous_attributes`` lists that its object no longer has."""
        field = link.link.embedded_field
        before = ((event.get("data") or {}).get("previous_attributes") or {}).get(field)
        rows = before.get("data") if isinstance(before, dict) else None
        if not isinstance(rows, list):
            return []
        after = {row.get("id") for row in ((obj.get(field) or {}).get("data") or []) if isinstance(row, dict)}
        return [tombstone(row, event.get("created")) for row in rows if isinstance(row, dict) and row.get("id") and row["id"] not in after]


class Stamp:
    """Adds ``updated`` (default: the creation time; for objects without one, ``fallback``: when
    the read began), ``is_deleted`` (false unless a tombstone, in streams that can have deletes)
    and ``account_id`` to every record."""

    def __init__(self, created_field: str | None, account_id: str | None, *, marks_deletes: bool = False, fallback: int | None = None):
        self.created_field = created_field
        self.account_id = account_id
        self.marks_deletes = marks_deletes
        self.fallback = fallback

    def __call__(self, records: list[dict]) -> list[dict]:
        for record in records:
            if "updated" not in record:
                created = record.get(self.created_field) if self.created_field else None
                record["updated"] = created if isinstance(created, int) else self.fallback
            if self.marks_deletes and record.get("is_deleted") is not True:
                record["is_deleted"] = False
            if self.account_id is not None:
                record["account_id"] = self.account_id
        return records


def chain(*steps: Transform | None) -> Transform:
    """Steps one after another. A step that makes chunks (a child stream's ``Descent``) makes
    the chain's output chunks, each through the later steps."""
    active = [step for step in steps if step is not None]

    def run(records: list[dict]) -> Any:
        for i, step in enumerate(active):
            records = step(records)
            if not isinstance(records, list):
                return _chunks(records, active[i + 1 :])
        return records

    return run


def _chunks(chunks: Iterable[list[dict]], rest: list[Transform]) -> Iterable[list[dict]]:
    for chunk in chunks:
        made = chunk
        for step in rest:
            made = step(made)
        yield made
