"""The source's check: a failed check names a handful of streams and counts the rest."""

import logging
import re

from source_stripe_proxy import SourceStripeProxy
from source_stripe_proxy.source.connector import CHECK_STREAMS_NAMED, summarize_problems
from source_stripe_proxy.source.stream_specs import STREAM_SPECS

CONFIG = {"credentials": {"auth_type": "api_key", "api_key": "sk_test_checkUNIT1"}, "max_retries": 0}


def named_streams(message):
    return [name for name in STREAM_SPECS if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", message)]


def test_a_check_where_no_stream_is_readable_names_a_handful_and_counts_the_rest(requests_mock):
    def denied(request, context):
        context.status_code = 403
        permission = request.path.strip("/").replace("/", "_")
        return {"error": {"type": "invalid_request_error", "message": f"Having the 'rak_{permission}_read' permission would allow this."}}

    requests_mock.get(re.compile(r"https://api\.stripe\.com/v1/.*"), json=denied)
    status = SourceStripeProxy().check(logging.getLogger("test"), CONFIG)
    assert status.status.value == "FAILED" and "No stream can be read" in status.message
    assert status.message.startswith("No stream can be read with this connection: customers: the key lacks permission")
    assert len(named_streams(status.message)) <= CHECK_STREAMS_NAMED < len(STREAM_SPECS)
    counted = sum(int(n) for n in re.findall(r"(\d+) more", status.message))
    assert len(named_streams(status.message)) + counted == len(STREAM_SPECS)


def test_streams_failing_alike_share_one_reason_and_the_first_leads():
    problems = {f"s{i:02d}": "HTTP 500" for i in range(40)}
    problems.update({"customers": "no permission", "cards": "no permission", "zebra": "Issuing is not enabled"})
    summary = summarize_problems(problems, "customers", named=5)
    assert summary == (
        "customers: no permission (also cards); s00: HTTP 500 (also s01, s02 and 37 more); "
        "and 1 more stream(s) for other reasons (each is in the log's warnings)"
    )
    assert summarize_problems({"a": "x", "b": "y"}, "b") == "b: y; a: x"
