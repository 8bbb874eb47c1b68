"""Reader (c): Airbyte's own Stripe source (PyPI `airbyte-source-stripe`), pointed at our emulator.

It needs airbyte-cdk 6 (ours is 7), so it lives in its own venv: `make bench-reader-c-setup`
creates `benchmarks/.venv-c`. Its manifest hard-codes `url_base: https://api.stripe.com/v1` and its
config has no base URL, so this wrapper rewrites that one string to ``<--api-base>/v1`` when the
manifest is loaded; nothing else is changed.

    benchmarks/.venv-c/bin/python benchmarks/reader_c.py --api-base http://127.0.0.1:PORT \
        read --config config.json --catalog catalog.json
"""

import sys

from source_stripe import SourceStripe
from source_stripe.run import run

STRIPE_URL = "https://api.stripe.com/v1"


def _rewrite(value, base):
    if isinstance(value, dict):
        return {k: _rewrite(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, base) for v in value]
    if isinstance(value, str) and value.startswith(STRIPE_URL):
        return base + "/v1" + value[len(STRIPE_URL) :]
    return value


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] != "--api-base":
        raise SystemExit("usage: reader_c.py --api-base URL <spec|check|discover|read> ...")
    base = sys.argv[2].rstrip("/")
    del sys.argv[1:3]  # the rest is the Airbyte command line
    original = SourceStripe._read_and_parse_yaml_file

    def read_manifest(self, path):
        return _rewrite(original(self, path), base)

    SourceStripe._read_and_parse_yaml_file = read_manifest
    run()


if __name__ == "__main__":
    main()
