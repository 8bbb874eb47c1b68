"""The concurrent reader: range splitting, progress that never passes an unemitted record, failures."""

import random
import threading
import time
from typing import ClassVar

import pytest

from source_stripe_proxy.core.client import ApiResponse
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.source.reader import Complete, ConcurrentReader, Estimate, Failed, PlanProgress, Progress, ReadPlan, Records


class FakeStripe:
    """A newest-first list endpoint in memory, with random delays so ranges finish out of order."""

    budget = type("Budget", (), {"rate": 1000.0})()  # what the reader reads to decide on splits
    latency_seconds = 0.01

    def rate_for(self, method, path, account_id):
        return self.budget.rate

    def __init__(self, objects, seed=0, fail_below=None):
        self.objects = sorted(objects, key=lambda o: (-o["created"], o["id"]))
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.calls = []
        self.fail_below = fail_below

    def send(self, method, path, params=None, **_):
        with self.lock:
            self.calls.append(dict(params))
            delay = self.rng.uniform(0, 0.004)
        time.sleep(delay)
        created = params.get("created", {})
        if self.fail_below is not None and created.get("gte", 0) < self.fail_below:
            raise ConfigError("permission denied for this range")
        rows = [o for o in self.objects if created.get("gte", -1) <= o["created"] and ("lt" not in created or o["created"] < created["lt"])]
        if "starting_after" in params:
            ids = [o["id"] for o in rows]
            rows = rows[ids.index(params["starting_after"]) + 1 :]
        limit = params["limit"]
        return ApiResponse(200, {"object": "list", "data": rows[:limit], "has_more": len(rows) > limit}, {})


def make_objects(count, start, spacing):
    return [{"id": f"obj_{i:05d}", "created": start + i * spacing} for i in range(count)]


def plan(windows, page_size=10, name="things", path="/v1/things", **kwargs):
    return ReadPlan(name=name, path=path, fixed_params={}, intervals=tuple(windows), page_size=page_size, **kwargs)


def run(fake, windows, concurrency=6, page_size=10, state=None, **reader):
    job = plan(windows, page_size, saved_cursor=state)
    return job, list(ConcurrentReader(fake, concurrency, **reader).run([job]))


def inside(created, intervals):
    return any((lo is None or lo <= created) and (hi is None or created < hi) for lo, hi in intervals)


@pytest.mark.parametrize("seed", range(5))
def test_state_never_passes_a_record_not_yet_emitted(seed):
    objects = make_objects(700, 1_600_000_000, 997)
    fake = FakeStripe(objects, seed=seed)
    windows = [(1_600_000_000 + k * 100_000, 1_600_000_000 + (k + 1) * 100_000) for k in range(6)] + [(1_600_600_000, None)]
    _job, events = run(fake, windows)
    emitted, cursors, checkpoints = set(), [], 0
    for event in events:
        if isinstance(event, Records):
            emitted.update(o["id"] for o in event.records)
        elif isinstance(event, Progress):
            checkpoints += 1
            if event.cursor is not None:
                cursors.append(event.cursor)
                missing = [o for o in objects if o["created"] < event.cursor and o["id"] not in emitted]
                assert not missing, f"cursor {event.cursor} passed unread records"
            not_covered = [o for o in objects if o["id"] not in emitted and not inside(o["created"], event.to_read)]
            assert not not_covered, f"{len(not_covered)} unread records outside {event.to_read}"
    assert len(emitted) == len(objects)
    assert cursors == sorted(cursors) and cursors[-1] == max(o["created"] for o in objects)
    assert isinstance(events[-1], Complete) and isinstance(events[-2], Progress) and events[-2].to_read == ()
    assert checkpoints >= 700 / 10 / 6  # one every `concurrency` pages at least
    assert len(fake.calls) > 70  # splits happened: 700 objects / 10 per page, plus split heads


def test_a_failing_range_fails_the_stream_and_holds_the_state_back():
    objects = make_objects(300, 1_600_000_000, 1000)
    fake = FakeStripe(objects, fail_below=1_600_100_000)
    windows = [(1_600_000_000, 1_600_100_000), (1_600_100_000, None)]
    _job, events = run(fake, windows)
    assert any(isinstance(e, Failed) for e in events) and not any(isinstance(e, Complete) for e in events)
    failure = next(e for e in events if isinstance(e, Failed))
    assert isinstance(failure.error, ConfigError)
    assert all(e.cursor is None for e in events if isinstance(e, Progress))  # the first range never completed
    emitted = {o["id"] for e in events if isinstance(e, Records) for o in e.records}
    progress = [e for e in events if isinstance(e, Progress)]
    # The last state saved (none when the failure came first: the plan's own intervals stand).
    to_read = progress[-1].to_read if progress else windows
    assert all(inside(o["created"], to_read) for o in objects if o["id"] not in emitted)


def test_oldest_first_servers_are_read_in_one_pass_without_splitting():
    objects = make_objects(95, 1_600_000_000, 3600)

    class OldestFirst(FakeStripe):
        def __init__(self, objects):
            super().__init__(objects)
            self.objects.reverse()

    fake = OldestFirst(objects)
    _, events = run(fake, [(None, None)])
    ids = [o["id"] for e in events if isinstance(e, Records) for o in e.records]
    assert sorted(ids) == sorted(o["id"] for o in objects) and len(ids) == len(set(ids))
    assert all("created" not in call for call in fake.calls)  # never narrowed by a split
    assert len(fake.calls) == 10


def test_progress_cursor_advances_only_over_a_complete_prefix():
    progress = PlanProgress(cursor=None)
    progress.add(1, 0, 100)
    progress.add(2, 100, 200)
    progress.add(3, 200, None)
    progress.page(3, 1, 1, 250, 250, newest_first=False)
    progress.done(3)
    assert progress.cursor is None  # later ranges done first: no advance
    progress.split(1, 4, 0, 50)  # range 1 now covers [50, 100), range 4 covers [0, 50)
    progress.page(1, 1, 1, 90, 90, newest_first=False)
    progress.done(1)
    assert progress.cursor is None  # [0, 50) still open
    assert progress.to_read() == ((0, 50), (100, 200))
    progress.page(4, 1, 1, 40, 40, newest_first=False)
    progress.done(4)
    assert progress.cursor == 90
    progress.done(2)  # an empty range still closes the gap
    assert progress.cursor == 250 and progress.complete and progress.to_read() == ()


def test_progress_keeps_a_newer_saved_cursor():
    progress = PlanProgress(cursor=500)
    progress.add(1, 400, None)
    progress.page(1, 1, 1, 450, 450, newest_first=False)
    progress.done(1)
    assert progress.cursor == 500


def test_estimates_are_within_a_factor_of_two_of_the_rows_read():
    objects = make_objects(1000, 1_600_000_000, 60)  # one a minute
    fake = FakeStripe(objects)
    _, events = run(fake, [(1_600_000_000, 1_600_030_000), (1_600_030_000, None)], page_size=50)
    estimates = [e.rows for e in events if isinstance(e, Estimate)]
    assert estimates, "an even stream with known bounds gets an estimate"
    assert all(500 <= rows <= 2000 for rows in estimates), estimates
    assert 800 <= estimates[-1] <= 1200  # within 20% of the 1000 rows by the end


def test_an_unbounded_range_is_not_extrapolated_back_to_2010():
    # 120 objects in the last two days, one page of 100 first: the old estimate said ~5,000.
    objects = make_objects(120, 1_700_000_000, 1440)
    fake = FakeStripe(objects)
    _, events = run(fake, [(None, None)], page_size=100)
    estimates = [e.rows for e in events if isinstance(e, Estimate)]
    assert all(60 <= rows <= 240 for rows in estimates), estimates


def test_split_points_cut_by_expected_pages_and_free_slots():
    from source_stripe_proxy.source.reader import MIN_PART_PAGES, split_points

    # 12 pages left at the density just seen, 3 free slots: 4 equal parts.
    assert split_points(1000, 2000, 12.0, 3) == [1250, 1500, 1750]
    # Plenty of slots, few pages: no part expects fewer than MIN_PART_PAGES pages.
    cuts = split_points(1000, 2000, 4 * MIN_PART_PAGES, 30)
    assert len(cuts) + 1 == 4
    # Too little left to be worth a partial page: no cut.
    assert split_points(1000, 2000, MIN_PART_PAGES * 1.9, 30) == []
    # One-second resolution: never more parts than seconds.
    assert split_points(1000, 1003, 500.0, 30) == [1001, 1002]
    # Below an unknown floor, parts grow geometrically down from the newest data (a page = 10 s),
    # as many as there are free slots, and never below the floor.
    assert split_points(0, 10_000, 1e6, 4, page_seconds=10) == [10_000 - 320, 10_000 - 160, 10_000 - 80, 10_000 - 40]
    assert split_points(9_000, 10_000, 1e6, 30, page_seconds=10) == [10_000 - 640, 10_000 - 320, 10_000 - 160, 10_000 - 80, 10_000 - 40]


class SlowConsumerStripe(FakeStripe):
    """Counts pages the server has answered, to compare with pages the consumer has taken."""

    def __init__(self, objects):
        super().__init__(objects)
        self.answered = 0

    def send(self, method, path, params=None, **kwargs):
        response = super().send(method, path, params, **kwargs)
        with self.lock:
            self.answered += 1
        return response


def test_a_slow_consumer_holds_a_few_pages_not_the_stream():
    objects = make_objects(3000, 1_600_000_000, 100)
    fake = SlowConsumerStripe(objects)
    job = plan([(1_600_000_000, None)], page_size=10)
    concurrency, waiting = 8, 2
    taken, worst, seen = 0, 0, set()
    for event in ConcurrentReader(fake, concurrency, pages_waiting=waiting).run([job]):
        if isinstance(event, Records):
            taken += 1
            seen.update(o["id"] for o in event.records)
            time.sleep(0.002)  # the consumer is the bottleneck
            with fake.lock:
                worst = max(worst, fake.answered - taken)
    assert len(seen) == len(objects)
    # Pages answered but not yet taken: those waiting plus one per request in flight at most
    # (empty pages and split heads only make it smaller). Unbounded, it would reach ~300.
    assert worst <= waiting + concurrency


class PerEndpointStripe(FakeStripe):
    """Two list endpoints with different rate limits; records the most ranges in flight per path."""

    latency_seconds = 0.1
    rates: ClassVar[dict[str, float]] = {"/v1/slow": 10.0, "/v1/fast": 1000.0}

    def __init__(self, objects):
        super().__init__(objects)
        self.in_flight = dict.fromkeys(self.rates, 0)
        self.most_in_flight = dict(self.in_flight)

    def rate_for(self, method, path, account_id):
        return self.rates[path]

    def send(self, method, path, params=None, **kwargs):
        with self.lock:
            self.in_flight[path] += 1
            self.most_in_flight[path] = max(self.most_in_flight[path], self.in_flight[path])
        try:
            time.sleep(0.005)
            return super().send(method, path, params, **kwargs)
        finally:
            with self.lock:
                self.in_flight[path] -= 1


def test_a_stream_splits_only_as_far_as_its_endpoint_limit_can_use():
    objects = make_objects(1500, 1_600_000_000, 100)
    fake = PerEndpointStripe(objects)
    jobs = [
        plan([(1_600_000_000, None)], page_size=10, name=name, path=path) for name, path in (("slow", "/v1/slow"), ("fast", "/v1/fast"))
    ]
    counts = {"slow": 0, "fast": 0}
    for event in ConcurrentReader(fake, 16).run(jobs):
        if isinstance(event, Records):
            counts[event.plan.name] += len(event.records)
    assert counts == {"slow": 1500, "fast": 1500}
    # 10 req/s at 0.1 s latency needs ~1 request in flight (+2 slack); the fast endpoint may use all 16.
    assert fake.most_in_flight["/v1/slow"] <= 3
    assert fake.most_in_flight["/v1/fast"] > 3


def test_one_worker_reads_each_page_once_without_splitting():
    objects = make_objects(95, 1_600_000_000, 3600)
    fake = FakeStripe(objects)
    _job, events = run(fake, [(1_600_000_000, None)], concurrency=1)
    ids = [o["id"] for e in events if isinstance(e, Records) for o in e.records]
    assert sorted(ids) == sorted(o["id"] for o in objects) and len(ids) == len(set(ids))
    assert len(fake.calls) == 10  # 95 objects, 10 a page: no split, so no partial page in between


def test_a_read_in_one_range_checkpoints_after_every_page_but_its_last_which_its_end_saves():
    objects = make_objects(35, 1_600_000_000, 3600)
    job = plan([(1_600_000_000, None)], 10, splittable=False)  # one range however many workers
    events = list(ConcurrentReader(FakeStripe(objects), 4).run([job]))
    kinds = [type(e).__name__ for e in events if not isinstance(e, Estimate)]
    # 4 pages of 10: each of the first three saved after its records, the last by the read's end
    assert kinds == ["Records", "Progress"] * 3 + ["Records", "Progress", "Complete"]
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.to_read for p in progress[:3]] == [((1_600_000_000, objects[-10 * n - 10]["created"] + 1),) for n in range(3)]
    assert progress[-1].to_read == ()
