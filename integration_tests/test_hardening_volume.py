"""Faults, crashes and errors that don't heal, at volume (issue 8).

CI runs reduced sizes; ``bash scripts/test.sh -m slow`` runs the full ones (>= 20k objects).
The scenarios live in ``integration_tests/hardening.py``; ``scripts/reliability_report.py``
runs the same ones and publishes the numbers in docs/reliability.md.
"""

import pytest

from integration_tests import hardening as h


def _assert_exact(result):
    assert result["outcome"] == "pass", result
    assert result["lost"] == 0 and result["unexpected"] == 0 and result["delivered"] == result["expected"], result


def _source_faults(total, page_size, mode):
    result = h.source_under_faults(total, fault_rate=0.10, mode=mode, page_size=page_size)
    _assert_exact(result)
    assert result["duplicated"] == 0, result
    assert result["clean_records"] == result["expected"]
    share = result["faults"] / result["requests"]
    assert 0.05 <= share <= 0.2, f"about 10% of requests should fail, got {share:.1%}"
    kinds = set(result["fault_kinds"])
    assert len(kinds) >= 4 and kinds & {"429", "429_no_retry_after"} and kinds & {"500", "502", "503", "html_502"}, kinds
    return result


def _source_kills(total, kills, max_overhead):
    result = h.source_kill_resume(total, kills=kills)
    _assert_exact(result)
    assert result["rereads_outside_state"] == 0
    assert result["runs"] == kills + 1
    # a resume re-reads at most ~concurrency x page_size per stream in flight (issue 16)
    assert result["reread_overhead"] < max_overhead, result
    return result


def _destination_faults(customers, products):
    result = h.destination_under_faults(customers, products, fault_rate=0.10, lost_after_commit=0.03)
    _assert_exact(result)
    assert result["duplicated"] == 0
    assert result["lost_after_commit_posts"] > 0 and result["idempotent_replays"] >= result["lost_after_commit_posts"]
    return result


def _destination_kills(customers, products, kills):
    result = h.destination_kill_rerun(customers, products, kills=kills)
    _assert_exact(result)
    assert result["duplicated"] == 0
    return result


# -- CI: reduced sizes (about 1.5 minutes together) -------------------------------------------


def test_source_read_under_10_percent_faults_equals_a_clean_read():
    _source_faults(3000, page_size=20, mode="pinkconnect")


def test_source_sigkill_resume_covers_everything_and_rereads_only_what_the_state_left():
    _source_kills(3000, kills=3, max_overhead=0.15)


def test_destination_under_faults_and_lost_responses_equals_a_clean_run():
    _destination_faults(150, 50)


def test_destination_sigkill_rerun_neither_duplicates_nor_loses():
    _destination_kills(60, 20, kills=2)


@pytest.mark.parametrize("row", range(4))
def test_errors_that_do_not_heal_end_with_a_config_error_naming_the_fix(row, non_healing):
    result = non_healing[row]
    assert result["outcome"] == "pass", result


@pytest.fixture(scope="module")
def non_healing():
    return h.non_healing_errors()


# -- full volume: bash scripts/test.sh -m slow ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["pinkconnect", "paragon"])
def test_slow_source_read_of_20k_objects_under_10_percent_faults(mode):
    assert _source_faults(20_000, page_size=50, mode=mode)["objects"] >= 20_000


@pytest.mark.slow
def test_slow_source_20k_sigkilled_five_times():
    assert _source_kills(20_000, kills=5, max_overhead=0.05)["objects"] >= 20_000


@pytest.mark.slow
def test_slow_destination_1500_records_under_faults():
    _destination_faults(1000, 500)


@pytest.mark.slow
def test_slow_destination_400_records_sigkilled_four_times():
    _destination_kills(300, 100, kills=4)
