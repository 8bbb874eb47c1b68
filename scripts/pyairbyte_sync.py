"""Sync source-stripe-proxy into a DuckDB file with PyAirbyte.

Runs in PyAirbyte's own environment (.venv-pyairbyte, see scripts/setup_pyairbyte.sh), never in
the connector's: PyAirbyte starts the connector as a separate program, the `source-stripe-proxy`
console script of the connector's environment, and talks to it over the Airbyte protocol.

    .venv-pyairbyte/bin/python scripts/pyairbyte_sync.py --config CONFIG.json \
        --executable .venv/bin/source-stripe-proxy --db .demo/stripe.duckdb [--summary OUT.json]

Every stream (or those ``--streams`` names) is read incrementally where it can be. PyAirbyte keeps each stream's state in the DuckDB file
itself (its `_airbyte_state` table), so running this again reads only what is new.

With ``--changes FILE`` (written by scripts/demo.py before an incremental sync: what it changed
in the stand-in, and the rows DuckDB must then show) it prints a table of what the sync brought
for each change, checked in DuckDB, and a query that lists the changed rows (also written next
to the DuckDB file as ``last-changes.sql``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections import Counter
from importlib.metadata import version
from pathlib import Path

# Before PyAirbyte is imported: no registry downloads, no usage telemetry, and none of the
# FutureWarnings its cloud-warehouse dependencies print on import.
os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
warnings.filterwarnings("ignore", category=FutureWarning)

import airbyte as ab  # noqa: E402 - after the settings above, which it reads on import
from airbyte._processors.sql.duckdb import DuckDBSqlProcessor  # noqa: E402 - after the settings above, which it reads on import
from airbyte.caches import DuckDBCache  # noqa: E402 - after the settings above, which it reads on import
from airbyte.types import SQLTypeConverter  # noqa: E402 - after the settings above, which it reads on import
from sqlalchemy import text  # noqa: E402  (PyAirbyte's SQL layer)

SOURCE_NAME = "source-stripe-proxy"
QUERY_FILE = Path(__file__).with_name("demo_query.sql")
DUNNING_FILE = Path(__file__).with_name("dunning_query.sql")


class StripeTypeConverter(SQLTypeConverter):
    """PyAirbyte's column types, plus a quiet rule for fields that hold one of several types.

    Stripe's expandable fields hold an id or, when expanded, the object: the schemas say
    ``{"type": ["null", "string", "object"]}``. PyAirbyte stores such a column as VARCHAR (the id,
    or the object as JSON text), which is what we want, but prints a warning for every one of
    them on every run. This converter makes the same choice without the noise.
    """

    def to_sql_type(self, json_schema_property_def):
        types = json_schema_property_def.get("type")
        if isinstance(types, list) and len({t for t in types if t != "null"}) > 1:
            return self.get_string_type()
        return super().to_sql_type(json_schema_property_def)


class StripeDuckDBProcessor(DuckDBSqlProcessor):
    type_converter_class = StripeTypeConverter


class StripeDuckDBCache(DuckDBCache):
    """A DuckDB cache using ``StripeTypeConverter``; everything else is PyAirbyte's."""

    _sql_processor_class = StripeDuckDBProcessor


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, type=Path, help="the source's config (JSON file)")
    parser.add_argument("--executable", required=True, type=Path, help="the source-stripe-proxy console script")
    parser.add_argument("--db", required=True, type=Path, help="the DuckDB file to write (created if missing)")
    parser.add_argument("--summary", type=Path, help="also write the per-stream counts here, as JSON")
    parser.add_argument("--full-refresh", action="store_true", help="ignore the saved state and read everything")
    parser.add_argument("--changes", type=Path, help="changes made before this sync, to check and show in DuckDB (scripts/demo.py)")
    parser.add_argument("--streams", help="the streams to sync, comma-separated (default: every stream the source offers)")
    parser.add_argument(
        "--skip-unavailable",
        action="store_true",
        help="skip streams the account can't read (unavailable_streams: skip), unless the config says otherwise",
    )
    return parser.parse_args(argv)


class TraceDisplay:
    """Shows the source's STREAM_STATUS and ESTIMATE traces as they arrive, and counts records.

    PyAirbyte's own display counts records; these lines add what only the source knows: when each
    stream starts, runs and completes, and how much it expects to read.
    """

    def __init__(self) -> None:
        self.records: Counter = Counter()
        self.statuses: dict = {}
        self.estimates: dict = {}
        self.started = time.monotonic()

    def __call__(self, message) -> None:
        if message.record is not None:
            self.records[message.record.stream] += 1
            return
        trace = message.trace
        if trace is None:
            return
        if trace.stream_status is not None:
            stream = trace.stream_status.stream_descriptor.name
            status = _name(trace.stream_status.status)
            self.statuses[stream] = status
            if status == "RUNNING":
                return  # one line per stream start and end is enough
            suffix = f" ({self.records[stream]} records)" if status in ("COMPLETE", "INCOMPLETE") else ""
            self.say(f"stream {stream}: {status}{suffix}")
        elif trace.estimate is not None:
            estimate = trace.estimate
            what = ", ".join(
                f"{value} {unit}"
                for value, unit in ((estimate.row_estimate, "rows"), (estimate.byte_estimate, "bytes"))
                if value is not None
            )
            self.estimates[estimate.name] = estimate.row_estimate
            self.say(f"estimate {_name(estimate.type).lower()} {estimate.name}: {what or 'unknown'}")

    def say(self, text: str) -> None:
        print(f"  [{time.monotonic() - self.started:6.1f}s] {text}", file=sys.stderr, flush=True)


def _name(value) -> str:
    return getattr(value, "value", str(value))


def watch_messages(source, display: TraceDisplay) -> None:
    """Let ``display`` see every message the source sends, before PyAirbyte handles it.

    PyAirbyte has no public hook for this; it passes each message through
    ``_peek_airbyte_message`` (pinned PyAirbyte version, see scripts/setup_pyairbyte.sh). If a
    later version drops it, the sync still runs, just without these lines.
    """
    peek = getattr(source, "_peek_airbyte_message", None)
    if peek is None:
        print("warning: this PyAirbyte version gives no access to the source's traces", file=sys.stderr)
        return

    def peek_and_show(message, *args, **kwargs):
        display(message)
        return peek(message, *args, **kwargs)

    source._peek_airbyte_message = peek_and_show


def existing_tables(connection, schema: str) -> set:
    query = text("SELECT table_name FROM information_schema.tables WHERE table_schema = :schema")
    return {row[0] for row in connection.execute(query, {"schema": schema})}


def table_counts(cache: DuckDBCache, streams) -> dict:
    counts = {}
    with cache.get_sql_engine().connect() as connection:
        existing = existing_tables(connection, cache.schema_name)
        for stream in streams:
            table = cache.processor.get_sql_table_name(stream)
            exists = table in existing
            query = text(f'SELECT count(*) FROM "{cache.schema_name}"."{table}"')  # noqa: S608 - our catalogue's names, quoted
            counts[stream] = connection.execute(query).scalar_one() if exists else 0
    return counts


def has_saved_state(cache: DuckDBCache) -> bool:
    """Whether an earlier sync of this source left its state in the file (PyAirbyte's `_airbyte_state`)."""
    with cache.get_sql_engine().connect() as connection:
        if "_airbyte_state" not in existing_tables(connection, cache.schema_name):
            return False
        query = text(f'SELECT count(*) FROM "{cache.schema_name}"."_airbyte_state" WHERE source_name = :source')  # noqa: S608 - the schema's name, quoted; the value bound
        return connection.execute(query, {"source": SOURCE_NAME}).scalar_one() > 0


def show_query(cache: DuckDBCache, query_file: Path, title: str) -> None:
    """Run an example query of docs/running.md over the result, as you would yourself."""
    import duckdb

    print(f"\n{title} (scripts/{query_file.name}, in docs/running.md):")
    # PyAirbyte's engine holds the file open; a second duckdb.connect() in this process would clash.
    connection = cache.get_sql_engine().raw_connection()
    try:
        print(connection.driver_connection.sql(query_file.read_text()))
    except duckdb.Error as error:  # e.g. an account without subscriptions or products
        print(f"  (it did not run on this data: {error})")
    finally:
        connection.close()


# The changed rows of the tables a change can touch, since the changes began: {since} is filled in.
CHANGES_QUERY = """\
SELECT 'customers' AS stream, id, coalesce(email, name) AS what, is_deleted, to_timestamp(updated) AS updated
  FROM customers WHERE updated >= {since}
UNION ALL SELECT 'prices', id, nickname, is_deleted, to_timestamp(updated) FROM prices WHERE updated >= {since}
UNION ALL SELECT 'subscriptions', id, status, is_deleted, to_timestamp(updated) FROM subscriptions WHERE updated >= {since}
UNION ALL SELECT 'subscription_items', id, price->>'$.nickname', is_deleted, to_timestamp(updated)
  FROM subscription_items WHERE updated >= {since}
UNION ALL SELECT 'invoices', id, status || ' ' || (total / 100)::DECIMAL(10, 2) || ' ' || upper(currency), is_deleted,
  to_timestamp(updated) FROM invoices WHERE updated >= {since}
ORDER BY updated, stream, id;
"""


def column_expression(name: str) -> str:
    """``email`` is a column; ``price.id`` is field ``id`` of JSON column ``price``."""
    column, _, field = name.partition(".")
    return f"\"{column}\"->>'$.{field}'" if field else f'"{column}"'


def check_row(connection, schema: str, table: str, object_id: str, expect: dict) -> dict:
    """The row of ``object_id`` in ``table``: its values of the expected columns, and whether they match."""
    names = list(expect)
    select = ", ".join(column_expression(name) for name in names) or "1"
    query = text(f'SELECT {select} FROM "{schema}"."{table}" WHERE id = :id')  # noqa: S608 - our catalogue's names, quoted; the id bound
    row = connection.execute(query, {"id": object_id}).fetchone()
    found = dict(zip(names, row, strict=True)) if row is not None else None
    return {
        "table": table,
        "id": object_id,
        "expect": expect,
        "found": found,
        "ok": found is not None and all(found[name] == value for name, value in expect.items()),
    }


def shown(value) -> str:
    return {True: "true", False: "false", None: "NULL"}.get(value, repr(value)) if isinstance(value, (bool, type(None))) else repr(value)


def describe(results) -> str:
    """One change's checks as a short line: per label, the values found (those all its rows share)."""
    groups = {}
    for result in results:
        groups.setdefault(result.get("label", ""), []).append(result)
    parts = []
    for label, group in groups.items():
        missing = [r["id"] for r in group if r["found"] is None]
        if missing:
            parts.append(f"{label + ': ' if label else ''}MISSING {', '.join(missing)}")
            continue
        shared = {name: value for name, value in group[0]["found"].items() if all(r["found"][name] == value for r in group)}
        values = ", ".join(f"{name}={shown(value)}" for name, value in shared.items())
        if len(group) == 1:
            parts.append(f"{label}: {values}" if label else values)
        else:
            parts.append(f"{len(group)} {label + 's' if label else 'rows'}" + (f": {values}" if values else ""))
    return "; ".join(parts)


def show_changes(cache: DuckDBCache, changes_file: Path, db_path: Path) -> list:
    """What the sync brought for each change, checked row by row in DuckDB; then the rows themselves."""
    import duckdb

    changes = json.loads(changes_file.read_text())
    report = []
    with cache.get_sql_engine().connect() as connection:
        for change in changes["changes"]:
            results = [
                dict(check_row(connection, cache.schema_name, c["table"], c["id"], c["expect"]), label=c.get("label", ""))
                for c in change["checks"]
            ]
            report.append({"change": change["change"], "table": change["table"], "ok": all(r["ok"] for r in results), "checks": results})
    width = max(len(item["change"]) for item in report)
    print("\nWhat the incremental sync brought for each change made since the last sync (checked in DuckDB):")
    print(f"  {'change':{width}}  {'table':18}  in DuckDB now")
    for item in report:
        mark = "ok" if item["ok"] else "NOT AS EXPECTED"
        print(f"  {item['change']:{width}}  {item['table']:18}  {describe(item['checks'])}  [{mark}]")
    query = CHANGES_QUERY.format(since=int(changes["since"]))
    query_file = db_path.parent / "last-changes.sql"
    query_file.write_text(query)
    print(f"\nThe changed rows in DuckDB ({query_file}):\n{query}")
    connection = cache.get_sql_engine().raw_connection()
    try:
        print(connection.driver_connection.sql(query))
    except duckdb.Error as error:
        print(f"  (it did not run on this data: {error})")
    finally:
        connection.close()
    print(
        f'Run it yourself:  .venv-pyairbyte/bin/python -c "import duckdb; '
        f"duckdb.connect('{db_path}', read_only=True).sql(open('{query_file}').read()).show()\""
    )
    return report


def main(argv=None) -> int:
    args = parse_args(argv)
    config = json.loads(args.config.read_text())
    if args.skip_unavailable:
        config.setdefault("unavailable_streams", "skip")
    args.db.parent.mkdir(parents=True, exist_ok=True)
    cache = StripeDuckDBCache(db_path=str(args.db.resolve()), cache_dir=args.db.resolve().parent / ".pyairbyte-temp")
    source = ab.get_source(SOURCE_NAME, config=config, local_executable=args.executable.resolve())
    if args.streams:
        source.select_streams(args.streams.split(","))
    else:
        source.select_all_streams()
    streams = sorted(source.get_selected_streams())
    before = table_counts(cache, streams)
    incremental = has_saved_state(cache) and not args.full_refresh
    display = TraceDisplay()
    watch_messages(source, display)
    started = time.monotonic()
    source.read(cache=cache, force_full_refresh=args.full_refresh)
    elapsed = time.monotonic() - started
    after = table_counts(cache, streams)

    kind = "incremental" if incremental else "full"
    print()
    width = max(len(name) for name in ("stream", *streams))  # the longest name sets the column
    print(f"{'stream':{width}} {'read now':>9} {'rows in DuckDB':>15} {'change':>7}")
    for stream in streams:
        print(f"{stream:{width}} {display.records[stream]:9} {after[stream]:15} {after[stream] - before[stream]:+7d}")
    change = sum(after.values()) - sum(before.values())
    print(f"{'total':{width}} {sum(display.records.values()):9} {sum(after.values()):15} {change:+7d}")
    again = sum(display.records.values()) - sum(max(0, after[s] - before[s]) for s in streams)
    if kind == "incremental" and again > 0:
        records = "1 record was" if again == 1 else f"{again} records were"
        print(
            f"({records} read again: changed objects, and a safety margin around the saved cursor;\n"
            " PyAirbyte merges them by primary key, so a table grows only by what is new.)"
        )
    print()
    print(f"{kind.capitalize()} sync done in {elapsed:.1f}s. DuckDB file: {args.db.resolve()}")
    show_query(cache, QUERY_FILE, "Monthly recurring revenue by product")
    show_query(cache, DUNNING_FILE, "Failed payments and how dunning ended them")
    changes = show_changes(cache, args.changes, args.db.resolve()) if args.changes else None
    if args.summary:
        args.summary.write_text(
            json.dumps(
                {
                    "db": str(args.db.resolve()),
                    "schema": cache.schema_name,
                    "tables": {stream: cache.processor.get_sql_table_name(stream) for stream in streams},
                    "read": dict(display.records),
                    "rows_before": before,
                    "rows": after,
                    "statuses": display.statuses,
                    "estimates": display.estimates,
                    "seconds": round(elapsed, 2),
                    "pyairbyte_version": version("airbyte"),
                    "changes": changes,
                },
                indent=1,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
