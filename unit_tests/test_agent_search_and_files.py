"""The action search (its index generated from the spec, its word rule shared with the
generator), uploads and binary answers: the multipart body, the files host per connection
mode, Paragon's headers, refusals before sending, saving a PDF."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import importlib.util
import json
from pathlib import Path

import pytest

from source_stripe_proxy.actions.connection import StripeConnection, prepare_call
from source_stripe_proxy.actions.errors import ActionInputError
from source_stripe_proxy.actions.files import MAX_UPLOAD_BYTES, read_upload, save
from source_stripe_proxy.actions.guardrails import GuardrailRefusal
from source_stripe_proxy.actions.search import search_actions
from source_stripe_proxy.actions.search_words import stem, words
from source_stripe_proxy.data import load_generated, resources

GENERATOR = Path(__file__).resolve().parent.parent / "scripts" / "generate_operations.py"
KEY = "sk_test_filesUNITsecret"


# -- search ---------------------------------------------------------------------------------------------


def test_one_word_rule_for_the_index_and_a_query():
    assert words("Refunds refunded refunding") == ["refund"] * 3
    assert words("cancel a subscription") == ["cancel", "subscription"]
    assert stem("invoices") == stem("invoice") and stem("billing") == stem("bill") and stem("cancelled") == "cancel"
    spec = importlib.util.spec_from_file_location("generate_operations", GENERATOR)
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.search_words_module().words("Refunded charges") == words("Refunded charges")


def test_the_index_covers_every_action_of_the_table_and_nothing_else():
    index = load_generated("search_index.json")
    indexed = {(doc["entity"], doc["action"]) for doc in index["docs"]}
    table = {(entity, action) for entity, info in resources.entities().items() for action in info["actions"]}
    assert indexed == table and len(indexed) == 545
    assert all(weight > 0 for postings in index["postings"].values() for _, weight in postings)


@pytest.mark.parametrize(
    "query,first",
    [
        ("cancel a subscription", ("cancel", "subscription")),
        ("void an invoice", ("void", "invoice")),
        ("download the quote pdf", ("pdf", "quote")),
        ("issue a credit note", ("create", "credit_note")),
        ("upload a dispute evidence file", ("create", "file")),
        ("make a new product", ("create", "product")),
        ("transfer money to a connected account", ("create", "transfer")),
    ],
)
def test_plain_requests_find_their_action_first(query, first):
    results = search_actions(query)
    assert (results[0]["action"], results[0]["entity"]) == first
    assert len(results) == 10 and results == sorted(results, key=lambda r: -r["score"])


def test_results_say_what_an_action_does_in_one_line_and_how_it_acts():
    kinds = {(r["action"], r["entity"]): r["kind"] for r in search_actions("refund", limit=50)}
    assert kinds[("create", "refund")] == "moves money"
    assert kinds[("update", "refund")] == "writes" and kinds[("list", "refund")] == "reads"
    for result in search_actions("refund a charge"):
        assert result["description"] and "\n" not in result["description"] and len(result["description"]) <= 160


def test_search_keeps_only_what_the_caller_may_use_and_refuses_bad_input():
    reads = search_actions("refund a charge", permitted=lambda action, entity, read_only: read_only)
    assert reads and all(r["kind"] == "reads" for r in reads)
    assert search_actions("zzzqqq") == []
    for query in ("", "   ", None, "x" * 501):
        with pytest.raises(ActionInputError) as caught:
            search_actions(query)
        assert caught.value.param == "query"
    with pytest.raises(ActionInputError):
        search_actions("refund", limit=0)


# -- uploads ---------------------------------------------------------------------------------------------


def test_an_upload_from_a_path_bytes_or_base64(tmp_path):
    path = tmp_path / "id-front.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\npixels")
    from_path = read_upload(str(path), "file")
    assert (from_path.name, from_path.content_type, from_path.content) == ("id-front.png", "image/png", path.read_bytes())
    from_object = read_upload({"name": "a/b/../evidence.pdf", "content_base64": base64.b64encode(b"%PDF-x").decode()}, "file")
    assert (from_object.name, from_object.content_type, from_object.content) == ("evidence.pdf", "application/pdf", b"%PDF-x")
    assert read_upload(b"raw", "file").content == b"raw"


@pytest.mark.parametrize(
    "value,paths,message",
    [
        ("/no/such/file.pdf", True, "cannot read"),
        ("/etc/hostname", False, "an object with 'name' and 'content_base64'"),
        (b"bytes", False, "an object"),
        ({"name": "x.pdf", "content_base64": "not base64!"}, True, "not valid base64"),
        ({"name": "x.pdf"}, True, "takes 'name'"),
        ({"name": "x.pdf", "content_base64": ""}, True, "empty"),
        ({"name": "x.pdf", "content_base64": "eA==", "type": "text/plain\r\nX-Evil: 1"}, True, "media type"),
    ],
)
def test_a_bad_upload_is_refused_naming_the_parameter(value, paths, message):
    with pytest.raises(ActionInputError, match=message) as caught:
        read_upload(value, "file", paths=paths)
    assert caught.value.param.startswith("file")


def test_an_upload_over_stripes_largest_limit_is_refused(tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        out.truncate(MAX_UPLOAD_BYTES + 1)
    with pytest.raises(ActionInputError, match="16 MB"):
        read_upload(str(big), "file")


def test_the_multipart_body_parses_back_to_its_fields_and_file(requests_mock):
    requests_mock.post("https://files.stripe.com/v1/files", json={"id": "file_1Up", "object": "file"})
    conn = connection("api_key")
    conn.client.send_to_host(
        "POST",
        "/v1/files",
        "https://files.stripe.com",
        params={"purpose": "dispute_evidence", "file_link_data": {"create": True}},
        files={"file": ('re"ceipt.pdf', b"%PDF-1.4 \r\n--not-the-boundary", "application/pdf")},
    )
    sent = requests_mock.request_history[-1]
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {sent.headers['Content-Type']}\r\n\r\n".encode() + sent.body
    )
    parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
    assert set(parts) == {"purpose", "file_link_data[create]", "file"}
    assert parts["purpose"].get_payload(decode=True) == b"dispute_evidence"
    assert parts["file_link_data[create]"].get_payload(decode=True) == b"true"
    assert parts["file"].get_payload(decode=True) == b"%PDF-1.4 \r\n--not-the-boundary"
    assert parts["file"].get_filename() == "re%22ceipt.pdf" and parts["file"].get_content_type() == "application/pdf"


# -- the files host per connection mode -----------------------------------------------------------------------


def connection(mode: str, **extra) -> StripeConnection:
    credentials = {
        "api_key": {"auth_type": "api_key", "api_key": KEY},
        "paragon": {"auth_type": "paragon", "project_id": "proj_1", "user_token": "paragon-UNIT-token"},
        "pinkconnect": {"auth_type": "pinkconnect", "proxy_url": "https://pink.example.com/stripe", "token": "pink-UNIT-token"},
    }[mode]
    return StripeConnection({"credentials": credentials, **extra})


UPLOAD = {"purpose": "identity_document", "file": {"name": "id.png", "content_base64": "iVBORw=="}}
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def test_direct_uploads_and_downloads_go_to_stripes_files_host(requests_mock, tmp_path):
    requests_mock.post("https://files.stripe.com/v1/files", json={"id": "file_1Up", "object": "file"})
    requests_mock.get("https://files.stripe.com/v1/quotes/qt_1Q/pdf", content=PDF, headers={"Content-Type": "application/pdf"})
    conn = connection("api_key", account_id="acct_1Platform")
    assert conn.run("create", "file", params=UPLOAD)["id"] == "file_1Up"
    sent = requests_mock.request_history[-1]
    assert sent.headers["Authorization"] == f"Bearer {KEY}" and sent.headers["Idempotency-Key"]
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="id.png"' in sent.body and b'name="purpose"' in sent.body
    assert conn.run("pdf", "quote", quote="qt_1Q") == PDF  # Python: the bytes, or saved with save_to
    saved = conn.run("pdf", "quote", quote="qt_1Q", save_to=str(tmp_path / "q.pdf"))
    assert saved == {"saved_to": str(tmp_path / "q.pdf"), "bytes": len(PDF)} and (tmp_path / "q.pdf").read_bytes() == PDF
    assert requests_mock.request_history[-1].headers["Stripe-Account"] == "acct_1Platform"


def test_a_stand_in_api_base_serves_the_files_host_too(requests_mock):
    requests_mock.get("https://stand-in.example.com/v1/quotes/qt_1/pdf", content=PDF, headers={"Content-Type": "application/pdf"})
    assert connection("api_key", api_base="https://stand-in.example.com").run("pdf", "quote", quote="qt_1") == PDF


def test_a_non_pdf_answer_is_an_error_not_a_file(requests_mock, tmp_path):
    requests_mock.get("https://files.stripe.com/v1/quotes/qt_1/pdf", text="<html>login</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(Exception, match="something other than application/pdf"):
        connection("api_key").run("pdf", "quote", quote="qt_1", save_to=str(tmp_path / "q.pdf"))
    assert not (tmp_path / "q.pdf").exists()


def test_paragon_downloads_through_its_target_and_raw_headers_and_refuses_uploads(requests_mock):
    base = "https://proxy.useparagon.com/projects/proj_1/sdk/proxy/stripe"
    requests_mock.get(base, content=PDF, headers={"Content-Type": "application/pdf"})
    conn = connection("paragon")
    assert conn.run("pdf", "quote", quote="qt_1") == PDF
    sent = requests_mock.request_history[-1]
    assert sent.headers["X-Paragon-Proxy-Url"] == "https://files.stripe.com/v1/quotes/qt_1/pdf"
    assert sent.headers["X-Paragon-Use-Raw-Response"] == "1" and sent.headers["Authorization"] == "Bearer paragon-UNIT-token"
    with pytest.raises(GuardrailRefusal, match="JSON request bodies") as caught:
        conn.run("create", "file", params=UPLOAD)
    assert caught.value.reason == "connection_mode" and requests_mock.call_count == 1


def test_pinkconnect_cannot_reach_the_files_host_and_sends_nothing(requests_mock):
    conn = connection("pinkconnect")
    for action, entity, params in (("create", "file", UPLOAD), ("pdf", "quote", {"quote": "qt_1"})):
        with pytest.raises(GuardrailRefusal, match=r"files\.stripe\.com"):
            conn.run(action, entity, params=params)
    assert requests_mock.call_count == 0


def test_a_dry_run_of_an_upload_shows_the_file_not_its_bytes():
    request = prepare_call("create", "file", UPLOAD).request()
    assert request["host"] == "https://files.stripe.com" and request["files"]["file"]["name"] == "id.png"
    assert "iVBORw" not in json.dumps(request)


def test_saving_replaces_the_file_whole(tmp_path):
    target = tmp_path / "out.pdf"
    target.write_bytes(b"old")
    assert save(PDF, target)["bytes"] == len(PDF) and target.read_bytes() == PDF
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]  # no temporary file left
    with pytest.raises(ActionInputError, match="save_to"):
        save(PDF, tmp_path / "missing" / "out.pdf")
