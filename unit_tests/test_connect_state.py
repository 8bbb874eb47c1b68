"""The per-account state of a Connect sync (``state.pack_accounts``): what the accounts share said
once, what differs per account, every older shape still read; and when a per-account STATE is
emitted (``sync._StatePacer``)."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.source.state import Checkpoint, pack_accounts, pack_states, parse_state, unpack_accounts, unpack_states
from source_stripe_proxy.source.sync import STATE_BYTES_PER_SECOND, _StatePacer, named

T = 1_790_000_000


def account(i):
    return f"acct_1Test{i:06d}"


def test_after_a_sync_every_account_is_one_id_in_a_string():
    checkpoints = {account(i): Checkpoint(created=T - 300, events_since=T) for i in range(2000)}
    packed = pack_accounts(checkpoints)
    assert packed == {"common": {"created": T - 300, "events_since": T}, "known": " ".join(a[5:] for a in sorted(checkpoints))}
    assert len(json.dumps(packed)) / 2000 < 16  # the id without "acct_" and a space, nothing else per account
    assert unpack_accounts("customers", packed) == checkpoints


def test_only_what_differs_is_written_per_account():
    checkpoints = {account(i): Checkpoint(created=T - 300, events_since=T) for i in range(10)}
    checkpoints[account(3)] = Checkpoint(created=T - 300, events_since=T - 3600)  # behind the rest
    checkpoints[account(4)] = Checkpoint(first_read_began=T, to_read=((None, T - 50),), newest_seen=T - 40)  # in progress
    packed = pack_accounts(checkpoints)
    assert packed["differ"] == {
        account(3): {"events_since": T - 3600},
        account(4): {"first_read_began": T, "to_read": [[None, T - 50]], "newest_seen": T - 40, "created": None, "events_since": None},
    }
    assert account(3)[5:] not in packed["known"].split() and len(packed["known"].split()) == 8
    assert unpack_accounts("customers", packed) == checkpoints
    assert "accounts" not in packed  # a release that knows only {"accounts": ...} reads every account again: nothing lost


def test_midway_through_a_sync_the_accounts_done_are_one_group_not_one_entry_each():
    # half the accounts' events reads are done (their cursor moved on), half not yet
    checkpoints = {account(i): Checkpoint(created=T - 300, events_since=T if i % 2 else T + 3600) for i in range(2000)}
    packed = pack_accounts(checkpoints)
    assert (
        "differ" not in packed
        and len(packed["groups"]) == 1
        and packed["groups"][0]["fields"] in ({"events_since": T}, {"events_since": T + 3600})
    )
    assert len(json.dumps(packed)) / 2000 < 16
    assert unpack_accounts("customers", packed) == checkpoints


def test_accounts_with_nothing_read_are_left_out_and_get_a_first_read():
    packed = pack_accounts({account(1): Checkpoint(), account(2): Checkpoint(events_since=T)})
    assert set(unpack_accounts("customers", packed)) == {account(2)}
    assert pack_accounts({account(1): Checkpoint()}) == {}


def test_an_id_that_is_not_acct_and_alphanumerics_is_kept_whole():
    packed = pack_accounts({"acct_odd-id": Checkpoint(events_since=T), account(1): Checkpoint(events_since=T)})
    assert packed["known"] == account(1)[5:] and packed["differ"] == {"acct_odd-id": {}}
    assert set(unpack_accounts("customers", packed)) == {"acct_odd-id", account(1)}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3), lambda inner: st.lists(inner, max_size=3), max_leaves=5
)
field_dicts = st.dictionaries(
    st.sampled_from(["created", "events_since", "to_read", "skipped_product", "boundary_ids"]),
    json_values.filter(lambda v: v is not None),
    max_size=4,
)
# few distinct values, so that accounts share fields and whole checkpoints (groups) as often as not
field_dicts = field_dicts | st.sampled_from(
    [{"created": 1}, {"created": 1, "events_since": 2}, {"events_since": 2}, {"to_read": [[None, 3]]}]
)


@given(st.dictionaries(st.from_regex(r"acct_[A-Za-z0-9]{1,6}|acct_x-[a-z]{1,3}", fullmatch=True), field_dicts, max_size=12))
def test_any_fields_of_any_accounts_come_back_as_they_were(states):
    # Generic over the checkpoint's fields: fields added later (what was learned about a product
    # an account has not enabled, a cursor's ids at its boundary second) are carried the same way.
    packed = json.loads(json.dumps(pack_states(states)))
    assert unpack_states("stream", packed) == {a: s for a, s in states.items() if s}


def test_every_older_shape_is_still_read():
    old = {"accounts": {account(1): {"created": T, "events_since": T}}}
    assert parse_state("customers", old, per_account=True) == ({account(1): Checkpoint(created=T, events_since=T)}, [])
    checkpoints, warnings = parse_state("customers", {"created": T}, per_account=True)
    assert checkpoints == {} and warnings[0][0] == "state_not_per_account"  # a single account's: whose?
    checkpoints, warnings = parse_state("customers", pack_accounts({account(1): Checkpoint(events_since=T)}), per_account=False)
    assert checkpoints == {None: Checkpoint()} and warnings[0][0] == "state_per_account"
    assert parse_state("customers", {"created": T}, per_account=False) == ({None: Checkpoint(created=T)}, [])
    assert parse_state("customers", None, per_account=True) == ({}, [])


@pytest.mark.parametrize(
    "value, part",
    [
        ({"known": ["1abc"]}, "known"),
        ({"known": "1a-b"}, "known"),
        ({"common": [1]}, "common"),
        ({"differ": {"acct_1": 3}}, "differ"),
        ({"differ": []}, "differ"),
        ({"groups": {}}, "groups"),
        ({"groups": [{"known": "1a"}]}, "groups"),
        ({"groups": [{"fields": {}, "known": "1-a"}]}, "known"),
    ],
)
def test_a_damaged_compact_state_is_a_config_error_naming_the_part(value, part):
    with pytest.raises(ConfigError) as error:
        parse_state("customers", value, per_account=True)
    assert f"'{part}'" in error.value.message and "customers" in error.value.message and "Reset the stream" in error.value.message


def test_a_damaged_cursor_inside_is_named_with_its_account():
    with pytest.raises(ConfigError) as error:
        parse_state("customers", {"common": {}, "known": "", "differ": {"acct_1X": {"created": "soon"}}}, per_account=True)
    assert "customers/acct_1X" in error.value.message and "'created'" in error.value.message


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_large_state_waits_in_proportion_to_its_size():
    clock = Clock()
    pacer = _StatePacer(clock)
    assert pacer.due("customers")  # the first one goes at once
    pacer.emitted("customers", 10 * STATE_BYTES_PER_SECOND)
    clock.now += 9.9
    assert not pacer.due("customers")
    clock.now += 0.1
    assert pacer.due("customers")
    pacer.emitted("customers", 100)
    clock.now += 100 / STATE_BYTES_PER_SECOND
    assert pacer.due("customers")  # a small state: at once


def test_a_change_not_yet_emitted_is_remembered_until_it_is():
    pacer = _StatePacer(Clock())
    pacer.changed("customers")
    assert pacer.unsaved("customers") and not pacer.unsaved("plans")
    pacer.emitted("customers", 10)
    assert not pacer.unsaved("customers")


def test_messages_name_a_handful_and_count_the_rest():
    assert named(["a", "b"]) == "a, b"
    assert named([f"acct_{i}" for i in range(12)]) == "acct_0, acct_1, acct_2, acct_3, acct_4 and 7 more"
