"""What to do next after a refusal is data (``Hint``) and each face words it its own way: the
Python API (``error.hint``, and ``str(error)`` naming ``describe_action``), the CLI (naming
``stripe-connection describe`` and ``--config``) and the MCP tools (naming ``stripe_describe``).
No face speaks another's words. The MCP server no longer reaches into the CLI module."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from source_stripe_proxy.actions import Hint, StripeConnection, prepare_call
from source_stripe_proxy.actions.cli import main as cli_main
from source_stripe_proxy.actions.env import config_from_env
from source_stripe_proxy.actions.errors import CONFIG_FILE, CREDENTIALS, DESCRIBE, ActionInputError, ConnectionConfigError
from source_stripe_proxy.actions.mcp_tools import StripeTools, ToolCallError

CLI_WORDS, MCP_WORDS = "stripe-connection", "stripe_describe"

# (a call that is refused, the hint it carries, what each face says)
CASES = [
    (
        ("create", "customer", {"email": "a@example.com"}),
        Hint(DESCRIBE, "customer", "create"),
        "describe_action('create', 'customer') lists all its parameters.",
        "`stripe-connection describe customer create` lists all its parameters.",
        "stripe_describe with entity=customer, action=create lists all its parameters.",
    ),
    (
        ("get", "customer", {}),
        Hint(DESCRIBE, "customer", "get"),  # refused by the seed's name customer_id
        "describe_action('get', 'customer')",
        "`stripe-connection describe customer get`",
        "stripe_describe with entity=customer, action=get",
    ),
    (
        ("get", "custmer", {}),
        Hint(DESCRIBE),
        "list_actions() lists them.",
        "`stripe-connection describe` lists them.",
        "stripe_describe lists them.",
    ),
    (
        ("explode", "invoice", {}),
        Hint(DESCRIBE, "invoice"),
        "list_actions('invoice') lists its actions.",
        "`stripe-connection describe invoice` lists its actions.",
        "stripe_describe with entity=invoice lists its actions.",
    ),
    (
        ("get", "customer", {"customer_id": "cus_1", "api_key": "x"}),
        Hint(CREDENTIALS),
        "StripeConnection(config)",
        "Credentials go in --config or environment variables.",
        "Credentials belong to the server, not to a call.",
    ),
]


def refused(action, entity, params) -> ActionInputError:
    with pytest.raises(ActionInputError) as caught:
        prepare_call(action, entity, params)
    return caught.value


@pytest.mark.parametrize("call, hint, python, cli, mcp", CASES, ids=[str(c[1]) for c in CASES])
def test_each_face_words_the_hint_its_own_way(call, hint, python, cli, mcp):
    action, entity, params = call
    error = refused(action, entity, params)
    assert error.hint == hint and python in str(error) and python in error.message
    assert CLI_WORDS not in str(error) and MCP_WORDS not in str(error)

    out = io.StringIO()
    tokens = [action, entity, *(f"{k}={v}" for k, v in params.items())]
    assert cli_main(tokens, stdout=out, stderr=io.StringIO(), environ={}) == 1
    cli_message = json.loads(out.getvalue())["error"]["message"]
    assert cli in cli_message and MCP_WORDS not in cli_message and "describe_action" not in cli_message

    with pytest.raises(ToolCallError) as caught:
        StripeTools(lambda prepared: None).call("stripe_call", {"entity": entity, "action": action, "params": params})
    mcp_message = caught.value.error["error"]["message"]
    assert mcp in mcp_message and CLI_WORDS not in mcp_message and "describe_action" not in mcp_message
    # The message without its hint is the same everywhere.
    assert cli_message.startswith(error.base) and mcp_message.startswith(error.base)


def test_a_named_tool_speaks_of_the_seeds_name_and_keeps_the_hint():
    with pytest.raises(ToolCallError) as caught:
        StripeTools(lambda prepared: None).call("get_customer", {})
    error = caught.value.error["error"]
    assert error["param"] == "customer_id"
    assert error["message"].endswith("stripe_describe with entity=customer, action=get lists all its parameters.")


def test_no_connection_configured_says_how_to_give_one_in_each_face(capsys):
    with pytest.raises(ConnectionConfigError) as caught:
        config_from_env({})
    assert caught.value.hint == Hint(CONFIG_FILE) and "StripeConnection a config" in str(caught.value)
    with pytest.raises(ConnectionConfigError, match="StripeConnection a config"):
        StripeConnection.from_env({})

    out = io.StringIO()
    assert cli_main(["get", "customer", "customer_id=cus_1"], stdout=out, stderr=io.StringIO(), environ={}) == 2
    message = json.loads(out.getvalue())["error"]["message"]
    assert message.startswith("No connection configured") and message.endswith("Or pass --config FILE.")

    assert cli_main(["mcp"], environ={}) == 2
    assert "Or start the server with --config FILE." in capsys.readouterr().err
    both = {"STRIPE_API_KEY": "sk_test_x1", "PINKCONNECT_TOKEN": "t"}
    with pytest.raises(ConnectionConfigError, match="several connection modes"):
        config_from_env(both)


def test_the_mcp_server_does_not_load_the_cli():
    code = "import sys, source_stripe_proxy.actions.mcp_server\nprint('source_stripe_proxy.actions.cli' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
