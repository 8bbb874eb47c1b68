"""Console entry points of the two connectors (the actions' CLI is ``actions/cli.py``)."""

import sys

from airbyte_cdk.entrypoint import launch

from source_stripe_proxy.airbyte.malloc import limit_malloc_arenas
from source_stripe_proxy.destination.connector import DestinationStripeProxy
from source_stripe_proxy.source.connector import SourceStripeProxy


def run_source() -> None:
    limit_malloc_arenas()  # before any worker thread starts
    launch(SourceStripeProxy(), sys.argv[1:])


def run_destination() -> None:
    limit_malloc_arenas()
    DestinationStripeProxy().run(sys.argv[1:])


if __name__ == "__main__":
    run_source()
