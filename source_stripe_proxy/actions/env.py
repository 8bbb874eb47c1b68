"""A connection config from environment variables, for the CLI and ``StripeConnection.from_env``.

Exactly one mode's variables may be set; the result has the same shape as the connectors'
config, so it is validated by the same settings code.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Tuple

from source_stripe_proxy.core.errors import ConfigError


ENV_MODES: Tuple[Tuple[str, Tuple[str, ...], Tuple[str, ...]], ...] = (
    # mode          required variables                               optional variables
    ("api_key", ("STRIPE_API_KEY",), ("STRIPE_API_BASE",)),
    ("paragon", ("PARAGON_PROJECT_ID", "PARAGON_USER_TOKEN"), ("PARAGON_PROXY_HOST", "PARAGON_INTEGRATION_TYPE")),
    ("pinkconnect", ("PINKCONNECT_PROXY_URL", "PINKCONNECT_TOKEN"), ("PINKCONNECT_EXTRA_HEADERS",)),
)
ENV_COMMON: Tuple[str, ...] = ("STRIPE_VERSION", "STRIPE_ACCOUNT_ID", "STRIPE_CONNECTION_TIMEOUT")


def config_from_env(environ: Mapping[str, str]) -> Dict[str, Any]:
    """Build the source-style config from exactly one mode's environment variables."""
    present = [mode for mode, required, optional in ENV_MODES if any(environ.get(v) for v in required + optional)]
    if not present:
        raise ConfigError(
            "No connection configured: pass --config FILE, or set STRIPE_API_KEY (direct), "
            "PARAGON_PROJECT_ID + PARAGON_USER_TOKEN (Paragon), or PINKCONNECT_PROXY_URL + PINKCONNECT_TOKEN (PinkConnect)."
        )
    if len(present) > 1:
        raise ConfigError(
            f"Environment variables for several connection modes are set ({', '.join(present)}): "
            "set only one mode's variables, or pass --config FILE."
        )
    mode = present[0]
    required, optional = next((r, o) for m, r, o in ENV_MODES if m == mode)
    missing = [v for v in required if not environ.get(v)]
    if missing:
        raise ConfigError(f"The {mode} connection needs {', '.join(missing)} set as well.")
    config: Dict[str, Any] = {}
    if mode == "api_key":
        config["credentials"] = {"auth_type": "api_key", "api_key": environ["STRIPE_API_KEY"]}
        if environ.get("STRIPE_API_BASE"):
            config["api_base"] = environ["STRIPE_API_BASE"]
    elif mode == "paragon":
        credentials = {
            "auth_type": "paragon",
            "project_id": environ["PARAGON_PROJECT_ID"],
            "user_token": environ["PARAGON_USER_TOKEN"],
        }
        for var, key in (("PARAGON_PROXY_HOST", "proxy_host"), ("PARAGON_INTEGRATION_TYPE", "integration_type")):
            if environ.get(var):
                credentials[key] = environ[var]
        config["credentials"] = credentials
    else:
        credentials = {"auth_type": "pinkconnect", "proxy_url": environ["PINKCONNECT_PROXY_URL"], "token": environ["PINKCONNECT_TOKEN"]}
        raw_headers = environ.get("PINKCONNECT_EXTRA_HEADERS")
        if raw_headers:
            try:
                headers = json.loads(raw_headers)
            except ValueError:
                headers = None
            if not isinstance(headers, dict):
                raise ConfigError('PINKCONNECT_EXTRA_HEADERS must be a JSON object such as {"X-Connection-Id": "..."}.')
            credentials["extra_headers"] = headers
        config["credentials"] = credentials
    if environ.get("STRIPE_VERSION"):
        config["stripe_version"] = environ["STRIPE_VERSION"]
    if environ.get("STRIPE_ACCOUNT_ID"):
        config["account_id"] = environ["STRIPE_ACCOUNT_ID"]
    if environ.get("STRIPE_CONNECTION_TIMEOUT"):
        config["action_timeout_seconds"] = environ["STRIPE_CONNECTION_TIMEOUT"]  # checked by the connection
    return config


