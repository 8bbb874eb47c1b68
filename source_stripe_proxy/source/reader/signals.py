"""The reader's protocol: what workers tell the reader, and what the reader tells its caller.

Workers run in threads and put ``WorkerMessage``s on one queue; the reader, on the caller's
thread, turns them into ``ReadSignal``s, in an order the caller may rely on:

* ``Records`` of a page always come before the ``Progress`` that covers them.
* ``Progress`` says what is left of a plan, so a state built from it never passes a record
  not yet handed over.
* ``Complete`` or ``Failed`` ends a plan; nothing of that plan follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from source_stripe_proxy.source.reader.plan import ReadPlan
from source_stripe_proxy.source.reader.progress import Interval

# -- reader -> caller --------------------------------------------------------------------------


@dataclass(frozen=True)
class Records:
    """Records to emit, from one page of ``plan``."""

    plan: ReadPlan
    records: list[dict]


@dataclass(frozen=True)
class Progress:
    """How far ``plan`` has got: enough to resume it exactly after a crash.

    ``cursor``: everything created before it has been read (None: nothing known).
    ``newest``: the newest ``created`` read so far, in any interval.
    ``to_read``: the intervals still to read, merged; empty once the plan is complete.
    """

    plan: ReadPlan
    cursor: int | None
    newest: int | None
    to_read: tuple[Interval, ...]


@dataclass(frozen=True)
class Estimate:
    """A row estimate for ``plan`` that is honest: see ``PlanProgress.row_estimate``."""

    plan: ReadPlan
    rows: int


@dataclass(frozen=True)
class Complete:
    plan: ReadPlan


@dataclass(frozen=True)
class Failed:
    plan: ReadPlan
    error: BaseException


ReadSignal = Records | Progress | Estimate | Complete | Failed

# -- worker -> reader ------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerMessage:
    """Each names its read by ``run`` (a ``ReadPlan.read_key``): the plans that read the same pages.
    ``passed_gate``: the worker counted it in the ``PageGate``; the reader releases it once handled."""

    run: tuple[Any, ...]
    passed_gate: ClassVar[bool] = False


@dataclass(frozen=True)
class PlanPage:
    """What one plan got from a page: its last records (earlier chunks came as ``ChunkRead``),
    how many of the page's objects were inside its intervals, and the newest of those."""

    plan_key: tuple[str, str | None]
    records: list[dict]
    objects: int
    newest: int | None


@dataclass(frozen=True)
class PageRead(WorkerMessage):
    """A page of range ``range_key``: each plan's part (``parts``), and the time span of its
    in-range objects (``newest``, ``oldest``; None when none had a usable time).
    ``newest_first`` says the page was visibly in Stripe's order, so everything newer than
    ``oldest`` in the range is read. ``last``: the range has no more pages."""

    passed_gate: ClassVar[bool] = True
    range_key: int
    parts: tuple[PlanPage, ...]
    objects: int
    newest: int | None
    oldest: int | None
    newest_first: bool
    last: bool


@dataclass(frozen=True)
class ChunkRead(WorkerMessage):
    """Records of one plan from a page not yet reported (its ``PageRead`` follows)."""

    passed_gate: ClassVar[bool] = True
    plan_key: tuple[str, str | None]
    records: list[dict]


@dataclass(frozen=True)
class PlanFailed(WorkerMessage):
    """One plan's transform failed on a page (sent before that page's ``PageRead``); the
    other plans of the read go on."""

    plan_key: tuple[str, str | None]
    error: BaseException


@dataclass(frozen=True)
class RangeSplit(WorkerMessage):
    """Range ``parent`` gave ``[lo, cut)`` to a new range ``child``; it keeps ``[cut, ...)``."""

    parent: int
    child: int
    lo: int | None
    cut: int


@dataclass(frozen=True)
class RangeDone(WorkerMessage):
    range_key: int


@dataclass(frozen=True)
class RangeFailed(WorkerMessage):
    range_key: int
    error: BaseException
