import re
from pathlib import Path

from setuptools import find_packages, setup

# The one version is source_stripe_proxy.__version__ (read as text: importing the package needs
# its dependencies). metadata*.yaml and the Dockerfile repeat it; unit_tests/test_metadata_versions.py holds them equal.
VERSION = re.search(
    r'^__version__ = "([^"]+)"$', (Path(__file__).parent / "source_stripe_proxy" / "__init__.py").read_text(encoding="utf-8"), re.MULTILINE
).group(1)

setup(
    name="source-stripe-proxy",
    version=VERSION,
    description="Airbyte source, destination and action tool for Stripe, direct or through the PinkConnect and Paragon proxies.",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10,<3.14",
    packages=find_packages(include=["source_stripe_proxy", "source_stripe_proxy.*"]),
    package_data={
        "source_stripe_proxy.source": ["spec.yaml"],
        "source_stripe_proxy.destination": ["spec.yaml"],
        "source_stripe_proxy.data": ["generated/*.json", "generated/operations/*.json", "schemas/*.json"],
    },
    # Generated for the tests and the emulator, never read by the connectors: kept out of the wheel
    # (unit_tests/test_wheel.py builds one and lists it).
    exclude_package_data={
        "source_stripe_proxy.data": ["generated/stream_examples.json", "generated/write_parameters.json"],
    },
    install_requires=[
        "airbyte-cdk>=7.39.1,<8",
        "requests>=2.31",
        "jsonschema>=4.17",
        "orjson>=3.9",
        "PyYAML>=6",  # the config rules are read from the connectors' spec.yaml (core/config_rules.py)
    ],
    extras_require={
        # the MCP server (stripe-connection mcp): the low-level Server, stdio and streamable HTTP as in 2.x
        "mcp": ["mcp>=2.3.0,<3"],
        # benchmarks/mcp_tokens.py: OpenAI's encodings shipped in the package (tiktoken downloads them)
        "bench": ["bpe-openai>=0.1.4"],
        "tests": [
            "mcp>=2.3.0,<3",
            "pytest>=8",
            "requests-mock>=1.12",
            "localstripe>=1.15.10",
            "hypothesis>=6.100",
            "pytest-timeout>=2.3",
            # the checks scripts/test.sh runs before the tests (settings in pyproject.toml); a minor
            # release of either may add findings, so each is held to the one it was made clean with
            "ruff>=0.17.5,<0.18",
            "mypy>=2.4.1,<2.5",
            "types-requests>=2.31",
            "types-PyYAML>=6.0.12",
        ],
    },
    entry_points={
        "console_scripts": [
            "source-stripe-proxy=source_stripe_proxy.airbyte.entrypoints:run_source",
            "destination-stripe-proxy=source_stripe_proxy.airbyte.entrypoints:run_destination",
            "stripe-connection=source_stripe_proxy.actions.cli:main",
        ],
    },
)
