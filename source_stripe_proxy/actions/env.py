"""A connection config from a file or from environment variables, for the CLI, the MCP server
and ``StripeConnection.from_env``.

Exactly one mode's variables may be set; the result has the same shape as the connectors'
config, so it is validated by the same settings code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from source_stripe_proxy.actions.errors import CONFIG_FILE, ConnectionConfigError, Hint
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.modes import MODES, ConnectionMode

if TYPE_CHECKING:
    from source_stripe_proxy.core.config_rules import FieldError


# (mode, required variables, optional variables) for the CLI's help, from the registry of modes.
ENV_MODES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (mode.name, mode.required_env, mode.optional_env) for mode in MODES.values()
)
ENV_COMMON: tuple[str, ...] = ("STRIPE_VERSION", "STRIPE_ACCOUNT_ID", "STRIPE_CONNECTION_TIMEOUT")
# The config field each variable sets.
ENV_FIELDS: Mapping[str, str] = {
    **{variable.name: variable.field for mode in MODES.values() for variable in mode.environment},
    "STRIPE_VERSION": "stripe_version",
    "STRIPE_ACCOUNT_ID": "account_id",
    "STRIPE_CONNECTION_TIMEOUT": "action_timeout_seconds",  # the actions' own; checked by the connection
}
_JSON_VARIABLES = {variable.name for mode in MODES.values() for variable in mode.environment if variable.json_object}


def modes_in(environ: Mapping[str, str]) -> list[ConnectionMode]:
    """The connection modes whose variables are set."""
    return [mode for mode in MODES.values() if any(environ.get(v.name) for v in mode.environment)]


def config_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Build the source-style config from exactly one mode's environment variables, validated.

    A bad value is reported by the variable's name (``STRIPE_API_KEY is not a Stripe secret ...``)."""
    present = modes_in(environ)
    if not present:
        choices = [f"{' + '.join(mode.required_env)} ({mode.title})" for mode in MODES.values()]
        raise ConnectionConfigError(
            f"No connection configured: set {', '.join(choices[:-1])}, or {choices[-1]}.",
            hint=Hint(CONFIG_FILE),
        )
    if len(present) > 1:
        raise ConnectionConfigError(
            f"Environment variables for several connection modes are set ({', '.join(m.name for m in present)}): "
            "set only one mode's variables.",
            hint=Hint(CONFIG_FILE),
        )
    mode = present[0]
    missing = [v for v in mode.required_env if not environ.get(v)]
    if missing:
        raise ConfigError(f"The {mode.name} connection needs {', '.join(missing)} set as well.")
    config: dict[str, Any] = {"credentials": {"auth_type": mode.name}}
    for var in (*(v.name for v in mode.environment), *ENV_COMMON):
        if environ.get(var):
            _set(config, ENV_FIELDS[var], _json_object(var, environ[var]) if var in _JSON_VARIABLES else environ[var])
    from source_stripe_proxy.core.config_rules import FieldError  # here: a dry run never loads the rules
    from source_stripe_proxy.core.settings import ConnectionSettings

    try:
        ConnectionSettings.from_config(config)
    except FieldError as error:  # name the variable the user set, not the config field it became
        raise _renamed(error) from None
    return config


def _json_object(variable: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConfigError(f'{variable} must be a JSON object such as {{"X-Connection-Id": "..."}}.')
    return value


def load_config(path: str | None, environ: Mapping[str, str]) -> dict[str, Any]:
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


def _set(config: dict[str, Any], path: str, value: str | dict[str, Any]) -> None:
    *parents, name = path.split(".")
    for parent in parents:
        config = config.setdefault(parent, {})
    config[name] = value


def _renamed(error: FieldError) -> FieldError:
    variable = next((var for var, path in ENV_FIELDS.items() if path == error.field), None)
    return error.renamed(variable) if variable else error
