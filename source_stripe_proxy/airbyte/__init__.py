"""The glue between our code and the Airbyte CDK: entry points, traced errors, and every
use of a CDK internal (``hooks.py``), each pinned by a contract test."""
