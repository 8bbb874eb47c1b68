"""Run the source from a checkout: python main.py spec|check|discover|read ..."""

from source_stripe_proxy.airbyte.entrypoints import run_source

if __name__ == "__main__":
    run_source()
