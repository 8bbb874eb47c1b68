"""The source's concurrent reader: streams, accounts and `created` ranges in parallel.

plan.py (what to read) · signals.py (the protocol) · progress.py (what is left, checkpoints,
estimates) · split_policy.py (when and where ranges split) · gate.py (backpressure) ·
reads.py (reads, members, ranges and their states) · workers.py (the threads of a run) ·
concurrent.py (``ConcurrentReader``: a run, a handler per worker message, the words used).
"""

from source_stripe_proxy.source.reader.concurrent import ConcurrentReader
from source_stripe_proxy.source.reader.plan import EVENTS_PHASE, LIST_PHASE, ReadPlan
from source_stripe_proxy.source.reader.progress import (
    CheckpointCadence,
    Interval,
    PlanProgress,
    cap_intervals,
    merge_intervals,
)
from source_stripe_proxy.source.reader.signals import Complete, Estimate, Failed, Progress, Records
from source_stripe_proxy.source.reader.split_policy import MIN_PART_PAGES, split_points

__all__ = [
    "EVENTS_PHASE",
    "LIST_PHASE",
    "MIN_PART_PAGES",
    "CheckpointCadence",
    "Complete",
    "ConcurrentReader",
    "Estimate",
    "Failed",
    "Interval",
    "PlanProgress",
    "Progress",
    "ReadPlan",
    "Records",
    "cap_intervals",
    "merge_intervals",
    "split_points",
]
