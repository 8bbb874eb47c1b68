"""One ``/v1/events`` read for every stream that follows events, and how to ask for it.

Each stream plans its own events read (``streams.plan_stream``); ``share_events_read`` gives the
plans of one account the same query, so the reader reads the events once and hands each stream
its own (``ReadPlan.accepts``: by type and object). Stripe filters by at most 20 ``types[]``:

* the streams' types fit in 20: one read, filtered by them (the pages of the wanted events);
* more: either one read of *every* event, or one filtered read per group of at most 20 types.
  Reading everything costs the pages of all events, however many streams; grouping costs the
  pages of the wanted events plus up to one request per group. Which is fewer depends on how
  many events are not wanted, so the source measures it: one request for the newest page of
  every event since the oldest cursor (``EventSample``) tells the event rate and the share of
  each group's types, and the cheaper estimate wins. Without a sample, every event is read.
  ``benchmarks/events_pass.py`` measures both on the same events.

The ``events`` stream lists every event too: when it is selected the events are read whole (it
pays for that anyway) and it joins that read.
A stream whose types span two groups is never split: its events come newest first in one pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from source_stripe_proxy.core.stripe_facts import MAX_EVENT_TYPES, MAX_PAGE_SIZE
from source_stripe_proxy.source.reader import EVENTS_PHASE, ReadPlan

EVENTS_PATH = "/v1/events"


@dataclass(frozen=True)
class EventSample:
    """The newest page of every event since the oldest cursor: its types, whether there is more,
    the seconds it spans and the seconds since the cursor."""

    types: tuple[str, ...]
    has_more: bool
    span_seconds: int
    window_seconds: int

    @property
    def events(self) -> float:
        """The events since the cursor, estimated from the page's rate when there are more."""
        if not self.has_more or not self.types:
            return float(len(self.types))
        return len(self.types) * self.window_seconds / max(1, self.span_seconds)

    def share(self, types: Sequence[str]) -> float:
        wanted = set(types)
        return sum(1 for t in self.types if t in wanted) / len(self.types) if self.types else 0.0


def read_all_cost(sample: EventSample) -> float:
    return max(1.0, math.ceil(sample.events / MAX_PAGE_SIZE))


def grouped_cost(groups: Sequence[Sequence[str]], sample: EventSample) -> float:
    return sum(max(1.0, math.ceil(sample.events * sample.share(group) / MAX_PAGE_SIZE)) for group in groups)


def group_types(type_sets: Sequence[Sequence[str]]) -> list[list[str]] | None:
    """Streams' type sets packed into groups of at most 20 types, each stream whole in one group
    (the largest first, each into the group it shares most with). None if one set is too big."""
    groups: list[set] = []
    for types in sorted((set(t) for t in type_sets if t), key=lambda t: (-len(t), sorted(t))):
        if len(types) > MAX_EVENT_TYPES:
            return None
        fits = [g for g in groups if len(g | types) <= MAX_EVENT_TYPES]
        if fits:
            max(fits, key=lambda g: (len(g & types), -len(g))).update(types)
        else:
            groups.append(set(types))
    return [sorted(g) for g in groups]


def oldest_cursor(plans: Sequence[ReadPlan]) -> int | None:
    """Where an account's events read starts: the lowest bound of its plans' intervals."""
    lows = [lo for plan in plans for lo, _ in plan.intervals]
    bounded = [lo for lo in lows if lo is not None]
    return min(bounded) if lows and len(bounded) == len(lows) else None  # one unbounded interval: from the start


def needs_sample(plans: Sequence[ReadPlan]) -> dict[str | None, int | None]:
    """The accounts whose streams read more than 20 event types, with their oldest cursor (not
    those whose ``events`` stream is selected: every event is read for it anyway)."""
    by_account = _events_plans(plans)
    listed = {plan.account_id for plan in plans if _lists_every_event(plan)}
    return {
        account: oldest_cursor(mine)
        for account, mine in by_account.items()
        if account not in listed and len({t for plan in mine for t in plan.fixed_params.get("types", ())}) > MAX_EVENT_TYPES
    }


def share_events_read(plans: list[ReadPlan], samples: Mapping[str | None, EventSample] | None = None) -> list[ReadPlan]:
    """The plans with one query per account's events read (or per group of types, when the
    sample says grouping costs fewer requests), so the reader reads each event once."""
    samples = samples or {}
    queries: dict[tuple[str, str | None], Mapping] = {}
    every_event = set()
    for account, mine in _events_plans(plans).items():
        wanted = sorted({t for plan in mine for t in plan.fixed_params.get("types", ())})
        if len(wanted) <= MAX_EVENT_TYPES:
            for plan in mine:
                queries[plan.key] = {"types": wanted}
            continue
        groups = group_types([plan.fixed_params.get("types", ()) for plan in mine])
        sample = samples.get(account)
        lists_every_event = any(_lists_every_event(plan) and plan.account_id == account for plan in plans)
        if groups and sample is not None and not lists_every_event and grouped_cost(groups, sample) < read_all_cost(sample):
            for plan in mine:
                mine_types = set(plan.fixed_params.get("types", ()))
                queries[plan.key] = {"types": next(g for g in groups if mine_types <= set(g))}
            continue
        every_event.add(account)
        for plan in mine:
            queries[plan.key] = {}
    shared = []
    for plan in plans:
        if plan.key in queries and plan.phase == EVENTS_PHASE:
            shared.append(dataclasses.replace(plan, fixed_params=queries[plan.key]))
        elif _lists_every_event(plan) and plan.account_id in every_event:
            shared.append(dataclasses.replace(plan, splittable=False))  # the `events` stream joins the read of every event
        else:
            shared.append(plan)
    return shared


def _lists_every_event(plan: ReadPlan) -> bool:
    """The ``events`` stream's own read: every event, which the streams' read can share."""
    return plan.path == EVENTS_PATH and plan.phase != EVENTS_PHASE and not plan.fixed_params


def _events_plans(plans: Sequence[ReadPlan]) -> dict[str | None, list[ReadPlan]]:
    by_account: dict[str | None, list[ReadPlan]] = {}
    for plan in plans:
        if plan.phase == EVENTS_PHASE and plan.path == EVENTS_PATH:
            by_account.setdefault(plan.account_id, []).append(plan)
    return by_account
