"""The connection's actions: every operation of Stripe's API, as a Python API and a CLI.

Loads only the core, never the Airbyte CDK, so a CLI call starts fast. What an agent
platform (or the MCP server) needs, in docs/actions.md's order:

    list_actions()                  entities, their actions and flags
    describe_action(action, entity) one action: description, flags, JSON Schema of its input
    prepare_call(action, entity, params) -> PreparedCall   validate and map; no I/O
    StripeConnection(config).execute(prepared)            send with one long-lived client
    error_to_dict(exc)              any failure as Stripe's error object
"""

from source_stripe_proxy.actions.catalog import ActionSpec, describe_action, input_schema, list_actions, seed_calls
from source_stripe_proxy.actions.connection import PreparedCall, StripeConnection, prepare_call
from source_stripe_proxy.actions.env import config_from_env
from source_stripe_proxy.actions.errors import ActionInputError, Hint, error_to_dict

__all__ = [
    "ActionInputError",
    "ActionSpec",
    "Hint",
    "PreparedCall",
    "StripeConnection",
    "config_from_env",
    "describe_action",
    "error_to_dict",
    "input_schema",
    "list_actions",
    "prepare_call",
    "seed_calls",
]
