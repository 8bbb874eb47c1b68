"""The source's concurrent reader: streams, accounts and `created` ranges in parallel.

plan.py (what to read) · signals.py (the protocol) · progress.py (what is left, checkpoints,
estimates) · split_policy.py (when and where ranges split) · gate.py (backpressure) ·
reads.py (reads, members, ranges and their states) · workers.py (the threads of a run) ·
concurrent.py (``ConcurrentReader``: a run, a handler per worker message, the words used).
"""

from source_stripe_proxy.source.reader.concurrent import ConcurrentReader  # noqa: F401
from source_stripe_proxy.source.reader.plan import EVENTS_PHASE, LIST_PHASE, ReadPlan  # noqa: F401
from source_stripe_proxy.source.reader.progress import (  # noqa: F401
    CheckpointCadence,
    Interval,
    PlanProgress,
    cap_intervals,
    merge_intervals,
)
from source_stripe_proxy.source.reader.signals import Complete, Estimate, Failed, Progress, Records  # noqa: F401
from source_stripe_proxy.source.reader.split_policy import MIN_PART_PAGES, split_points  # noqa: F401
