"""Per-page record transforms, run by the reader's worker threads (``StreamJob.transform``).

* ``EventChanges``: a newest-first page of events -> the latest version of each changed
  object, once per sync. The first event seen for an id is its newest, so later (older)
  events for that id are skipped. A ``deleted_event`` becomes a tombstone: the object as the
  event carries it (its last version) with ``is_deleted: true``. Otherwise the event's payload
  is used, or the object is re-fetched from its detail endpoint when the payload can't be
  trusted (rendered at another API version, or the stream asks for expansions, which payloads
  never carry) or when config ``event_payloads`` is ``"refetch"``.
  For a child stream (``children=``) it returns the children instead: those of each changed
  parent, plus a tombstone for every child an event says was removed (``previous_attributes``
  lists the children before the change), from every event, not only each parent's newest.
* ``ChildRecords``: parent objects -> the objects of their embedded list (invoice lines,
  subscription items), paging the child endpoint when the embedded list ``has_more``. The
  children of a deleted parent are tombstones too.
* ``Stamp``: every record gets ``updated`` (the change cursor), ``is_deleted: false`` when
  its stream can have deletes and it is not a tombstone, and, when known, ``account_id``.

Records are changed in place: they are freshly parsed JSON owned by this read.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Tuple

from source_stripe_proxy.source.stream_specs import ChildOf, StreamSpec
from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.errors import StripeAPIError

Transform = Callable[[List[dict]], List[dict]]
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


class EventChanges:
    """One events job's transform. Not shared between jobs: ``seen`` is this job's."""

    def __init__(
        self,
        spec: StreamSpec,
        client: StripeClient,
        *,
        refetch_always: bool,
        account_id: Optional[str],
        min_created: Optional[int] = None,
        children: Optional["ChildRecords"] = None,
    ):
        self.spec = spec  # the stream whose objects the events carry (a child's parent)
        self.min_created = min_created  # start_date: changes to older objects are not wanted
        self.client = client
        self.refetch_always = refetch_always or bool(spec.expand)
        self.api_version = client.settings.stripe_version
        self.account_id = account_id
        self.children = children  # a child stream's: emit the parents' children instead
        self.seen: set = set()
        self.emitted_children: set = set()  # ids of children emitted (live or tombstone) this sync

    def __call__(self, events: List[dict]) -> List[dict]:
        records: List[dict] = []
        to_fetch: List[Tuple[dict, Any]] = []
        removed: List[dict] = []
        for event in events:
            obj = (event.get("data") or {}).get("object")
            object_id = obj.get("id") if isinstance(obj, dict) else None
            if not object_id:
                continue
            created = obj.get(self.spec.created_field)
            if self.min_created is not None and isinstance(created, int) and created < self.min_created:
                continue
            if self.children is not None:
                removed.extend(self._removed_children(event, obj))
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
        if self.children is None:
            return records
        children = self.children(records)
        self.emitted_children.update(child["id"] for child in children)
        for child in removed:  # after the current children: a child still there is not removed
            if child["id"] not in self.emitted_children:
                self.emitted_children.add(child["id"])
                children.append(child)
        return children

    def _removed_children(self, event: dict, obj: dict) -> List[dict]:
        """Children the event's ``previous_attributes`` lists that its object no longer has."""
        field = self.children.child_of.field
        before = ((event.get("data") or {}).get("previous_attributes") or {}).get(field)
        rows = before.get("data") if isinstance(before, dict) else None
        if not isinstance(rows, list):
            return []
        after = {row.get("id") for row in ((obj.get(field) or {}).get("data") or []) if isinstance(row, dict)}
        return [
            tombstone(row, event.get("created"))
            for row in rows
            if isinstance(row, dict) and row.get("id") and row["id"] not in after
        ]

    def _refetch(self, stale: List[Tuple[dict, Any]]) -> List[dict]:
        if len(stale) == 1:
            return [self._fetch_one(*stale[0])]
        with ThreadPoolExecutor(max_workers=min(REFETCH_WORKERS, len(stale)), thread_name_prefix="stripe-refetch") as pool:
            return list(pool.map(lambda item: self._fetch_one(*item), stale))

    def _fetch_one(self, payload: dict, when: Any) -> dict:
        params = {"expand": list(self.spec.expand)} if self.spec.expand else None
        path = self.spec.detail.format(id=payload["id"])
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


class ChildRecords:
    """Parents -> their embedded children; each child inherits the parent's ``updated``.

    A deleted parent's embedded children become tombstones; its list endpoint is gone with
    it, so children past the embedded page (Stripe embeds 10) can't be listed.
    """

    def __init__(self, child_of: ChildOf, client: StripeClient, *, page_size: int, account_id: Optional[str]):
        self.child_of = child_of
        self.client = client
        self.page_size = page_size
        self.account_id = account_id

    def __call__(self, parents: List[dict]) -> List[dict]:
        children: List[dict] = []
        for parent in parents:
            deleted = parent.get("is_deleted") is True
            embedded = parent.get(self.child_of.field) or {}
            rows = list(embedded.get("data") or [])
            if embedded.get("has_more") and rows and not deleted:
                rows.extend(self._rest(parent["id"], rows[-1]["id"]))
            updated = parent.get("updated", parent.get("created"))
            for row in rows:
                row["updated"] = updated
                if deleted:
                    row["is_deleted"] = True
            children.extend(rows)
        return children

    def _rest(self, parent_id: str, last_id: str) -> List[dict]:
        params: Dict[str, Any] = {"starting_after": last_id}
        if self.child_of.parent_param:
            params[self.child_of.parent_param] = parent_id
        path = self.child_of.path.format(id=parent_id)
        rows: List[dict] = []
        for page in self.client.list_pages(path, params, page_size=self.page_size, account_id=self.account_id):
            rows.extend(page["data"])
        return rows


class Stamp:
    """Adds ``updated`` (default: the creation time), ``is_deleted`` (false unless a tombstone,
    in streams that can have deletes) and ``account_id`` to every record."""

    def __init__(self, created_field: str, account_id: Optional[str], *, marks_deletes: bool = False):
        self.created_field = created_field
        self.account_id = account_id
        self.marks_deletes = marks_deletes

    def __call__(self, records: List[dict]) -> List[dict]:
        for record in records:
            if "updated" not in record:
                record["updated"] = record.get(self.created_field)
            if self.marks_deletes and record.get("is_deleted") is not True:
                record["is_deleted"] = False
            if self.account_id is not None:
                record["account_id"] = self.account_id
        return records


def chain(*steps: Optional[Transform]) -> Transform:
    active = [step for step in steps if step is not None]

    def run(records: List[dict]) -> List[dict]:
        for step in active:
            records = step(records)
        return records

    return run
