"""The README's incremental read, run line by line as a user would (the console scripts on the
PATH, as after `. .venv/bin/activate`), against our Stripe emulator: the catalog its first line
makes from `discover` is the one shipped in integration_tests/, and the read with the saved
state returns exactly what changed in between."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from integration_tests.harness import REPO_ROOT
from stripe_emulator import StripeEmulator

KEY = "sk_test_readmeCOMMANDS1"
MARKER = "<!-- incremental-read:"


def readme_block(marker: str) -> list:
    """The command lines of the ```bash block right after ``marker`` in the README."""
    text = (REPO_ROOT / "README.md").read_text()
    block = text[text.index(marker) :].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def run(line: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # . .venv/bin/activate
    done = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{line[:80]}...\n{done.stderr[-2000:]}"
    return done


def without_schemas(catalog: dict) -> list:
    return [dict(entry, stream={k: v for k, v in entry["stream"].items() if k != "json_schema"}) for entry in catalog["streams"]]


def records_by_stream(lines: list) -> dict:
    out: dict = {}
    for message in map(json.loads, lines):
        if message["type"] == "RECORD":
            out.setdefault(message["record"]["stream"], set()).add(message["record"]["data"]["id"])
    return out


def test_the_readme_incremental_read_returns_only_what_changed(tmp_path):
    make_catalog, first_read, save_state, second_read = readme_block(MARKER)
    assert "discover" in make_catalog and "--state state.json" in second_read
    with StripeEmulator(api_key=KEY) as emulator:
        emulator.set_time(int(time.time()) - 3600)
        customers = [emulator.store.add("customers", {"email": f"c{i}@example.com", "name": f"C {i}"}) for i in range(3)]
        product = emulator.store.add("products", {"name": "Gold"})
        price = emulator.store.add(
            "prices", {"product": product["id"], "unit_amount": 900, "currency": "usd", "recurring": {"interval": "month"}}
        )
        emulator.store.add("subscriptions", {"customer": customers[0]["id"], "items": [{"price": price["id"]}]})
        emulator.clock.unfreeze()
        (tmp_path / "secrets").mkdir()
        (tmp_path / "secrets" / "config.json").write_text(
            json.dumps({"credentials": {"auth_type": "api_key", "api_key": KEY}, "api_base": emulator.url})
        )
        for line in (make_catalog, first_read, save_state):
            run(line, tmp_path)
        made = json.loads((tmp_path / "incremental_catalog.json").read_text())
        modes = {s["stream"]["name"]: s["sync_mode"] for s in made["streams"]}
        assert len(modes) == 110 and sum(mode == "incremental" for mode in modes.values()) == 89  # the rest: full refresh only
        assert all(s["sync_mode"] in s["stream"]["supported_sync_modes"] for s in made["streams"])
        assert all(s["stream"]["json_schema"]["properties"] for s in made["streams"])  # discover's schemas, for a destination
        shipped = json.loads((REPO_ROOT / "integration_tests" / "incremental_catalog.json").read_text())
        assert without_schemas(made) == without_schemas(shipped), (
            "integration_tests/incremental_catalog.json is not what the README's discover line makes (schemas aside)"
        )
        run(
            first_read.replace("incremental_catalog.json", str(REPO_ROOT / "integration_tests" / "incremental_catalog.json")).replace(
                "first-read.jsonl", "shipped-read.jsonl"
            ),
            tmp_path,
        )  # the shipped one reads the same
        shipped_read = (tmp_path / "shipped-read.jsonl").read_text().splitlines()
        assert records_by_stream(shipped_read) == records_by_stream((tmp_path / "first-read.jsonl").read_text().splitlines())
        first = [json.loads(line) for line in (tmp_path / "first-read.jsonl").read_text().splitlines()]
        assert sum(m["type"] == "RECORD" for m in first) > 0
        assert len(json.loads((tmp_path / "state.json").read_text())) == 110  # one state per stream

        def stripe(method, path, **data):
            response = requests.request(method, f"{emulator.url}{path}", data=data, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
            assert response.status_code == 200, response.text

        stripe("POST", f"/v1/customers/{customers[1]['id']}", email="moved@example.com")
        stripe("DELETE", f"/v1/customers/{customers[2]['id']}")
        second = [json.loads(line) for line in run(second_read, tmp_path).stdout.splitlines()]
    records = [(m["record"]["stream"], m["record"]["data"]) for m in second if m["type"] == "RECORD"]
    assert sorted((r["id"], r["email"], r["is_deleted"]) for stream, r in records if stream == "customers") == sorted(
        [
            (customers[1]["id"], "moved@example.com", False),
            (customers[2]["id"], "c2@example.com", True),  # deleted: its last version, marked deleted
        ]
    )
    assert sorted(r["type"] for stream, r in records if stream == "events") == ["customer.deleted", "customer.updated"]
    assert {stream for stream, _ in records} == {"customers", "events"}  # nothing else changed
    assert {m["state"]["stream"]["stream_descriptor"]["name"] for m in second if m["type"] == "STATE"} == {
        s["stream"]["name"] for s in made["streams"]
    }


def free_port() -> int:
    """A port the system hands out (bound to port 0, then released for the emulator to take)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_readme_tries_the_actions_without_a_key_against_the_saved_demo_account(tmp_path):
    """The README's three lines: the emulator serving a saved account (as the demo saves it), the
    environment pointing at it, a call. The fixed port of the README is swapped for one the
    system hands out; everything else runs as written, in one shell, from a directory holding
    `.demo/stripe-emulator.json`."""
    from stripe_emulator.persistence import save_to_file

    start, point, call = readme_block("<!-- try-without-a-key:")
    pay, refund = readme_block("<!-- try-a-payment:")
    assert "--load .demo/stripe-emulator.json" in start and "--detach" in start and "STRIPE_API_BASE" in point
    with StripeEmulator(api_key="sk_test_emulator") as saved:  # the key the README gives
        customer = saved.store.add("customers", {"email": "late@example.com"})
        product = saved.store.add("products", {"name": "Gold"})
        price = saved.store.add(
            "prices", {"product": product["id"], "unit_amount": 900, "currency": "usd", "recurring": {"interval": "month"}}
        )
        late = saved.store.add("subscriptions", {"customer": customer["id"], "items": [{"price": price["id"]}], "status": "past_due"})
        saved.store.add("subscriptions", {"customer": customer["id"], "items": [{"price": price["id"]}]})
        (tmp_path / ".demo").mkdir()
        save_to_file(saved, tmp_path / ".demo" / "stripe-emulator.json")
    port = str(free_port())
    script = "\n".join(
        ["set -e", *(line.replace("12111", port) for line in (start, point, call)), 'echo "---"', pay.replace("12111", port)]
    )
    env = dict(
        os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(REPO_ROOT)
    )  # `python -m stripe_emulator` as from the checkout
    for name in ("STRIPE_API_KEY", "STRIPE_API_BASE"):
        env.pop(name, None)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    pid = next((int(word.rstrip(";")) for word in done.stdout.split() if word.rstrip(";").isdigit()), None)
    try:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        started, listed_and_paid = done.stdout.split("\n", 1)
        assert f"http://127.0.0.1:{port}" in started and f"kill {pid}" in started
        listed, paid = listed_and_paid.split("---\n")
        assert [s["id"] for s in json.loads(listed)["data"]] == [late["id"]]  # only the past-due one
        intent = json.loads(paid)
        assert intent["status"] == "succeeded" and intent["latest_charge"].startswith("ch_")
        back = subprocess.run(
            ["bash", "-c", refund.replace("pi_...", intent["id"])],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(env, STRIPE_API_BASE=f"http://127.0.0.1:{port}", STRIPE_API_KEY="sk_test_emulator"),
        )
        assert back.returncode == 0, back.stderr[-2000:]
        refunded = json.loads(back.stdout)
        assert (refunded["object"], refunded["amount"], refunded["charge"]) == ("refund", 500, intent["latest_charge"])
    finally:
        if pid:
            os.kill(pid, 15)
