"""`stripe-connection` against the emulator's injected faults: stdout holds exactly one JSON
document (Stripe's answer or the error object), retries are plain lines on stderr, a call to a
closed port fails at once, and one to a host that never answers gives up at its deadline. Real console script, real HTTP on loopback."""

import json
import socket
import subprocess

import pytest

from integration_tests.harness import API_KEY, CONSOLE_SCRIPT, MODES, SECRETS, cli, subprocess_env


def one_json_document(text):
    """The whole of ``text`` is one JSON value (raw_decode would accept trailing lines)."""
    decoder = json.JSONDecoder()
    value, end = decoder.raw_decode(text.strip())
    assert end == len(text.strip()), f"more than one document on stdout: {text!r}"
    return value


def run_script(env, *args):
    done = subprocess.run([CONSOLE_SCRIPT, *args], capture_output=True, text=True, timeout=120, env=subprocess_env(env))
    assert not any(secret in done.stdout + done.stderr for secret in SECRETS)
    return done


def test_a_retried_call_prints_only_stripes_json_and_reports_retries_on_stderr(emulator_upstream, seeded_emulator):
    seeded_emulator.faults.only_paths("/v1/customers").script(["429", "500"])
    try:
        done = run_script(emulator_upstream.env("pinkconnect"), "list", "customers", "limit=1")
    finally:
        seeded_emulator.faults.clear()
    assert done.returncode == 0, done.stderr
    assert one_json_document(done.stdout)["object"] == "list"
    retries = [line for line in done.stderr.splitlines() if "retry" in line]
    assert len(retries) == 2, done.stderr
    assert retries[0].startswith("stripe-connection: GET /v1/customers: HTTP 429; retry 1/")
    assert "HTTP 500; retry 2/" in retries[1]
    assert '"type"' not in done.stderr  # plain lines, no Airbyte LOG messages


def test_in_process_with_the_cdk_loaded_nothing_but_the_answer_reaches_stdout(emulator_upstream, seeded_emulator, capfd):
    import airbyte_cdk.entrypoint  # noqa: F401  (configures the root logger to print Airbyte messages)

    seeded_emulator.faults.only_paths("/v1/customers").script(["500"])
    try:
        code, data, stderr = cli(emulator_upstream.env("api_key"), "list", "customers", "limit=1")
    finally:
        seeded_emulator.faults.clear()
    assert code == 0 and data["object"] == "list"
    assert "retry 1/" in stderr
    captured = capfd.readouterr()
    assert captured.out == "" and "retry" not in captured.err  # the process's own streams stay clean


def test_an_error_after_retries_is_one_json_error_object(emulator_upstream, seeded_emulator):
    seeded_emulator.faults.only_paths("/v1/customers").script(["500"] * 20)  # more than the deadline allows
    try:
        done = run_script({**emulator_upstream.env("api_key"), "STRIPE_CONNECTION_TIMEOUT": "1"}, "get", "customer", "customer_id=cus_none")
    finally:
        seeded_emulator.faults.clear()
    assert done.returncode == 1
    error = one_json_document(done.stdout)["error"]
    assert (error["http_status"], error["type"]) == (500, "api_error")
    assert "retry 1/" in done.stderr


def test_a_closed_port_fails_at_once_naming_the_variable_that_set_it():
    with socket.socket() as bound:  # bound, not listening: connections are refused, and the port stays ours
        bound.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{bound.getsockname()[1]}"
        done = run_script({"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": closed}, "--timeout", "2", "list", "customers")
    assert done.returncode != 0
    error = one_json_document(done.stdout)["error"]
    assert "refused" in error["message"] and "STRIPE_API_BASE" in error["message"] and closed[7:] in error["message"]
    assert "retry" not in done.stderr  # issue 23: a refused connection is not retried


def test_a_silent_host_gives_up_at_the_deadline_not_after_every_retry():
    with socket.socket() as silent:  # listening, never answering: each attempt times out
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        done = run_script(
            {"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": f"http://127.0.0.1:{silent.getsockname()[1]}"},
            "--timeout",
            "2",
            "list",
            "customers",
        )
    assert done.returncode == 1
    error = one_json_document(done.stdout)["error"]
    assert error["type"] == "api_connection_error"
    assert "deadline is 2 s" in error["message"] and "Timeout" in error["message"]
    attempts = int(error["message"].split(" attempts")[0].rsplit(" ", 1)[1])
    assert attempts < 9  # max_retries=8 would make 9
    assert len([line for line in done.stderr.splitlines() if "retry" in line]) == attempts - 1


@pytest.mark.parametrize("mode", MODES)
def test_a_declined_card_is_one_json_error_with_stripes_decline_code_and_ids(emulator_upstream, seeded_emulator, mode):
    code, data, _ = cli(
        emulator_upstream.env(mode),
        "create",
        "payment_intent",
        "amount=1500",
        "currency=usd",
        "confirm=true",
        "payment_method=pm_card_chargeDeclinedInsufficientFunds",
        "payment_method_types[0]=card",
    )
    error = data["error"]
    assert code != 0 and error["http_status"] == 402, (mode, data)
    assert (error["type"], error["code"], error["decline_code"]) == ("card_error", "card_declined", "insufficient_funds"), mode
    assert error["charge"].startswith("ch_") and error["payment_intent"].startswith("pi_"), (mode, error)
    charge = seeded_emulator.store.get("charges", error["charge"])
    assert (charge["status"], charge["payment_intent"]) == ("failed", error["payment_intent"]), mode
