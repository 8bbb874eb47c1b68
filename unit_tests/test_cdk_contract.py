"""Contract tests for every CDK internal we rely on (all used from ``airbyte/hooks.py``).

Each test pins one behaviour of airbyte-cdk that our code depends on, so that a CDK upgrade
which changes it fails here, by name, instead of somewhere in a sync.
"""

from __future__ import annotations

import inspect
import io
import json
import re
from argparse import Namespace

import pytest
from airbyte_cdk.connector import BaseConnector, Connector
from airbyte_cdk.destinations import Destination
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_stripe_proxy.airbyte import hooks
from source_stripe_proxy.airbyte.hooks import LenientInputDestination, SourceEntrypoint, UnreadableLine, load_spec, read_json_file
from source_stripe_proxy.destination.connector import DestinationStripeProxy
from source_stripe_proxy.source.connector import SourceStripeProxy

CONFIG = {"credentials": {"auth_type": "api_key", "api_key": "sk_test_contract0123456789"}, "api_base": "http://127.0.0.1:9"}


def test_read_json_file_is_the_cdks_static_reader_and_names_the_file_not_its_contents(tmp_path):
    assert isinstance(inspect.getattr_static(BaseConnector, "_read_json_file"), staticmethod)
    good = tmp_path / "catalog.json"
    good.write_text('{"streams": []}')
    assert read_json_file(str(good)) == {"streams": []}
    bad = tmp_path / "state.json"
    bad.write_text('{"secret": "sk_test_notjson"')
    with pytest.raises(ValueError, match=re.escape(str(bad))) as caught:
        read_json_file(str(bad))
    assert str(bad) in str(caught.value) and "sk_test_notjson" not in str(caught.value)


def test_the_cdks_default_spec_looks_in_the_top_level_package_so_both_connectors_load_their_own():
    """``Connector.spec`` reads ``spec.yaml`` of the top-level package; ours live beside each connector."""
    source = inspect.getsource(Connector.spec)
    assert "spec.yaml" in source and 'split(".")[0]' in source
    with pytest.raises(FileNotFoundError):
        Connector.spec(SourceStripeProxy(), logger=None)  # the top-level package has no spec.yaml
    source_spec = SourceStripeProxy().spec(None)
    destination_spec = DestinationStripeProxy().spec(None)
    assert source_spec == load_spec("source_stripe_proxy.source")
    assert destination_spec == load_spec("source_stripe_proxy.destination")
    assert source_spec.connectionSpecification != destination_spec.connectionSpecification


def test_run_write_parses_stdin_with_the_overridable_parse_input_stream():
    """``Destination._run_write`` takes its messages from ``self._parse_input_stream(input_stream)``."""
    write = inspect.signature(Destination._run_write)
    assert list(write.parameters) == ["self", "config", "configured_catalog_path", "input_stream"]
    assert "self._parse_input_stream(input_stream)" in inspect.getsource(Destination._run_write)
    assert list(inspect.signature(Destination._parse_input_stream).parameters) == ["self", "input_stream"]


def test_our_input_parser_reports_a_bad_line_instead_of_ending_the_write():
    record = json.dumps({"type": "RECORD", "record": {"stream": "customers", "data": {"id": "cus_1"}, "emitted_at": 1}})
    lines = [record.encode() + b"\n", b"\xff\xfe not utf-8\n", b'{"type": "RECORD", "record": {"stream": "products"\n', b"\n"]
    parsed = list(LenientInputDestination._parse_input_stream(DestinationStripeProxy(), iter(lines)))
    assert parsed[0].type == Type.RECORD and parsed[0].record.stream == "customers"
    assert isinstance(parsed[1], UnreadableLine) and parsed[1].number == 2 and "UTF-8" in parsed[1].reason
    assert isinstance(parsed[2], UnreadableLine) and parsed[2].number == 3 and parsed[2].stream is None
    assert len(parsed) == 3  # blank lines are skipped


def test_destination_run_dispatches_through_run_cmd_with_the_parsed_command(monkeypatch, capsys):
    """``Destination.run`` parses argv and writes whatever ``run_cmd`` yields; we replace ``run_cmd``."""
    assert "self.run_cmd(parsed_args)" in inspect.getsource(Destination.run)
    seen = []
    real = DestinationStripeProxy.run_cmd

    def recording(self, parsed_args):
        seen.append(parsed_args)
        return real(self, parsed_args)

    monkeypatch.setattr(DestinationStripeProxy, "run_cmd", recording)
    DestinationStripeProxy().run(["spec"])
    assert [args.command for args in seen] == ["spec"]
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["type"] == "SPEC"


def test_our_run_cmd_checks_with_our_messages_not_the_cdks_jsonschema_ones(tmp_path):
    """The CDK's run_cmd validates the config against the spec and quotes values; ours doesn't."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**CONFIG, "unknown_fields": "sk_test_echoedValue123"}))
    messages = list(DestinationStripeProxy().run_cmd(Namespace(command="check", config=str(config))))
    status = messages[0].connectionStatus
    assert status.status.value == "FAILED" and "'unknown_fields'" in status.message
    assert "sk_test_echoedValue123" not in status.message
    assert "_run_check" in inspect.getsource(hooks.LenientInputDestination.run_cmd)
    assert list(inspect.signature(Destination._run_check).parameters) == ["self", "config"]


def test_source_overrides_the_cdks_catalog_and_state_readers_which_are_classmethods(tmp_path):
    """The entrypoint calls ``source.read_catalog(path)`` / ``source.read_state(path)``."""
    entrypoint = inspect.getsource(AirbyteEntrypoint.run)
    assert "self.source.read_state(" in entrypoint and "self.source.read_catalog(" in entrypoint
    for name in ("read_catalog", "read_state"):
        assert isinstance(inspect.getattr_static(SourceStripeProxy, name), classmethod), name
    old_state = tmp_path / "state.json"
    old_state.write_text('{"customers": {"created": 1}}')
    with pytest.raises(AirbyteTracedException) as caught:
        SourceStripeProxy.read_state(str(old_state))
    assert "per-stream" in str(caught.value) and caught.value.failure_type.value == "config_error"


def test_the_cdks_check_validates_through_the_overridable_validate_connection(tmp_path):
    """``AirbyteEntrypoint.check`` calls ``self.validate_connection`` (jsonschema, quoting values) even
    with ``check_config_against_spec = False``; ``SourceEntrypoint`` replaces it with the source's
    validation. ``launch_source`` mirrors ``launch``: an entrypoint around the source, each message printed."""
    assert "self.validate_connection(" in inspect.getsource(AirbyteEntrypoint.check)
    assert "AirbyteEntrypoint(source)" in inspect.getsource(launch) and "PRINT_BUFFER" in inspect.getsource(launch)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**CONFIG, "page_size": 500}))

    def check_message(entrypoint_class) -> str:
        entrypoint = entrypoint_class(SourceStripeProxy())
        out = list(entrypoint.run(entrypoint.parse_args(["check", "--config", str(config)])))
        [status] = [json.loads(line)["connectionStatus"] for line in out if '"CONNECTION_STATUS"' in line]
        return status["message"]

    assert "500" in check_message(AirbyteEntrypoint)  # the CDK's: "Config validation error: 500 is greater than ..."
    assert check_message(SourceEntrypoint) == "'page_size' must be a whole number from 1 to 100."


def test_input_is_text_or_bytes_lines():
    """The CDK passes ``sys.stdin.buffer`` (bytes lines) from run_cmd; tests may pass text."""
    text = io.StringIO(json.dumps({"type": "STATE", "state": {"type": "LEGACY", "data": {}}}) + "\n")
    parsed = list(DestinationStripeProxy()._parse_input_stream(text))
    assert parsed[0].type == Type.STATE
