"""Console entry points of the two connectors (the actions' CLI is ``actions/cli.py``)."""

import sys

from airbyte_cdk.entrypoint import AirbyteEntrypoint

from source_stripe_proxy.airbyte.errors import ReadEnded
from source_stripe_proxy.airbyte.hooks import launch_source
from source_stripe_proxy.airbyte.malloc import limit_malloc_arenas
from source_stripe_proxy.destination.connector import DestinationStripeProxy
from source_stripe_proxy.source.connector import SourceStripeProxy


def run_source() -> None:
    limit_malloc_arenas()  # before any worker thread starts
    try:
        launch_source(SourceStripeProxy(), sys.argv[1:])
    except ReadEnded as ended:  # one error, said once; the CDK's handler would add two stack traces
        print(AirbyteEntrypoint.airbyte_message_to_string(ended.as_sanitized_airbyte_message()), flush=True)  # noqa: T201 - the protocol's stdout
        sys.exit(1)


def run_destination() -> None:
    limit_malloc_arenas()
    DestinationStripeProxy().run(sys.argv[1:])


if __name__ == "__main__":
    run_source()
