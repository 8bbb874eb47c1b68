"""The connection's actions: the seed's create/update/get/list calls as a Python API and a CLI.

Loads only the core, never the Airbyte CDK, so a CLI call starts fast.
"""

from source_stripe_proxy.actions.connection import ActionInputError, PreparedCall, StripeConnection, prepare_call  # noqa: F401
from source_stripe_proxy.actions.env import config_from_env  # noqa: F401
