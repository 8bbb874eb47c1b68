"""The source's concurrent reader: streams, accounts and `created` ranges in parallel."""

from source_stripe_proxy.source.reader.concurrent import (  # noqa: F401
    MIN_PART_PAGES,
    ConcurrentReader,
    PageGate,
    Partition,
    RangeTracker,
    StreamJob,
    split_points,
)
