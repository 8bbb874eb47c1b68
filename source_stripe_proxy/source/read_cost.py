"""What a read cost, per stream and in total: the source's closing log line.

The client counts every request once (``core/meter.py``), under its endpoint and the label its
caller gave it (a child list names the streams it serves, ``children.ChildPages``). Here those
counts are told by stream:

* a request labelled with one stream, or of an endpoint only one stream's plans read, is that
  stream's own;
* one labelled with several streams, or of an endpoint several plans read together (a parent's
  list read once for its children, ``/v1/events`` for every stream that follows events), is a
  *shared* read: counted once, with the streams it served;
* a stream's detail endpoint (an object re-fetched after its event) is that stream's;
* anything else (``/v1/account``, the accounts to read, the events sample) is the sync's own.

Stripe counts reads against an allocation (docs/read_allocation.md): this line says where they went.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from source_stripe_proxy.core.endpoints import endpoint_template
from source_stripe_proxy.core.meter import Counted
from source_stripe_proxy.source.reader import ReadPlan
from source_stripe_proxy.source.stream_specs import STREAM_SPECS

Key = TypeVar("Key")  # what a Counter counts: a stream, an endpoint, or both
SHOWN_STREAMS = 5  # streams named for one shared read before "and N more"


def _shape(template: str) -> str:
    """``/v1/customers/{customer}`` and ``/v1/customers/{id}`` alike: ``/v1/customers/{}``."""
    return re.sub(r"\{[^}]*\}", "{}", template)


@dataclass
class ReadCost:
    total: int = 0
    own: Counter[str] = field(default_factory=Counter)  # stream -> requests
    shared: Counter[tuple[str, tuple[str, ...]]] = field(default_factory=Counter)  # (endpoint, streams) -> requests
    other: Counter[str] = field(default_factory=Counter)  # endpoint -> requests

    def line(self) -> str:
        parts = []
        if self.own:
            parts.append("own reads: " + ", ".join(f"{name} {count}" for name, count in _most_first(self.own)))
        if self.shared:
            parts.append(
                "shared reads (counted once): "
                + "; ".join(f"{endpoint} {count} for {_names(streams)}" for (endpoint, streams), count in _most_first(self.shared))
            )
        if self.other:
            parts.append("the sync's own: " + ", ".join(f"{endpoint} {count}" for endpoint, count in _most_first(self.other)))
        return f"Stripe requests by stream, {self.total} in all: " + ("; ".join(parts) if parts else "none") + "."


def read_cost(counts: Mapping[Counted, int], plans: Sequence[ReadPlan]) -> ReadCost:
    """The requests of ``counts`` (``RequestMeter.since``) told by stream, for ``plans``' read."""
    readers = _readers_by_endpoint(plans)
    refetchers = _refetchers(plans)
    cost = ReadCost()
    for key, count in counts.items():
        endpoint = f"{key.method} {key.endpoint}"
        cost.total += count
        streams = _served(key, readers, refetchers)
        if len(streams) == 1:
            cost.own[next(iter(streams))] += count
        elif streams:
            cost.shared[(endpoint, tuple(sorted(streams)))] += count
        else:
            cost.other[endpoint] += count
    return cost


def _served(key: Counted, readers: Mapping[tuple[str, str | None], set[str]], refetchers: Mapping[str, set[str]]) -> set[str]:
    if key.label:
        return set(key.label)
    shape = _shape(key.endpoint)
    return readers.get((shape, key.account)) or refetchers.get(shape) or set()


def _readers_by_endpoint(plans: Iterable[ReadPlan]) -> dict[tuple[str, str | None], set[str]]:
    readers: dict[tuple[str, str | None], set[str]] = {}
    for plan in plans:
        readers.setdefault((_shape(endpoint_template(plan.path)), plan.account_id), set()).add(plan.name)
    return readers


def _refetchers(plans: Iterable[ReadPlan]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name in {plan.name for plan in plans}:
        detail = STREAM_SPECS[name].detail if name in STREAM_SPECS else None
        if detail:
            found.setdefault(_shape(detail), set()).add(name)
    return found


def _most_first(counts: Counter[Key]) -> list[tuple[Key, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))


def _names(streams: tuple[str, ...]) -> str:
    shown = ", ".join(streams[:SHOWN_STREAMS])
    return shown + (f" and {len(streams) - SHOWN_STREAMS} more streams" if len(streams) > SHOWN_STREAMS else "")
