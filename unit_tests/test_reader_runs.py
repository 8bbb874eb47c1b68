"""The reader as a state machine: each run owns its workers, plans end once, failures stay
with their plan, and a read whose plans have all ended stops asking for pages."""

import threading
import time

import pytest

from source_stripe_proxy.core.errors import ConfigError, TransientError
from source_stripe_proxy.source.reader import Complete, ConcurrentReader, Failed, Progress, Records
from source_stripe_proxy.source.reader.reads import Member, PlanState
from unit_tests.test_reader import FakeStripe, SlowConsumerStripe, inside, make_objects, plan


def ids_of(events, name=None):
    return [o["id"] for e in events if isinstance(e, Records) and (name is None or e.plan.name == name) for o in e.records]


def signals_of(events, name):
    return [e for e in events if getattr(e, "plan", None) is not None and e.plan.name == name]


def test_a_member_state_only_moves_forward():
    member = Member(plan([(None, None)]), ((None, None),), True)
    member.advance(PlanState.ENDED)
    member.advance(PlanState.STOPPING)  # a worker that comes late must not revive it
    assert member.state is PlanState.ENDED and member.ended and not member.reading


def test_a_reader_run_twice_keeps_its_backpressure_the_second_time():
    objects = make_objects(2000, 1_600_000_000, 100)
    reader = ConcurrentReader(SlowConsumerStripe(objects), 8, pages_waiting=2)
    assert sorted(ids_of(reader.run([plan([(1_600_000_000, None)])]))) == sorted(o["id"] for o in objects)
    fake = SlowConsumerStripe(objects)
    reader.client = fake  # a new server to count on; the reader itself kept nothing from the first run
    taken, worst, seen = 0, 0, set()
    for event in reader.run([plan([(1_600_000_000, None)])]):
        if isinstance(event, Records):
            taken += 1
            seen.update(o["id"] for o in event.records)
            time.sleep(0.002)
            with fake.lock:
                worst = max(worst, fake.answered - taken)
    assert len(seen) == len(objects)
    assert worst <= 2 + 8  # pages waiting plus one per request in flight: the gate still holds


def test_two_runs_of_one_reader_side_by_side_each_get_their_own_objects():
    first, second = make_objects(300, 1_600_000_000, 100), make_objects(200, 1_700_000_000, 100)
    fake = FakeStripe(first + second)
    reader = ConcurrentReader(fake, 4)
    runs = {
        "a": reader.run([plan([(1_600_000_000, 1_700_000_000)], name="a")]),
        "b": reader.run([plan([(1_700_000_000, None)], name="b")]),
    }
    events = {"a": [], "b": []}
    while runs:  # interleaved: each run's messages stay with it
        for name in list(runs):
            event = next(runs[name], None)
            if event is None:
                del runs[name]
            else:
                events[name].append(event)
    assert sorted(ids_of(events["a"])) == sorted(o["id"] for o in first)
    assert sorted(ids_of(events["b"])) == sorted(o["id"] for o in second)
    assert all(isinstance(run_events[-1], Complete) for run_events in events.values())


def failing_on(call, error=None):
    """A transform that fails on its ``call``-th page (with ``error``, by default a ValueError) and passes the others through."""
    error = error or ValueError("bad page")
    calls = [0]
    lock = threading.Lock()

    def transform(objects):
        with lock:
            calls[0] += 1
            failing = calls[0] == call
        if failing:
            raise error
        return objects

    return transform


@pytest.mark.parametrize("concurrency", [1, 6])
def test_a_failing_transform_ends_its_plan_once_and_the_plan_sharing_its_read_goes_on(concurrency):
    objects = make_objects(400, 1_600_000_000, 250)
    fake = FakeStripe(objects)
    windows = [(1_600_000_000, 1_600_050_000), (1_600_050_000, None)]
    good = plan(windows, name="good")
    bad = plan(windows, name="bad", transform=failing_on(3))
    events = list(ConcurrentReader(fake, concurrency).run([good, bad]))
    assert sorted(ids_of(events, "good")) == sorted(o["id"] for o in objects)
    assert isinstance(signals_of(events, "good")[-1], Complete)
    mine = signals_of(events, "bad")
    assert [type(e) for e in mine].count(Failed) == 1 and isinstance(mine[-1], Failed)  # nothing follows it
    assert not any(isinstance(e, Complete) for e in mine)
    emitted = set(ids_of(events, "bad"))
    assert len(emitted) == len(ids_of(events, "bad"))  # none twice
    checkpoints = [e for e in mine if isinstance(e, Progress)]
    to_read = checkpoints[-1].to_read if checkpoints else windows
    missing = [o for o in objects if o["id"] not in emitted and not inside(o["created"], to_read)]
    assert not missing, f"the failed plan's state passes {len(missing)} records it never emitted"


def test_a_transform_failing_in_its_chunks_ends_only_its_plan():
    objects = make_objects(120, 1_600_000_000, 1000)
    fake = FakeStripe(objects)

    def chunks(page):
        yield page[:3]
        if any(o["id"] == "obj_00060" for o in page):
            raise TransientError("a child request failed")
        yield page[3:]

    events = list(
        ConcurrentReader(fake, 1).run([plan([(None, None)], name="parent"), plan([(None, None)], name="child", transform=chunks)])
    )
    assert sorted(ids_of(events, "parent")) == sorted(o["id"] for o in objects)
    child = signals_of(events, "child")
    assert isinstance(child[-1], Failed) and isinstance(child[-1].error, TransientError)
    assert not any(isinstance(e, (Records, Progress, Complete)) for e in child[child.index(child[-1]) :][1:])
    got = set(ids_of(events, "child"))
    assert "obj_00119" in got and "obj_00060" not in got  # newest first: the pages before the failure


def test_a_read_whose_only_plan_failed_stops_asking_for_pages():
    objects = make_objects(1000, 1_600_000_000, 100)
    fake = FakeStripe(objects)
    events = list(ConcurrentReader(fake, 1).run([plan([(None, None)], transform=failing_on(2))]))
    assert isinstance(events[-1], Failed)
    assert len(fake.calls) <= 3  # 100 pages to read; the read closed at the failure


def test_a_failure_that_stops_everything_is_the_last_signal():
    objects = make_objects(600, 1_600_000_000, 100)
    fake = FakeStripe(objects, fail_below=1_600_000_000 + 1)  # the oldest range is refused
    plans = [plan([(1_600_000_000, 1_600_030_000)], name="refused"), plan([(1_600_030_000, None)], name="other", path="/v1/other")]
    events = list(ConcurrentReader(fake, 4, stop_on=lambda error: isinstance(error, ConfigError)).run(plans))
    assert isinstance(events[-1], Failed) and events[-1].plan.name == "refused"
    assert sum(isinstance(e, Failed) for e in events) == 1
    assert not any(isinstance(e, Complete) and e.plan.name == "refused" for e in events)
