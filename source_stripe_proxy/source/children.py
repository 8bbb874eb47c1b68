"""Child streams: from parent objects to their children, with the requests side by side.

A child stream's objects hang from its parent's (``stream_specs.ParentLink``):

* embedded in every parent (an invoice's ``lines``, a subscription's ``items``): taken from the
  parent, and continued from the child endpoint when the embedded page ``has_more``;
* listed per parent (``/v1/customers/{customer}/tax_ids``, ``/v1/setup_attempts?setup_intent=``),
  only for parents that match the link's ``filter`` (automatic payouts);
* several levels down (subscriptions -> items -> usage record summaries), one ``ChildLink`` per level;
* per parent *and* per object of a second stream, in time windows (billing meter event summaries).

The parent list itself is read once by the reader and shared by every selected child (and the
parent stream). The per-parent requests of all children go through one pool (``ChildPages``)
and the one client, so they run side by side within the shared request budget; a transform
hands its records over page by page (``Descent`` yields chunks), so memory stays flat.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from collections import deque
from collections.abc import Hashable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from source_stripe_proxy.core.client import StripeClient
from source_stripe_proxy.core.endpoints import fill_path
from source_stripe_proxy.core.errors import StripeAPIError
from source_stripe_proxy.core.paging import next_cursor, page_objects
from source_stripe_proxy.source.stream_specs import CREATED, PARENT_EVENTS, STREAM_SPECS, StreamSpec, box_spec

PAGES_PER_WORKER = 2  # child pages fetched and not yet handed over, per worker of the pool, for the whole sync
LET_GO_REMEMBERED = 8  # pages let go remembered (keys only), per page that may be kept: a late member asks them alone


@dataclass
class ChildList:
    """One parent's children to list: ``path`` with its query, for ``parent``."""

    parent: dict
    path: str
    params: dict[str, Any]
    paged: bool = True
    starting_after: str | None = None
    serves: tuple[str, ...] = ()  # the streams this list's pages are for (the request meter's label)
    share: Hashable | None = None  # lists of one share group are asked for once for all its members


@dataclass
class _SharedPage:
    future: Future
    waiting: set[int]  # the consumers that have not taken it yet


@dataclass
class ChildPages:
    """Child list pages, fetched side by side on one pool shared by every transform of a sync.

    A task fetches one page and never waits for another task, so the transforms of all reader
    workers can share the pool; the client's budget paces every request. Each caller gets its
    pages back in the order it asked, so its output is deterministic. Pages fetched and not yet
    handed over are bounded for the whole sync (``PAGES_PER_WORKER`` per worker), whatever the
    number of callers: a caller with pages in flight asks for more only while the bound allows,
    and one with none waits for a free place (another caller frees one with each page it takes).

    Pages kept for the members of a share group that have not taken them yet are bounded too
    (``PAGES_PER_WORKER`` per worker, for all groups): a member that lags (a source's transactions,
    one request per source, behind the streams of the sources themselves) or never asks (its read
    planned away or stopped) would otherwise hold every page the others read. Past the bound the
    oldest is let go; a member that asks for it later asks Stripe again, for itself alone.
    """

    client: StripeClient
    workers: int
    page_size: int
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _places: threading.Semaphore = field(init=False, repr=False)  # set in __post_init__, from workers
    _sharing: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _asking: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _members: dict[Hashable, dict[int, str]] = field(default_factory=dict, init=False, repr=False)  # share group -> consumer -> stream
    _shared: dict[tuple[Hashable, ...], _SharedPage] = field(default_factory=dict, init=False, repr=False)
    _let_go: deque[tuple[Hashable, ...]] = field(init=False, repr=False)  # keys of shared pages let go unread by some
    _found: dict[tuple[str, str | None], bool] = field(default_factory=dict, init=False, repr=False)  # has_any's answers

    def __post_init__(self) -> None:
        self._places = threading.Semaphore(self.pages_kept)
        self._let_go = deque(maxlen=LET_GO_REMEMBERED * self.pages_kept)

    @property
    def pages_kept(self) -> int:
        """The most pages fetched and not yet handed over, and the most kept for share groups' members."""
        return PAGES_PER_WORKER * max(1, self.workers)

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="stripe-children")
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    # -- one request for several streams ------------------------------------------------

    def join(self, group: Hashable, consumer: int, stream: str) -> None:
        """``consumer`` (of ``stream``) will ask for the lists of ``group`` (``ChildList.share``) that the others do."""
        with self._sharing:
            self._members.setdefault(group, {})[consumer] = stream

    def leave(self, group: Hashable, consumer: int) -> None:
        """``consumer`` asks for nothing more (it failed or stopped): pages kept for it are let go."""
        with self._sharing:
            self._members.get(group, {}).pop(consumer, None)
            for key, shared in list(self._shared.items()):
                if key[0] == group:
                    shared.waiting.discard(consumer)
                    if not shared.waiting:
                        del self._shared[key]

    def _fetch(self, request: ChildList, account_id: str | None, consumer: int | None) -> tuple[Future, bool]:
        """The future page of ``request``: one the other members of its group asked for already, or
        a new one they will take. The bool: whether the page is shared (each taker copies it)."""
        group = request.share
        if group is None or consumer is None:
            return self.pool().submit(self._page, request, account_id), False
        key = (group, request.path, json.dumps(request.params, sort_keys=True, default=str), request.starting_after)
        with self._sharing:  # held while submitting, so two members never both ask
            shared = self._shared.get(key)
            if shared is not None:
                shared.waiting.discard(consumer)
                if not shared.waiting:
                    del self._shared[key]
                return shared.future, True
            if key in self._let_go:  # the others took it already: asked again for this member alone
                return self.pool().submit(self._page, request, account_id), False
            members = self._members.get(group, {})
            others = set(members) - {consumer}
            if others:  # counted as the requests of every stream it serves
                request = dataclasses.replace(request, serves=tuple(sorted(set(members.values()))))
            future = self.pool().submit(self._page, request, account_id)
            if others:
                self._keep(key, _SharedPage(future, set(others)))
            return future, bool(others)

    def _keep(self, key: tuple[Hashable, ...], shared: _SharedPage) -> None:
        """Keep a page for the members yet to take it, letting the oldest go past ``pages_kept`` (``_sharing`` held)."""
        while len(self._shared) >= self.pages_kept:
            oldest = next(iter(self._shared))
            del self._shared[oldest]
            self._let_go.append(oldest)
        self._shared[key] = shared

    def has_any(self, spec: StreamSpec, account_id: str | None, serves: tuple[str, ...]) -> bool:
        """Whether ``spec``'s list has an object (one ``limit=1`` request per sync and account)."""
        key = (spec.name, account_id)
        with self._asking:  # one request, however many callers ask at once
            if key not in self._found:
                with self.client.meter.serving(serves):
                    page = self.client.send("GET", spec.path, params={**spec.params, "limit": 1}, account_id=account_id).data
                self._found[key] = bool(page_objects(page, spec.path))
            return self._found[key]

    # -- pages ------------------------------------------------------------------------------

    def lists(
        self, lists: Iterable[ChildList], account_id: str | None, consumer: int | None = None
    ) -> Iterator[tuple[ChildList, list[dict]]]:
        """Every page of every list, each as ``(its list, the page's objects)``. ``consumer``: the
        caller, for lists it shares with others (``join``)."""
        pending: deque[ChildList] = deque()  # next pages of lists begun, then lists not begun
        fresh = iter(lists)
        in_flight: deque[tuple[ChildList, Future[tuple[list[dict], str | None]], bool, bool]] = deque()

        def submit() -> bool:
            request = pending.popleft() if pending else next(fresh, None)
            if request is None:
                return False
            placed = self._places.acquire(blocking=False)
            if not placed and in_flight:  # the sync's bound is reached: take this one later
                pending.appendleft(request)
                return False
            # Without a place and nothing in flight, go on anyway: a caller never waits for
            # places another caller (perhaps its own parent level, suspended) holds.
            in_flight.append((request, *self._fetch(request, account_id, consumer), placed))
            return True

        try:
            while len(in_flight) < self.workers and submit():
                pass
            while in_flight:
                request, future, shared, placed = in_flight.popleft()
                try:
                    objects, cursor = future.result()
                finally:
                    if placed:
                        self._places.release()
                if cursor is not None:  # the next page of this list, ahead of lists not begun
                    pending.appendleft(dataclasses.replace(request, starting_after=cursor))
                while len(in_flight) < self.workers and submit():
                    pass
                yield request, copy.deepcopy(objects) if shared else objects
        finally:  # a caller that stopped early (a failure, a cancelled read) frees its places
            for _, future, shared, placed in in_flight:
                if not shared:  # a shared page is still another's
                    future.cancel()
                if placed:
                    self._places.release()

    def _page(self, request: ChildList, account_id: str | None) -> tuple[list[dict], str | None]:
        query = dict(request.params)
        if request.paged:
            query["limit"] = self.page_size
            if request.starting_after:
                query["starting_after"] = request.starting_after
        try:
            with self.client.meter.serving(request.serves):
                page = self.client.send("GET", request.path, params=query, account_id=account_id).data
        except StripeAPIError as error:
            if error.http_status == 404 and error.code == "resource_missing":
                return [], None  # the parent is gone since it was listed: it has no children now
            raise
        objects = page_objects(page, request.path)
        cursor = next_cursor(page, objects, request.starting_after, request.path) if request.paged else None
        return objects, cursor


def parent_id(value: Any) -> str | None:
    """An id, whether the field holds it or the expanded object."""
    value = value.get("id") if isinstance(value, Mapping) else value
    return value if isinstance(value, str) and value else None


def inherits_parent_time(spec: StreamSpec) -> bool:
    """Whether a child's ``updated`` is its parent's: embedded children, children that change
    with their parent, and children with no time of their own."""
    link = spec.parent
    return link is not None and (link.embedded or spec.changes == PARENT_EVENTS or not spec.created_field)


class ChildLink:
    """One level down: objects of ``spec``'s parent stream -> objects of ``spec``.

    ``now`` and ``start`` bound the time windows of endpoints that need them; ``min_created``
    keeps only children created since (a child stream read by its own ``created``), and
    ``newest`` is the newest ``created`` among the children it kept.
    """

    def __init__(
        self,
        spec: StreamSpec,
        pages: ChildPages,
        account_id: str | None,
        *,
        now: int,
        start: int | None = None,
        min_created: int | None = None,
        group: Hashable | None = None,
        gated: bool = False,
        serving: str | None = None,
    ):
        if spec.parent is None:
            raise ValueError(f"{spec.name} has no parent: it is not read through a ChildLink")
        self.spec = spec
        self.link = spec.parent
        self.pages = pages
        self.account_id = account_id
        self.now = now
        self.start = start
        self.min_created = min_created
        self.newest: int | None = None
        self._lock = threading.Lock()
        self._also: list[dict] | None = None
        # An included list: the rest of it comes from the endpoint listing it whole (a customer's
        # cards from its `sources`), shared by the streams of that list that read the same parents.
        self.box = box_spec(spec) if self.link.includable else spec
        self.kinds = frozenset(spec.objects) if self.box is not spec else None
        self.gated = gated and spec.requires is not None
        self.serving = serving or spec.name  # the stream whose read this level is part of (the request meter's label)
        self.share: Hashable | None = None
        if group is not None and self.link.includable:
            self.share = (
                account_id,
                self.box.path,
                json.dumps(self.box.params, sort_keys=True),
                json.dumps(self.link.filter, sort_keys=True),
                group,
            )
            pages.join(self.share, id(self), self.serving)

    def leave(self) -> None:
        """This link asks for nothing more (its read failed or stopped)."""
        if self.share is not None:
            self.pages.leave(self.share, id(self))

    # -- which requests -------------------------------------------------------------------

    def matches(self, parent: Mapping[str, Any]) -> bool:
        return all(parent.get(key) == value for key, value in self.link.filter.items())

    def lists_for(self, parent: dict, starting_after: str | None = None) -> list[ChildList]:
        """The requests that list ``parent``'s children (none when the parent can't say)."""
        ids: dict[str, str] = {}
        for param, source in self.link.path_params.items():
            value = parent_id(parent.get(source))
            if value is None:
                return []
            ids[param] = value
        listing = self.box if starting_after is not None else self.spec  # the rest of an included list: its whole endpoint
        path = fill_path(listing.path, ids)
        params: dict[str, Any] = dict(listing.params)
        for param, source in self.link.query_params.items():
            value = parent_id(parent.get(source))
            if value is None:
                return []
            params[param] = value
        if self.min_created is not None and self.spec.filters_created:
            params["created"] = {"gte": self.min_created}
        serves = (self.serving,)
        if starting_after is not None:
            return [ChildList(parent, path, params, listing.paged, starting_after, serves, self.share)]
        lists = [ChildList(parent, path, params, self.spec.paged, serves=serves)]
        if self.spec.window:
            lists = [ChildList(parent, path, {**params, **window}, self.spec.paged, serves=serves) for window in self._windows(parent)]
        also_per = self.spec.also_per
        if also_per:
            lists = [
                ChildList(
                    parent,
                    path,
                    {**child.params, **{q: other[f] for q, f in also_per.query_params.items()}},
                    child.paged,
                    serves=serves,
                )
                for child in lists
                for other in self._also_per()
            ]
        return lists

    def _windows(self, parent: Mapping[str, Any]) -> list[dict[str, int]]:
        """One window from the parent's creation (or ``start``) to now, aligned as required."""
        window = self.spec.window
        if window is None:  # the stream's list needs no bounds
            return []
        align = window.align_seconds
        begin = max(value for value in (self.start, parent.get("created"), 0) if isinstance(value, int))
        begin = begin - begin % align
        end = -(-self.now // align) * align
        return [{window.start_param: begin, window.end_param: end}] if begin < end else []

    def _also_per(self) -> list[dict]:
        """The second parent's objects (customers for meter summaries), listed once per read."""
        also_per = self.spec.also_per
        if also_per is None:  # no second parent
            return []
        with self._lock:
            if self._also is None:
                other = STREAM_SPECS[also_per.stream]
                fields = set(also_per.query_params.values())
                client = self.pages.client
                with client.meter.serving((self.serving,)):
                    self._also = [
                        {f: obj.get(f) for f in fields}
                        for obj in client.list_objects(
                            other.path, dict(other.params), page_size=self.pages.page_size, account_id=self.account_id
                        )
                    ]
            return self._also

    # -- children -------------------------------------------------------------------------

    def children(self, parents: list[dict]) -> Iterator[list[dict]]:
        """The children of ``parents``, a chunk per page (see ``children_of``)."""
        return self.children_of(iter([parents]))

    def children_of(self, parent_chunks: Iterator[list[dict]]) -> Iterator[list[dict]]:
        """The children of the parents in ``parent_chunks``, a chunk per page: embedded ones as
        their parents come, then those listed.

        The parent chunks are taken only as this level has room for more requests in flight
        (``ChildPages.lists`` draws its lists lazily), so below a level that is itself listed
        (a customer's sources -> each source's transactions) the requests of later parents go
        out while earlier ones are in flight, not one parent's batch after another.
        A page with no children is an empty chunk, and so is a parent chunk that makes no
        request: its caller gets a turn after every request (the reader takes chunks of
        several streams in turn, and each holds its pages in flight)."""
        ready: deque[list[dict]] = deque()  # chunks made without a request, handed over first

        def requests() -> Iterator[ChildList]:
            for parents in parent_chunks:
                made = False
                for parent in parents if self._any_children() else ():
                    if not self.matches(parent):
                        continue
                    box = self.embedded_box(parent)
                    if box is None:
                        for request in self.lists_for(parent):
                            made = True
                            yield request
                        continue
                    rows = self.embedded_rows(parent)
                    if box.get("has_more") and rows and parent.get("is_deleted") is not True:
                        for request in self.lists_for(parent, starting_after=rows[-1].get("id")):
                            made = True
                            yield request
                    kept = self.annotate(rows, parent)
                    if kept:
                        made = True
                        ready.append(kept)
                if not made:
                    ready.append([])

        for request, objects in self.pages.lists(requests(), self.account_id, id(self)):
            while ready:
                yield ready.popleft()
            yield self.annotate(objects, request.parent)
        while ready:
            yield ready.popleft()

    def embedded_box(self, parent: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The parent's list of these children, when it holds one: always for an embedded child
        (an invoice's lines), and for an included one when the parent was listed with it."""
        field = self.link.embedded_field
        if field is None:  # children listed on their own endpoint only
            return None
        if self.link.embedded:
            return parent.get(field) or {}
        if self.link.includable:
            box = parent.get(field)
            if isinstance(box, Mapping) and isinstance(box.get("data"), list):
                return box
        return None

    def _any_children(self) -> bool:
        """False when the stream can't have any (no entitlement feature is defined): no request."""
        requires = self.spec.requires
        return not self.gated or requires is None or self.pages.has_any(STREAM_SPECS[requires], self.account_id, (self.serving,))

    def embedded_rows(self, parent: Mapping[str, Any]) -> list[dict]:
        box = parent.get(self.link.embedded_field) if self.link.embedded_field else None
        rows = box.get("data") if isinstance(box, Mapping) else None
        return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []

    def annotate(self, rows: list[dict], parent: Mapping[str, Any]) -> list[dict]:
        """Name the parent where Stripe does not, take its time where the child has none of its
        own, mark the children of a deleted parent deleted, and keep only the new ones (``min_created``)."""
        link, spec = self.link, self.spec
        inherit = inherits_parent_time(spec)
        parent_time = parent.get("updated", parent.get(STREAM_SPECS[link.stream].created_field or "created"))
        deleted = parent.get("is_deleted") is True
        kept = []
        for row in rows:
            if self.kinds is not None and row.get("object") not in self.kinds:
                continue  # another stream's part of the list (a bank account among the sources)
            created = row.get(spec.created_field) if spec.created_field else None
            if self.min_created is not None and isinstance(created, int) and created < self.min_created:
                continue
            if link.ref_added:
                row[link.ref_field] = parent.get("id")
            if inherit and parent_time is not None:
                row["updated"] = parent_time
            if deleted:
                row["is_deleted"] = True
            if isinstance(created, int) and spec.changes == CREATED:
                with self._lock:
                    self.newest = created if self.newest is None else max(self.newest, created)
            kept.append(row)
        return kept


class Descent:
    """Objects of a stream's top ancestor -> the stream's objects, level by level, in chunks.

    Each level consumes the chunks of the level above as they come, so a grandchild's requests
    start while the parent list is still being read. ``links[-1]`` is the stream's own level.
    """

    def __init__(
        self,
        spec: StreamSpec,
        pages: ChildPages,
        account_id: str | None,
        *,
        now: int,
        start: int | None = None,
        min_created: int | None = None,
        group: Hashable | None = None,
    ):
        """``group``: what the plans whose parents are the same share (their read and intervals):
        their descents ask once for the lists they have in common."""
        chain = spec.ancestry[1:]
        self.links = [
            ChildLink(
                level,
                pages,
                account_id,
                now=now,
                start=start,
                min_created=min_created if level is spec else None,
                group=group,
                gated=level is spec,
                serving=spec.name,
            )
            for level in chain
        ]

    @property
    def newest(self) -> int | None:
        return self.links[-1].newest if self.links else None

    def __call__(self, parents: list[dict]) -> Iterator[list[dict]]:
        chunks: Iterator[list[dict]] = iter([parents])
        for link in self.links:
            chunks = link.children_of(chunks)
        return self._leaving_on_failure(chunks)

    def _leaving_on_failure(self, chunks: Iterator[list[dict]]) -> Iterator[list[dict]]:
        """A descent that fails gets no more parents: the lists it shares are no longer kept for it."""
        try:
            yield from chunks
        except BaseException:
            for link in self.links:
                link.leave()
            raise
