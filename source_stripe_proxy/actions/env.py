"""A connection config from a file or from environment variables, for the CLI, the MCP server
and ``StripeConnection.from_env``.

Exactly one mode's variables may be set; the result has the same shape as the connectors'
config, so it is validated by the same settings code.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple

from source_stripe_proxy.actions.errors import CONFIG_FILE, ConnectionConfigError, Hint
from source_stripe_proxy.core.errors import ConfigError

if TYPE_CHECKING:
    from source_stripe_proxy.core.config_rules import FieldError


ENV_MODES: Tuple[Tuple[str, Tuple[str, ...], Tuple[str, ...]], ...] = (
    # mode          required variables                               optional variables
    ("api_key", ("STRIPE_API_KEY",), ("STRIPE_API_BASE",)),
    ("paragon", ("PARAGON_PROJECT_ID", "PARAGON_USER_TOKEN"), ("PARAGON_PROXY_HOST", "PARAGON_INTEGRATION_TYPE")),
    ("pinkconnect", ("PINKCONNECT_PROXY_URL", "PINKCONNECT_TOKEN"), ("PINKCONNECT_EXTRA_HEADERS",)),
)
ENV_COMMON: Tuple[str, ...] = ("STRIPE_VERSION", "STRIPE_ACCOUNT_ID", "STRIPE_CONNECTION_TIMEOUT")
# The config field each variable sets.
ENV_FIELDS: Mapping[str, str] = {
    "STRIPE_API_KEY": "credentials.api_key",
    "STRIPE_API_BASE": "api_base",
    "PARAGON_PROJECT_ID": "credentials.project_id",
    "PARAGON_USER_TOKEN": "credentials.user_token",
    "PARAGON_PROXY_HOST": "credentials.proxy_host",
    "PARAGON_INTEGRATION_TYPE": "credentials.integration_type",
    "PINKCONNECT_PROXY_URL": "credentials.proxy_url",
    "PINKCONNECT_TOKEN": "credentials.token",
    "PINKCONNECT_EXTRA_HEADERS": "credentials.extra_headers",
    "STRIPE_VERSION": "stripe_version",
    "STRIPE_ACCOUNT_ID": "account_id",
    "STRIPE_CONNECTION_TIMEOUT": "action_timeout_seconds",  # the actions' own; checked by the connection
}


def config_from_env(environ: Mapping[str, str]) -> Dict[str, Any]:
    """Build the source-style config from exactly one mode's environment variables, validated.

    A bad value is reported by the variable's name (``STRIPE_API_KEY is not a Stripe secret ...``)."""
    present = [mode for mode, required, optional in ENV_MODES if any(environ.get(v) for v in required + optional)]
    if not present:
        raise ConnectionConfigError(
            "No connection configured: set STRIPE_API_KEY (direct), PARAGON_PROJECT_ID + PARAGON_USER_TOKEN "
            "(Paragon), or PINKCONNECT_PROXY_URL + PINKCONNECT_TOKEN (PinkConnect).",
            hint=Hint(CONFIG_FILE),
        )
    if len(present) > 1:
        raise ConnectionConfigError(
            f"Environment variables for several connection modes are set ({', '.join(present)}): "
            "set only one mode's variables.",
            hint=Hint(CONFIG_FILE),
        )
    mode = present[0]
    required, optional = next((r, o) for m, r, o in ENV_MODES if m == mode)
    missing = [v for v in required if not environ.get(v)]
    if missing:
        raise ConfigError(f"The {mode} connection needs {', '.join(missing)} set as well.")
    config: Dict[str, Any] = {"credentials": {"auth_type": mode}}
    for var in (*required, *optional, *ENV_COMMON):
        if environ.get(var):
            _set(config, ENV_FIELDS[var], environ[var])
    raw_headers = config["credentials"].get("extra_headers")
    if raw_headers is not None:
        try:
            headers = json.loads(raw_headers)
        except ValueError:
            headers = None
        if not isinstance(headers, dict):
            raise ConfigError('PINKCONNECT_EXTRA_HEADERS must be a JSON object such as {"X-Connection-Id": "..."}.')
        config["credentials"]["extra_headers"] = headers
    from source_stripe_proxy.core.config_rules import FieldError  # here: a dry run never loads the rules
    from source_stripe_proxy.core.settings import ConnectionSettings

    try:
        ConnectionSettings.from_config(config)
    except FieldError as error:  # name the variable the user set, not the config field it became
        raise _renamed(error) from None
    return config


def load_config(path: Optional[str], environ: Mapping[str, str]) -> Dict[str, Any]:
    """The config in the JSON file at ``path`` (a ``--config`` option), else from ``environ``."""
    if path is None:
        return config_from_env(environ)
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except OSError as exc:
        raise ConfigError(f"Cannot read --config {path}: {exc.strerror or exc}.") from None
    except ValueError:
        raise ConfigError(f"--config {path} is not valid JSON.") from None
    if not isinstance(config, dict):
        raise ConfigError(f"--config {path} must hold a JSON object with a 'credentials' block.")
    return config


def _set(config: Dict[str, Any], path: str, value: str) -> None:
    *parents, name = path.split(".")
    for parent in parents:
        config = config.setdefault(parent, {})
    config[name] = value


def _renamed(error: FieldError) -> FieldError:
    variable = next((var for var, path in ENV_FIELDS.items() if path == error.field), None)
    return error.renamed(variable) if variable else error
