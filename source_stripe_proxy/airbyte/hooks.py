"""Every place we rely on a CDK internal, kept here so a CDK upgrade breaks one file.

Each hook has a contract test (``unit_tests/test_cdk_contract.py``) that fails when the CDK
changes what it relies on:

* ``read_json_file``: ``Connector._read_json_file``, to inspect a catalog or state file
  before the CDK parses it (its parser reports a bad sync mode as a bare system error).
* ``load_spec``: ``Connector.spec()`` loads ``spec.yaml`` from the top-level package only;
  our two connectors keep theirs beside their code.
* ``SourceEntrypoint`` / ``launch_source``: ``AirbyteEntrypoint.check`` calls
  ``self.validate_connection`` (a jsonschema check of the config) even when the source sets
  ``check_config_against_spec = False``; ours calls the source's own validation instead.
* ``LenientInputDestination``: overrides ``Destination._parse_input_stream`` (called by
  ``_run_write`` with stdin) so that one bad input line is reported instead of ending the
  write, and ``Destination.run_cmd`` to skip the CDK's jsonschema config check, whose errors
  quote config values.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import orjson
from airbyte_cdk.connector import Connector
from airbyte_cdk.destinations import Destination
from airbyte_cdk.entrypoint import PRINT_BUFFER, AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, ConnectorSpecification, ConnectorSpecificationSerializer, Type
from airbyte_cdk.utils.airbyte_secrets_utils import get_secrets, update_secrets

from source_stripe_proxy.core.config_rules import spec_document
from source_stripe_proxy.core.errors import ConfigError

logger = logging.getLogger("airbyte")


def read_json_file(path: str) -> Any:
    """A JSON file as the CDK reads it (its errors name the file, not its contents)."""
    return Connector._read_json_file(path)


def load_spec(package: str) -> ConnectorSpecification:
    """The connector specification kept in ``package`` (``source_stripe_proxy.source`` or ``.destination``)."""
    return ConnectorSpecificationSerializer.load(copy.deepcopy(spec_document(package.rsplit(".", 1)[-1])))


@runtime_checkable
class ValidatesConfig(Protocol):
    """A source that validates its own config (``SourceStripeProxy``), raising a traced config_error."""

    def validate_config(self, config: Mapping[str, Any]) -> None: ...


class SourceEntrypoint(AirbyteEntrypoint):
    """The CDK's entrypoint with the source's config validation in place of the CDK's jsonschema one.

    The CDK's ``check`` validates the config with jsonschema whatever ``check_config_against_spec``
    says: its messages quote the offending value and differ from what ``discover`` and ``read``
    say for the same config. Here ``check`` calls ``source.validate_config`` (which raises a
    traced config_error), the path every command takes.
    """

    def validate_connection(self, source_spec: ConnectorSpecification, config: Any) -> None:  # type: ignore[override]  # the CDK's is a staticmethod; ours needs its source
        if not isinstance(self.source, ValidatesConfig):
            raise TypeError(f"{type(self.source).__name__} has no validate_config: launch it with the CDK's entrypoint")
        self.source.validate_config(config)


def launch_source(source: Any, args: list[str]) -> None:
    """``airbyte_cdk.entrypoint.launch`` with ``SourceEntrypoint``."""
    entrypoint = SourceEntrypoint(source)
    parsed_args = entrypoint.parse_args(args)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed_args):
            print(f"{message}\n", end="")  # noqa: T201 - the protocol's stdout: one write per message, as the CDK's launch does


class UnreadableLine:
    """An input line that isn't a readable Airbyte message: where it was, and why."""

    __slots__ = ("number", "reason", "stream")

    def __init__(self, number: int, stream: str | None, reason: str):
        self.number, self.stream, self.reason = number, stream, reason


class LenientInputDestination(Destination):
    """A CDK destination whose input lines stand alone and whose config is checked by us."""

    def _parse_input_stream(self, input_stream: Any) -> Iterator[Any]:
        """Input lines as Airbyte messages; a line that can't be read becomes an ``UnreadableLine``.

        The CDK's parser decodes the whole stream strictly (one bad byte ends the write) and
        logs unparsable lines whole, record values included. Here each line stands alone
        and is reported by position and reason only.
        """
        for number, raw in enumerate(input_stream, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                yield AirbyteMessageSerializer.load(orjson.loads(text))
            except UnicodeDecodeError:
                yield UnreadableLine(number, _stream_of(raw), "the line is not valid UTF-8")
            except Exception as error:  # noqa: BLE001 - any malformed line is reported, never echoed
                yield UnreadableLine(number, _stream_of(raw), f"not a valid Airbyte message ({type(error).__name__})")

    def run_cmd(self, parsed_args: argparse.Namespace) -> Iterable[AirbyteMessage]:
        """As the CDK's, without its jsonschema config check (its errors quote config values)."""
        spec = self.spec(logger)
        if parsed_args.command == "spec":
            yield AirbyteMessage(type=Type.SPEC, spec=spec)
            return
        config = self.read_config(config_path=parsed_args.config)
        update_secrets(get_secrets(spec.connectionSpecification, config))
        if parsed_args.command == "check":
            yield self._run_check(config=config)
        elif parsed_args.command == "write":
            yield from self._run_write(
                config=config,
                configured_catalog_path=parsed_args.catalog,
                input_stream=sys.stdin.buffer,  # type: ignore[arg-type]  # bytes on purpose: our parser decodes each line alone
            )
        else:  # pragma: no cover - argparse only lets the three commands through
            raise ConfigError(f"Unknown command {parsed_args.command!r}: use spec, check or write.")


def _stream_of(raw: Any) -> str | None:
    """Best effort: the record's stream, so the rejection is counted where it belongs."""
    try:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        stream = json.loads(text).get("record", {}).get("stream")
        return stream if isinstance(stream, str) else None
    except Exception:  # noqa: BLE001 - unknowable: counted as an unreadable line
        return None
