"""`stripe-connection` (the CLI) with the agents' limits and files, against the emulator on
loopback: an upload from a local path and a quote's PDF saved with save_to, a connected
account through --account, the amount cap from the environment, the audit log, and a
search. Refusals are checked to send nothing."""

from __future__ import annotations

import json

import pytest

from integration_tests.harness import MODES, cli, ok
from stripe_emulator import catalog
from stripe_emulator import files as emulator_files


def test_an_upload_from_a_path_and_a_pdf_saved_to_a_file(emulator_upstream, seeded_emulator, tmp_path):
    evidence = tmp_path / "shipping-label.pdf"
    evidence.write_bytes(b"%PDF-1.4\nshipped on time\n")
    env = emulator_upstream.env("api_key")
    made = ok(env, "create", "file", f"file={evidence}", "purpose=dispute_evidence")
    assert (made["filename"], made["size"]) == ("shipping-label.pdf", evidence.stat().st_size)
    assert emulator_files.stored_content(seeded_emulator.store, made["id"]) == evidence.read_bytes()

    quote = catalog.add(seeded_emulator.store, "quotes", {"status": "accepted", "amount_total": 990})
    saved = ok(env, "pdf", "quote", f"quote={quote['id']}", f"save_to={tmp_path / 'quote.pdf'}")
    assert saved == {"saved_to": str(tmp_path / "quote.pdf"), "bytes": (tmp_path / "quote.pdf").stat().st_size}
    assert (tmp_path / "quote.pdf").read_bytes().startswith(b"%PDF-")

    before = len(seeded_emulator.requests)
    code, error, _ = cli(env, "pdf", "quote", f"quote={quote['id']}")  # a PDF is not one JSON document
    assert code == 1 and error["error"]["param"] == "save_to"
    draft = catalog.add(seeded_emulator.store, "quotes", {"status": "draft"})
    assert len(seeded_emulator.requests) == before
    code, error, _ = cli(env, "pdf", "quote", f"quote={draft['id']}", f"save_to={tmp_path / 'draft.pdf'}")
    assert code == 1 and error["error"]["code"] == "quote_not_finalized" and not (tmp_path / "draft.pdf").exists()


@pytest.mark.parametrize("mode", MODES)
def test_account_cap_and_audit_from_the_command_line_and_the_environment(mode, emulator_upstream, seeded_emulator, tmp_path):
    account = "acct_1CliConnected"
    seeded_emulator.add_connected_account(account)
    log = tmp_path / "audit.jsonl"
    env = {**emulator_upstream.env(mode), "STRIPE_CONNECTION_MAX_AMOUNT": "5000", "STRIPE_CONNECTION_AUDIT_LOG": str(log)}
    made = ok(env, "--accounts", account, "--account", account, "create", "customer", "email=cli@example.com", "name=Cli")
    assert seeded_emulator.store_for(account).lookup("customers", made["id"]) is not None
    assert seeded_emulator.requests[-1]["headers"]["Stripe-Account"] == account

    before = len(seeded_emulator.requests)
    code, error, _ = cli(env, "--account", account, "list", "customers")  # no --accounts: refused
    assert code == 1 and error["error"]["code"] == "account"
    code, error, _ = cli(
        env, "--max-amount", "90000", "create", "invoice_item", f"customer={made['id']}", "amount=6000", "currency=usd"
    )  # the environment's lower cap holds
    assert code == 1 and (error["error"]["param"], error["error"]["code"]) == ("amount", "max_amount")
    assert len(seeded_emulator.requests) == before
    code, _, _ = cli(env, "--dry-run", "create", "invoice_item", f"customer={made['id']}", "amount=6000", "currency=usd")
    assert code == 1  # a dry run is held to the same cap

    item = ok(
        env, "--accounts", account, "--account", account, "create", "invoice_item", f"customer={made['id']}", "amount=4000", "currency=usd"
    )
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(entry["tool"], entry["outcome"], entry.get("reason"), entry["account"]) for entry in lines] == [
        ("cli", "sent", None, account),
        ("cli", "refused", "max_amount", None),
        ("cli", "refused", "max_amount", None),
        ("cli", "sent", None, account),
    ]
    assert lines[-1]["object_id"] == item["id"] and lines[-1]["amounts"][0] == {"param": "amount", "value": 4000, "currency": "usd"}
    assert "cli@example.com" not in log.read_text()


def test_search_from_the_command_line_and_the_search_action_still_works(emulator_upstream, seeded_emulator):
    env = emulator_upstream.env("api_key")
    found = ok(env, "search", "cancel", "a", "subscription")
    assert (found["results"][0]["action"], found["results"][0]["entity"]) == ("cancel", "subscription")
    assert found["results"][0]["describe"] == "stripe-connection describe subscription cancel"
    seeded_emulator.store.add("customers", {"email": "findme@example.com"})
    hits = ok(env, "search", "customers", "query=email:'findme@example.com'")  # Stripe's search action
    assert [c["email"] for c in hits["data"]] == ["findme@example.com"]
