"""Resume where the crash happened (issue 16): a first read of 30,000 customers, bunched in time
as a real account is, SIGKILLed at about 30%, 70% and 90% of its records and resumed from the
last STATE it emitted; and a first read of 400 Connect accounts killed twice. Counts only, never time."""

import pytest

from integration_tests import hardening as h

TOTAL = 30_000
CONCURRENCY, PAGE_SIZE = 8, 100


@pytest.fixture(scope="module")
def kill_points():
    return h.first_read_kill_points(TOTAL, points=(0.3, 0.7, 0.9), latency=0.05, page_size=PAGE_SIZE, concurrency=CONCURRENCY)


@pytest.mark.parametrize("index", range(3))
def test_a_killed_first_read_resumes_where_it_stopped(kill_points, index):
    row = kill_points[index]
    assert row["outcome"] == "pass", row
    emitted = row["emitted_before_kill"]
    assert emitted >= TOTAL * row["kill_point"]  # the kill came after that share of the records
    assert row["states_before_kill"] > 0  # progress was saved while records flowed
    # nothing lost, nothing twice within a run, and what the resumed run read again is bounded
    assert row["lost"] == 0 and row["duplicated_in_resumed_run"] == 0 and row["duplicated_in_killed_run"] == 0
    assert row["reread"] <= CONCURRENCY * PAGE_SIZE, row
    assert emitted + row["resumed_records"] - row["reread"] == TOTAL


@pytest.fixture(scope="module")
def connect_killed_and_resumed():
    return h.connect_kill_resume(accounts=400, kills=2, seed=7)


def test_a_many_account_first_read_killed_twice_loses_no_object(connect_killed_and_resumed):
    report = connect_killed_and_resumed
    assert report["outcome"] == "pass", report
    assert report["kills"] == 2 and report["lost"] == 0
    assert report["delivered"] == report["expected"]  # every (stream, account, id) seeded, from some run
    assert report["states_before_first_kill"] > 0  # progress was saved before the kill
