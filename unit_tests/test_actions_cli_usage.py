"""`stripe-connection`'s usage errors are one JSON document on stdout too (exit 2), with the call
written the way it works (``--limit 5`` -> ``limit=5``); --help and docs/actions.md list the same
seed calls with the same required parameters. Nothing here reaches a network."""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from source_stripe_proxy.actions.cli import help_line, main, seed_call_lines

DOCS = Path(__file__).resolve().parent.parent / "docs" / "actions.md"
CLI = str(Path(sys.executable).parent / "stripe-connection")


def run(argv, env=None):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err, environ={} if env is None else env)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "argv, param, pairs, suggestion",
    [
        (["list", "customers", "--limit", "5"], "limit", "limit=5", "stripe-connection list customers limit=5"),
        (["list", "customers", "--limit=5", "--dry-run"], "limit", "limit=5", "stripe-connection list customers limit=5 --dry-run"),
        (
            ["--compact", "list", "customers", "--limit", "5", "--starting-after", "cus_1"],
            "limit",
            "limit=5, starting_after=cus_1",
            "stripe-connection --compact list customers limit=5 starting_after=cus_1",
        ),
        (
            ["create", "customer", "--name", "John Doe", "email=a@example.com"],
            "name",
            "name=John Doe",
            "stripe-connection create customer name='John Doe' email=a@example.com",
        ),
        (["list", "customers", "--limit"], "limit", "limit=VALUE", "stripe-connection list customers limit=VALUE"),
    ],
)
def test_a_parameter_written_as_an_option_is_one_json_error_with_the_working_form(argv, param, pairs, suggestion):
    code, out, err = run(argv)
    error = json.loads(out)["error"]  # exactly one JSON document
    assert code == 2 and err == ""
    assert (error["type"], error["param"], error["suggestion"]) == ("invalid_request_error", param, suggestion)
    assert f"not as options: {pairs}." in error["message"] and f"Try: {suggestion}." in error["message"]
    assert ("--compact" in argv) == (out.count("\n") == 1)  # --compact still holds for the error


def test_the_suggested_call_works():
    _, out, _ = run(["--dry-run", "list", "customers", "--limit", "5"])
    code, fixed, _ = run(json.loads(out)["error"]["suggestion"].split()[1:])
    assert code == 0 and json.loads(fixed) == {"method": "GET", "path": "/v1/customers", "query": {"limit": "5"}}


def test_a_credential_written_as_an_option_is_never_echoed():
    code, out, _ = run(["get", "customer", "--api-key", "sk_test_leakedKEY123", "--user-token", "tok-SECRET-9", "customer_id=cus_1"])
    error = json.loads(out)["error"]
    assert code == 2 and "sk_test_leakedKEY123" not in out and "tok-SECRET-9" not in out
    assert error["suggestion"] == "stripe-connection get customer api_key=VALUE user_token=VALUE customer_id=cus_1"
    assert "Credentials go in --config or environment variables." in error["message"]
    assert error["message"].startswith("Unknown option --api-key:")


@pytest.mark.parametrize(
    "argv, param, words",
    [(["--timeout"], "--timeout", "expected one argument"), (["list", "customers", "-x"], "-x", "unrecognized arguments: -x")],
)
def test_other_usage_errors_are_json_naming_the_option_with_the_usage(argv, param, words):
    code, out, err = run(argv)
    error = json.loads(out)["error"]
    assert code == 2 and err == "" and error["param"] == param
    assert words in error["message"].lower() and "ACTION ENTITY KEY=VALUE" in error["message"]


def test_the_console_script_keeps_stdout_one_json_document_and_help_still_prints():
    done = subprocess.run([CLI, "list", "customers", "--limit", "5"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr == "" and json.loads(done.stdout)["error"]["param"] == "limit"
    helped = subprocess.run([CLI, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: stripe-connection")
    assert run(["-h"])[0] == 0
    assert "  get    customer customer_id=..." in helped.stdout


def docs_seed_table():
    section = DOCS.read_text().split("### The seed's calls", 1)[1].split("#### Examples", 1)[0]
    rows = re.findall(r"^\| (\w+) \| (\w+) \|\s*([^|]*?)\s*\|", section, flags=re.MULTILINE)
    calls = {}
    for action, entity, required in rows:
        if action == "action":  # the header
            continue
        names = [n.strip() for n in required.split(" (")[0].split(",") if n.strip()]
        calls[(action, entity)] = names
    return calls


def test_help_and_docs_list_the_same_seed_calls_with_the_same_required_parameters(capsys):
    assert run(["--help"])[0] == 0
    helped = capsys.readouterr().out.splitlines()
    shown = {help_line(line): line for line in seed_call_lines()}
    listed = [shown[line] for line in helped if line in shown]
    assert listed == seed_call_lines() and len(listed) == 17
    in_help = {tuple(line.split()[:2]): [word.split("=")[0] for word in line.split()[2:]] for line in listed}
    assert docs_seed_table() == in_help


def test_docs_have_one_example_per_seed_call_that_runs_as_a_dry_run():
    text = DOCS.read_text()
    headings = re.findall(r"^##### (\w+) (\w+)$", text, flags=re.MULTILINE)
    assert sorted(headings) == sorted(tuple(line.split()[:2]) for line in seed_call_lines())
    for action, entity in headings:
        section = text.split(f"##### {action} {entity}\n", 1)[1].split("#####", 1)[0]
        (command,) = re.findall(r"^`(stripe-connection [^`]+)`$", section, flags=re.MULTILINE)
        code, out, _ = run(["--dry-run", *shlex.split(command)[1:]])
        assert code == 0, (command, out)
