"""The reader's pure parts, without threads: interval arithmetic, progress, checkpoint cadence,
the split policy, and the state that carries progress across a crash."""

import time

import pytest
from airbyte_cdk.models import SyncMode

from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.source.reader import CheckpointCadence, PlanProgress, cap_intervals, merge_intervals, split_policy
from source_stripe_proxy.source.reader.progress import MAX_STATE_INTERVALS, left_after_page
from source_stripe_proxy.source.state import Checkpoint

# -- intervals ------------------------------------------------------------------------------


def test_merge_joins_overlapping_and_adjacent_intervals_and_drops_empty_ones():
    assert merge_intervals([(30, 40), (10, 20), (20, 25), (50, 50), (38, 45)]) == [(10, 25), (30, 45)]
    assert merge_intervals([(None, 5), (5, None)]) == [(None, None)]
    assert merge_intervals([(100, None), (None, 10), (12, 20)]) == [(None, 10), (12, 20), (100, None)]
    assert merge_intervals([]) == []


def test_cap_joins_the_closest_intervals_and_never_drops_any():
    intervals = [(i * 100, i * 100 + 10) for i in range(10)] + [(915, 1100)]  # the last gap (5 s) is the narrowest
    capped = cap_intervals(intervals, limit=10)
    assert len(capped) == 10 and capped[-1] == (900, 1100)
    heavily = cap_intervals([(None, 0), *intervals, (5000, None)], limit=3)
    assert len(heavily) == 3 and heavily[0][0] is None and heavily[-1][1] is None
    covered = lambda t, ivs: any((lo is None or lo <= t) and (hi is None or t < hi) for lo, hi in ivs)  # noqa: E731 - a one-line helper of this test
    assert all(covered(t, heavily) for lo, hi in intervals for t in range(lo, hi))


def test_a_state_of_many_intervals_is_capped():
    many = [[i * 10, i * 10 + 5] for i in range(MAX_STATE_INTERVALS * 3)]
    checkpoint = Checkpoint.parse("customers", {"created": 1, "to_read": many})
    assert len(checkpoint.to_read) == MAX_STATE_INTERVALS
    assert checkpoint.to_read[0][0] == 0 and checkpoint.to_read[-1][1] == many[-1][1]


# -- progress within a range --------------------------------------------------------------------


def test_a_newest_first_page_leaves_its_oldest_second_to_read():
    # [100, 200) read newest first; the page ended at an object created at 150: the rest of
    # second 150 may be on the next page, so [100, 151) is left.
    assert left_after_page(100, 200, 150) == 151
    assert left_after_page(None, None, 150) == 151
    assert left_after_page(100, 140, 150) == 140  # never grows back


def test_progress_after_pages_splits_and_completions():
    progress = PlanProgress()
    progress.add(1, 1000, None)
    assert progress.to_read() == ((1000, None),)
    progress.page(1, records=10, objects=10, newest=5000, oldest=4000, newest_first=True)
    assert progress.to_read() == ((1000, 4001),)
    progress.split(1, 2, 1000, 2500)  # the range keeps [2500, ...), [1000, 2500) goes to range 2
    progress.page(2, records=10, objects=10, newest=2400, oldest=2000, newest_first=True)
    assert progress.to_read() == ((1000, 2001), (2500, 4001))
    progress.page(1, records=10, objects=10, newest=3999, oldest=3000, newest_first=True)
    assert progress.to_read() == ((1000, 2001), (2500, 3001))
    progress.done(1)
    assert progress.to_read() == ((1000, 2001),) and progress.cursor is None  # [1000, 2000] still open
    progress.done(2)
    assert progress.complete and progress.to_read() == () and progress.cursor == 5000 and progress.newest == 5000


def test_a_page_not_visibly_newest_first_records_no_progress():
    progress = PlanProgress()
    progress.add(1, 0, 100)
    progress.page(1, records=5, objects=5, newest=50, oldest=50, newest_first=False)  # one second, or oldest-first
    assert progress.to_read() == ((0, 100),)


def test_an_empty_range_completes_without_a_cursor():
    progress = PlanProgress(cursor=None)
    progress.add(1, 100, 200)
    progress.page(1, records=0, objects=0, newest=None, oldest=None, newest_first=False)
    progress.done(1)
    assert progress.complete and progress.cursor is None and progress.to_read() == ()


def test_an_events_read_always_leaves_the_minutes_before_it_began():
    progress = PlanProgress(cursor=1000, reread_from=9000)
    progress.add(1, 1000, None)
    progress.page(1, records=3, objects=3, newest=9500, oldest=5000, newest_first=True)
    assert progress.to_read() == ((1000, 5001), (9000, None))


def test_resuming_reads_exactly_what_was_left():
    first = PlanProgress()
    first.add(1, None, None)
    first.page(1, records=100, objects=100, newest=9000, oldest=8000, newest_first=True)
    first.split(1, 2, None, 6000)
    first.page(2, records=100, objects=100, newest=5999, oldest=5000, newest_first=True)
    left = first.to_read()
    assert left == ((None, 5001), (6000, 8001))
    # a new run starts one range per interval left, from the saved cursor and newest
    resumed = PlanProgress(cursor=first.cursor, newest=first.newest)
    for key, (lo, hi) in enumerate(left):
        resumed.add(key, lo, hi)
    assert resumed.to_read() == left
    resumed.done(0)
    resumed.done(1)
    assert resumed.complete and resumed.newest == 9000  # the newest of the killed run is not lost


def test_honest_estimates_only():
    progress = PlanProgress()
    progress.add(1, None, None)
    progress.page(1, records=100, objects=100, newest=2_000_000_000, oldest=1_999_999_900, newest_first=True)
    assert progress.row_estimate() is None  # unbounded below: no extrapolation back to 2010
    bounded = PlanProgress()
    bounded.add(1, 1000, None)
    bounded.page(1, records=100, objects=100, newest=2000, oldest=1901, newest_first=True)
    assert bounded.row_estimate() is None  # ~900 left after 100 read: too early to say
    bounded.page(1, records=100, objects=100, newest=1900, oldest=1500, newest_first=True)
    assert bounded.row_estimate() is not None and 200 <= bounded.row_estimate() <= 400  # 200 read + ~125 left


def test_checkpoints_every_so_many_pages_or_seconds():
    now = [0.0]
    cadence = CheckpointCadence(pages=3, seconds=5.0, clock=lambda: now[0])
    assert [cadence.page("a") for _ in range(6)] == [False, False, True, False, False, True]
    assert cadence.page("b") is False  # per plan
    now[0] = 6.0
    assert cadence.page("a") is True  # slow pages: at least every 5 seconds


# -- split policy -----------------------------------------------------------------------------


def test_pages_left_from_the_density_just_seen():
    # 100 objects over 100 s, 1000 s left below: 1000 objects = 10 pages of 100
    assert split_policy.pages_left(newest=2100, oldest=2000, objects=100, floor=1000, page_size=100) == pytest.approx(10.0)
    assert split_policy.pages_left(newest=2000, oldest=2000, objects=100, floor=1000, page_size=100) == 0.0  # no spread
    assert split_policy.pages_left(newest=2100, oldest=1001, objects=100, floor=1000, page_size=100) == 0.0  # < 2 s left


def test_free_slots_go_to_ranges_with_clearly_more_left():
    assert split_policy.clearly_larger(10.0, [12.0, 13.4, 13.6, 40.0]) == 2  # bar: 10 x 1.25 + 1 = 13.5
    decision = split_policy.decide_split(10.0, spare_slots=3, larger_elsewhere=2, waiting=0, floor_known=True, concurrency=8)
    assert decision == split_policy.SplitDecision(parts=1, start_now=True)


def test_no_free_slot_keeps_one_half_waiting_only_for_the_longest_range():
    decide = split_policy.decide_split
    assert decide(10.0, spare_slots=0, larger_elsewhere=0, waiting=0, floor_known=True, concurrency=8) == split_policy.SplitDecision(
        1, False
    )
    assert decide(10.0, spare_slots=0, larger_elsewhere=1, waiting=0, floor_known=True, concurrency=8) is None  # not the longest
    assert decide(10.0, spare_slots=0, larger_elsewhere=0, waiting=split_policy.WAITING_RANGES, floor_known=True, concurrency=8) is None
    assert decide(10.0, spare_slots=0, larger_elsewhere=0, waiting=0, floor_known=False, concurrency=8) is None  # where is half?
    assert decide(10.0, spare_slots=0, larger_elsewhere=0, waiting=0, floor_known=True, concurrency=1) is None  # one worker
    assert decide(split_policy.MIN_PART_PAGES * 0.9, spare_slots=5, larger_elsewhere=0, waiting=0, floor_known=True, concurrency=8) is None


# -- state ------------------------------------------------------------------------------------


def test_the_old_state_shape_still_means_what_it_meant():
    checkpoint = Checkpoint.parse("customers", {"created": 1_700_000_000})
    assert checkpoint.created == 1_700_000_000 and checkpoint.to_read is None
    assert checkpoint.to_dict() == {"created": 1_700_000_000}


def test_the_new_state_shape_survives_a_round_trip():
    saved = {
        "created": 1_600_000_000,
        "first_read_began": 1_700_000_000,
        "newest_seen": 1_699_000_000,
        "to_read": [[None, 1_500_000_000], [1_600_000_000, 1_650_000_001]],
    }
    checkpoint = Checkpoint.parse("customers", saved)
    assert checkpoint.to_read == ((None, 1_500_000_000), (1_600_000_000, 1_650_000_001))
    assert Checkpoint.parse("customers", checkpoint.to_dict()) == checkpoint
    assert checkpoint.to_dict() == saved


@pytest.mark.parametrize("to_read", ["soon", [[1, 2, 3]], [[5, 4]], [["x", 5]], [[1, time.time() + 10 * 86_400]]])
def test_a_broken_to_read_names_the_field(to_read):
    with pytest.raises(ConfigError, match="to_read"):
        Checkpoint.parse("customers", {"to_read": to_read})


def test_read_records_of_one_stream_uses_the_same_plan_and_state(requests_mock):
    """The CDK's per-stream path (``StripeStream.read_records``) plans and checkpoints like ``read``."""
    from source_stripe_proxy.core.client import StripeClient
    from source_stripe_proxy.core.settings import ConnectionSettings
    from source_stripe_proxy.source.options import read_options
    from source_stripe_proxy.source.streams import build_streams
    from unit_tests.test_events import newest_first

    config = {"credentials": {"auth_type": "api_key", "api_key": "sk_test_readRecords42"}, "max_retries": 1, "page_size": 10}
    client = StripeClient(ConnectionSettings.from_config(config))
    stream = next(s for s in build_streams(client, read_options(config)) if s.name == "balance_transactions")
    objects = [{"id": f"txn_{i}", "object": "balance_transaction", "created": 1_700_000_000 + i * 60} for i in range(35)]
    newest_first(requests_mock, "/v1/balance_transactions", objects)
    # an interrupted read left [.., 1_700_000_600): only the first ten objects
    saved = {"created": 1_600_000_000, "newest_seen": 1_700_002_040, "to_read": [[None, 1_700_000_600]]}
    records = list(stream.read_records(SyncMode.incremental, stream_state=saved))
    assert sorted(r["id"] for r in records) == sorted(f"txn_{i}" for i in range(10))
    assert all("created[lt]" in r.qs for r in requests_mock.request_history)
    assert stream.state == {"created": 1_700_002_040}  # complete: the newest of both runs
