"""The concurrent reader: range splitting, state over complete prefixes only, failures."""

import random
import threading
import time

import pytest

from source_stripe_proxy.core.client import ApiResponse
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.source.reader import ConcurrentReader, RangeTracker, StreamJob


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


def run(fake, windows, concurrency=6, page_size=10, state=None):
    job = StreamJob(name="things", path="/v1/things", fixed_params={}, windows=windows, page_size=page_size, state=state)
    return job, list(ConcurrentReader(fake, concurrency).run([job]))


@pytest.mark.parametrize("seed", range(5))
def test_state_never_passes_a_record_not_yet_emitted(seed):
    objects = make_objects(700, 1_600_000_000, 997)
    fake = FakeStripe(objects, seed=seed)
    windows = [(1_600_000_000 + k * 100_000, 1_600_000_000 + (k + 1) * 100_000) for k in range(6)] + [(1_600_600_000, None)]
    job, events = run(fake, windows)
    emitted, states = set(), []
    for event in events:
        if event[0] == "records":
            emitted.update(o["id"] for o in event[2])
        elif event[0] == "state":
            state = event[2]
            states.append(state)
            missing = [o for o in objects if o["created"] < state and o["id"] not in emitted]
            assert not missing, f"state {state} passed unread records"
    assert len(emitted) == len(objects)
    assert states == sorted(states) and states[-1] == max(o["created"] for o in objects)
    assert events[-1][0] == "complete"
    assert len(fake.calls) > 70  # splits happened: 700 objects / 10 per page, plus split heads


def test_a_failing_range_fails_the_stream_and_holds_the_state_back():
    objects = make_objects(300, 1_600_000_000, 1000)
    fake = FakeStripe(objects, fail_below=1_600_100_000)
    windows = [(1_600_000_000, 1_600_100_000), (1_600_100_000, None)]
    job, events = run(fake, windows)
    kinds = [e[0] for e in events]
    assert "failed" in kinds and "complete" not in kinds
    failure = next(e for e in events if e[0] == "failed")
    assert isinstance(failure[2], ConfigError)
    assert not [e for e in events if e[0] == "state"]  # the first range never completed


def test_oldest_first_servers_are_read_in_one_pass_without_splitting():
    objects = make_objects(95, 1_600_000_000, 3600)

    class OldestFirst(FakeStripe):
        def __init__(self, objects):
            super().__init__(objects)
            self.objects.reverse()

    fake = OldestFirst(objects)
    _, events = run(fake, [(None, None)])
    ids = [o["id"] for e in events if e[0] == "records" for o in e[2]]
    assert sorted(ids) == sorted(o["id"] for o in objects) and len(ids) == len(set(ids))
    assert all("created" not in call for call in fake.calls)  # never narrowed by a split
    assert len(fake.calls) == 10


def test_range_tracker_advances_only_over_a_complete_prefix():
    tracker = RangeTracker(state=None)
    tracker.add(1, 0)
    tracker.add(2, 100)
    tracker.add(3, 200)
    assert tracker.done(3, 250) is None  # later ranges done first: no advance
    tracker.split(1, 4, 0, 50)  # range 1 now covers [50, 100), range 4 covers [0, 50)
    assert tracker.done(1, 90) is None  # [0, 50) still open
    assert tracker.done(4, 40) == 90
    assert tracker.done(2, None) == 250  # an empty range still closes the gap
    assert tracker.complete


def test_range_tracker_keeps_a_newer_saved_state():
    tracker = RangeTracker(state=500)
    tracker.add(1, 400)
    assert tracker.done(1, 450) is None and tracker.state == 500


def test_first_pages_estimate_the_row_count_of_each_window():
    objects = make_objects(1000, 1_600_000_000, 60)  # one a minute
    fake = FakeStripe(objects)
    _, events = run(fake, [(1_600_000_000, 1_600_030_000), (1_600_030_000, None)], page_size=50)
    estimates = [e[2] for e in events if e[0] == "estimate"]
    assert len(estimates) == 2  # one per initial window, not per split or page
    assert 800 <= estimates[-1] <= 1200  # within 20% of the 1000 rows


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
    job = StreamJob(name="things", path="/v1/things", fixed_params={}, windows=[(1_600_000_000, None)], page_size=10)
    concurrency, waiting = 8, 2
    taken, worst, seen = 0, 0, set()
    for event in ConcurrentReader(fake, concurrency, pages_waiting=waiting).run([job]):
        if event[0] == "records":
            taken += 1
            seen.update(o["id"] for o in event[2])
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
    rates = {"/v1/slow": 10.0, "/v1/fast": 1000.0}

    def __init__(self, objects):
        super().__init__(objects)
        self.in_flight = {path: 0 for path in self.rates}
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
        StreamJob(name=name, path=path, fixed_params={}, windows=[(1_600_000_000, None)], page_size=10)
        for name, path in (("slow", "/v1/slow"), ("fast", "/v1/fast"))
    ]
    counts = {"slow": 0, "fast": 0}
    for event in ConcurrentReader(fake, 16).run(jobs):
        if event[0] == "records":
            counts[event[1].name] += len(event[2])
    assert counts == {"slow": 1500, "fast": 1500}
    # 10 req/s at 0.1 s latency needs ~1 request in flight (+2 slack); the fast endpoint may use all 16.
    assert fake.most_in_flight["/v1/slow"] <= 3
    assert fake.most_in_flight["/v1/fast"] > 3


def test_one_worker_reads_each_page_once_without_splitting():
    objects = make_objects(95, 1_600_000_000, 3600)
    fake = FakeStripe(objects)
    job, events = run(fake, [(1_600_000_000, None)], concurrency=1)
    ids = [o["id"] for e in events if e[0] == "records" for o in e[2]]
    assert sorted(ids) == sorted(o["id"] for o in objects) and len(ids) == len(set(ids))
    assert len(fake.calls) == 10  # 95 objects, 10 a page: no split, so no partial page in between
