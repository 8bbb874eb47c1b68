"""The actions and the core never load the Airbyte CDK (about 1.5 s of imports, pandas included).

Run in fresh interpreters: what a `stripe-connection` call or an MCP server actually imports.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LOADED_AIRBYTE = (
    "import json, sys; "
    "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('airbyte_cdk', 'airbyte_protocol', 'pandas'))))"
)


def loaded_after(code: str) -> list:
    done = subprocess.run([sys.executable, "-c", f"{code}\n{LOADED_AIRBYTE}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import source_stripe_proxy",
        "import source_stripe_proxy.actions",
        "import source_stripe_proxy.actions.cli",
        "import source_stripe_proxy.actions.mcp_server, source_stripe_proxy.actions.mcp_tools",
        "import source_stripe_proxy.core.client, source_stripe_proxy.core.settings, source_stripe_proxy.core.endpoints",
        "from source_stripe_proxy import StripeConnection",
    ],
)
def test_importing_the_actions_and_the_core_loads_no_cdk_module(code):
    assert loaded_after(code) == []


def test_a_dry_run_call_loads_no_cdk_module():
    code = (
        "import io, contextlib\n"
        "from source_stripe_proxy.actions.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    assert main(['--dry-run', 'get', 'customer', 'customer_id=cus_123'], stdout=out) == 0\n"
        "assert json.loads(out.getvalue())['path'] == '/v1/customers/cus_123'\n"
    )
    assert loaded_after("import json\n" + code) == []


def test_the_lazy_public_names_still_resolve_and_the_source_does_load_the_cdk():
    code = "from source_stripe_proxy import SourceStripeProxy, DestinationStripeProxy, StripeConnection"
    assert "airbyte_cdk" in loaded_after(code)
