"""Hostile catalogs, states, configs and destination input through the real console scripts:
each is refused with a typed error that says what to fix (no stack trace in the message), or
handled without losing records. Known gaps in files owned elsewhere are strict xfails."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from integration_tests import hardening as h
from integration_tests.harness import REPO_ROOT, configured_catalog, run_connector
from stripe_emulator import StripeEmulator


@pytest.fixture(scope="module")
def account():
    with StripeEmulator(api_key=h.UPSTREAM_KEY, seed=2) as emulator:
        expected = h.seed_account(emulator, 120, int(time.time()) - 60)
        yield emulator, h.source_config(emulator, "api_key"), expected


def _state(cursor):
    return [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": cursor}}]


def _clean_error(result, failure_type="config_error"):
    assert result.returncode != 0
    errors = result.errors()
    assert errors, result.stdout[-2000:]
    assert all(e["failure_type"] == failure_type for e in errors), errors
    assert all("Traceback" not in e["message"] for e in errors)
    return " ".join(e["message"] for e in errors)


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"page_size": 10**9}, "page_size"),
        ({"start_date": "last tuesday"}, "start_date"),
        ({"api_base": "http://stripe.example.com"}, "api_base"),
    ],
)
def test_bad_config_on_read_is_a_config_error_naming_the_field(account, bad, field):
    _, config, _ = account
    assert field in _clean_error(run_connector("source", "read", {**config, **bad}, configured_catalog(["customers"])))


def test_unknown_stream_in_the_catalog(account):
    _, config, _ = account
    catalog = configured_catalog(["customers"])
    catalog["streams"][0]["stream"]["name"] = "no_such_stream"
    assert "'no_such_stream'" in _clean_error(run_connector("source", "read", config, catalog))


def test_a_wrong_sync_mode_is_a_config_error(account):
    _, config, _ = account
    catalog = configured_catalog(["customers"])
    catalog["streams"][0]["sync_mode"] = "mirror"
    assert "sync_mode" in _clean_error(run_connector("source", "read", config, catalog))


def test_a_cursor_that_is_not_the_streams_is_flagged(account):
    _, config, _ = account
    catalog = configured_catalog(["customers"], sync_mode="incremental")
    catalog["streams"][0]["cursor_field"] = ["email"]
    result = run_connector("source", "read", config, catalog)
    warned = any("email" in m["log"]["message"] and m["log"]["level"] in ("WARN", "ERROR") for m in result.of_type("LOG"))
    assert warned or "cursor" in _clean_error(result)


def test_a_negative_cursor_is_a_config_error(account):
    _, config, _ = account
    result = run_connector(
        "source", "read", config, configured_catalog(["customers"], sync_mode="incremental"), state=_state({"created": -5})
    )
    assert "customers" in _clean_error(result)


def test_a_numeric_string_cursor_is_accepted(account):
    _emulator, config, expected = account
    result = run_connector(
        "source", "read", config, configured_catalog(["customers"], sync_mode="incremental"), state=_state({"created": "0"})
    )
    assert result.returncode == 0 and {r["id"] for r in result.records_of("customers")} == expected["customers"]


def test_an_old_legacy_state_loses_nothing(account):
    _, config, expected = account
    state = [{"type": "LEGACY", "data": {"customers": {"created": 5}}}]
    result = run_connector("source", "read", config, configured_catalog(["customers"], sync_mode="incremental"), state=state)
    assert result.returncode == 0 and {r["id"] for r in result.records_of("customers")} == expected["customers"]


def test_corrupt_state_json_fails_without_reading(account, tmp_path):
    emulator, config, _ = account
    (tmp_path / "state.json").write_text('[{"type": "STREAM", "stream": {')
    before = len(emulator.requests)
    result = run_connector(
        "source",
        "read",
        config,
        configured_catalog(["customers"], sync_mode="incremental"),
        extra_args=["--state", str(tmp_path / "state.json")],
    )
    assert result.returncode != 0 and not result.records and len(emulator.requests) == before
    assert result.errors() and all("Traceback" not in e["message"] for e in result.errors())


def test_an_old_dict_state_is_a_config_error(account):
    _, config, _ = account
    result = run_connector(
        "source", "read", config, configured_catalog(["customers"], sync_mode="incremental"), state={"customers": {"created": 5}}
    )
    assert "state" in _clean_error(result)


@pytest.mark.parametrize("cursor", [4_102_444_800, 10**300])
def test_a_cursor_in_the_future_is_refused_or_flagged(account, cursor):
    _, config, _ = account
    result = run_connector(
        "source", "read", config, configured_catalog(["customers"], sync_mode="incremental"), state=_state({"created": cursor})
    )
    flagged = any("future" in m["log"]["message"] for m in result.of_type("LOG") if m["log"]["level"] in ("WARN", "ERROR"))
    assert flagged or "future" in _clean_error(result)


# -- destination input ---------------------------------------------------------------------


def _write_raw(config, lines):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c.json").write_text(json.dumps(config))
        (Path(tmp) / "k.json").write_text(json.dumps(h.destination_catalog()))
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import source_stripe_proxy.airbyte.entrypoints as m; m.run_destination()",
                "write",
                "--config",
                f"{tmp}/c.json",
                "--catalog",
                f"{tmp}/k.json",
            ],
            input=b"\n".join(lines) + b"\n",
            capture_output=True,
            cwd=REPO_ROOT,
            timeout=300,
        )


def _rec(data, stream="customers"):
    return json.dumps({"type": "RECORD", "record": {"stream": stream, "emitted_at": 0, "data": data}}).encode()


def test_bad_destination_records_are_rejected_with_a_reason_and_the_rest_written():
    with StripeEmulator(api_key=h.UPSTREAM_KEY) as emulator:
        config = h.source_config(emulator, "api_key")
        lines = [
            _rec({"external_id": "ok-1", "email": "a@example.com"}),
            _rec({"external_id": "types", "name": {"first": "x"}}),
            _rec({"name": "no key"}),
            _rec({"external_id": "long-key", "metadata": {"k" * 41: "v"}}),
            _rec({"external_id": "long-value", "metadata": {"k": "v" * 501}}),
            _rec({"external_id": "bad-email", "email": "not-an-email"}),
            _rec({"external_id": "ok-2", "email": "b@example.com"}),
            _rec({"external_id": "P-1", "name": "Widget"}, "products"),
            json.dumps({"type": "STATE", "state": {"type": "LEGACY", "data": {"m": 1}}}).encode(),
        ]
        completed = _write_raw(config, lines)
        stored = sorted(c["metadata"]["external_id"] for c in emulator.store.all("customers"))
        products = emulator.store.count("products")
    out = completed.stdout.decode()
    assert completed.returncode == 0, out[-2000:]
    rejected = [json.loads(line)["log"]["message"] for line in out.splitlines() if '"Rejected ' in line]
    assert len(rejected) == 5 and all("[" in r and "]" in r for r in rejected)  # each with a [type, code, param] reason
    assert stored == ["ok-1", "ok-2"] and products == 1


def test_a_non_utf8_record_is_rejected_and_the_rest_written():
    with StripeEmulator(api_key=h.UPSTREAM_KEY) as emulator:
        config = h.source_config(emulator, "api_key")
        bad = b'{"type": "RECORD", "record": {"stream": "customers", "emitted_at": 0, "data": {"external_id": "x", "name": "Jos\xe9"}}}'
        completed = _write_raw(
            config, [_rec({"external_id": "ok-1", "email": "a@example.com"}), bad, _rec({"external_id": "ok-2", "email": "b@example.com"})]
        )
        count = emulator.store.count("customers")
    assert completed.returncode == 0 and count == 2
    assert b"Rejected" in completed.stdout


def test_an_unparsable_line_is_reported_without_echoing_its_data():
    with StripeEmulator(api_key=h.UPSTREAM_KEY) as emulator:
        config = h.source_config(emulator, "api_key")
        completed = _write_raw(
            config, [b'{"type": "RECORD", "record": {"stream": "customers", "data": {"external_id": "x", "name": "PRIVATE\\ud800"}}}']
        )
    out = completed.stdout.decode()
    assert "PRIVATE" not in out
    assert "1 rejected" in out
