"""Console entry points."""

import sys

from airbyte_cdk.entrypoint import launch

from source_stripe_proxy.malloc import limit_malloc_arenas
from source_stripe_proxy.source import SourceStripeProxy


def run_source() -> None:
    limit_malloc_arenas()
    launch(SourceStripeProxy(), sys.argv[1:])


if __name__ == "__main__":
    run_source()
