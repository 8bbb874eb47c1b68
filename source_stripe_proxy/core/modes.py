"""The connection modes, one entry each: every fact about a mode lives here.

``credentials.auth_type`` picks the mode. Each entry says how the user names it, which config
field holds its secret, which setting names the host requests go to, which environment
variables the actions read it from, how the agents are told about it, and how validated config
values become a base URL and an ``Authorization`` header (``build``).

* ``api_key``     -> ``{api_base}/v1/...`` with ``Authorization: Bearer <api_key>``
* ``paragon``     -> ``{proxy_host}/projects/{project_id}/sdk/proxy/{integration_type}/v1/...``
                     with ``Authorization: Bearer <user_token>``
* ``pinkconnect`` -> ``{proxy_url}/v1/...`` with ``Authorization: Bearer <token>`` plus
                     optional ``extra_headers``; any credential-injecting proxy fits here.

Stripe's files host (uploads, a quote's PDF) is reached per mode as ``OtherHosts`` says: direct,
through Paragon's target header (downloads only), or not through PinkConnect.

Adding a mode: an entry here and an option under ``credentials`` in both connectors' specs
(``unit_tests/test_modes.py`` holds the two in agreement).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from source_stripe_proxy.core.stripe_facts import (
    LIVE_KEY_PREFIXES,
    LIVE_MODE_REQUESTS_PER_SECOND,
    STRIPE_API_BASE,
    TEST_MODE_REQUESTS_PER_SECOND,
)

PROXY_REQUESTS_PER_SECOND = TEST_MODE_REQUESTS_PER_SECOND  # we cannot tell the key's mode behind a proxy


@dataclass(frozen=True)
class ModeEndpoint:
    """Where a mode's requests go and what authenticates them (``ConnectionMode.build``)."""

    base_url: str  # the prefix "/v1/..." paths are appended to
    token: str  # sent as "Authorization: Bearer <token>"
    extra_headers: tuple[tuple[str, str], ...]  # sent with every request (their values are secrets)
    default_requests_per_second: float  # when the config sets none


@dataclass(frozen=True)
class EnvVariable:
    """An environment variable the actions read a mode's config field from."""

    name: str
    field: str  # the config field it sets, e.g. "credentials.api_key"
    required: bool = False
    json_object: bool = False  # its value is a JSON object


@dataclass(frozen=True)
class OtherHosts:
    """How a mode reaches Stripe's hosts beside the API's (``https://files.stripe.com``):

    * ``direct``: that host itself, unless ``api_base`` names a stand-in (an emulator, a mock),
      which then serves every host;
    * ``target_header``: the proxy's base URL, with the full URL in ``target_header`` and
      ``raw_header`` asking for the answer's bytes as they came;
    * ``none``: not at all.

    ``refusal``/``upload_refusal``: why a call (an upload) cannot go through, "" when it can."""

    kind: str
    refusal: str = ""
    upload_refusal: str = ""
    target_header: str = ""
    raw_header: str = ""

    def cannot(self, host: str, *, upload: bool) -> str:
        """Why a call to ``host`` cannot go through this mode, or "" when it can."""
        if self.refusal:
            return self.refusal.format(host=host)
        return self.upload_refusal if upload else ""

    def route(self, base_url: str, host: str, path: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """(URL, extra headers) of ``path`` on ``host``; the caller checked ``cannot`` first."""
        if self.kind == "direct":
            return (host if base_url == STRIPE_API_BASE else base_url) + path, ()
        if self.kind == "target_header":
            return base_url, ((self.target_header, host + path), (self.raw_header, "1"))
        raise ValueError(f"this mode reaches no host but Stripe's API ({host} asked)")


DIRECT_HOSTS = OtherHosts("direct")
# Paragon's Proxy API takes the full URL in a header and, asked to, answers a binary body as it
# came (docs.useparagon.com/apis/proxy); the request bodies it forwards are JSON only.
PARAGON_HOSTS = OtherHosts(
    "target_header",
    upload_refusal="Paragon's Proxy API forwards JSON request bodies only, and an upload is a multipart body",
    target_header="X-Paragon-Proxy-Url",
    raw_header="X-Paragon-Use-Raw-Response",
)
API_HOST_ONLY = OtherHosts("none", refusal="a PinkConnect proxy forwards /v1/... to Stripe's API host only, and this call lives on {host}")


@dataclass(frozen=True)
class ConnectionMode:
    name: str  # the value of credentials.auth_type
    title: str  # a word for lists of modes: "direct", "Paragon", "PinkConnect"
    answerer: str  # who answers when the body is not Stripe's: "Stripe", "the Paragon proxy"
    vendor: str  # whose dashboard issues the token or holds the Stripe connection
    token_field: str  # the config field holding the secret sent as the bearer token
    host_setting: str  # the config field naming the host requests go to
    via: str  # how requests reach Stripe, for the MCP server's instructions and logs
    environment: tuple[EnvVariable, ...]
    build: Callable[[Mapping[str, Any], Mapping[str, Any]], ModeEndpoint]  # (config values, credentials)
    other_hosts: OtherHosts = API_HOST_ONLY  # Stripe's files host: how (and whether) it is reached

    @property
    def is_proxy(self) -> bool:
        return self.name != "api_key"

    def cannot_reach(self, host: str, *, upload: bool) -> str:
        """Why a call (an upload) to ``host`` cannot go through this mode, or "" if it can."""
        why = self.other_hosts.cannot(host, upload=upload)
        if not why:
            return ""
        return f"This call cannot go through {self.answerer}: {why}. Make it with a direct connection (a restricted key) instead."

    @property
    def answerer_capitalized(self) -> str:
        return self.answerer[:1].upper() + self.answerer[1:]

    @property
    def required_env(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.environment if v.required)

    @property
    def optional_env(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.environment if not v.required)

    def env_variable_for(self, field: str) -> str:
        """The environment variable that sets ``field`` in this mode, or "" if none does."""
        return next((v.name for v in self.environment if v.field == field), "")


def _direct(values: Mapping[str, Any], credentials: Mapping[str, Any]) -> ModeEndpoint:
    api_key = credentials["api_key"]
    live = api_key.startswith(LIVE_KEY_PREFIXES)
    rate = LIVE_MODE_REQUESTS_PER_SECOND if live else TEST_MODE_REQUESTS_PER_SECOND
    return ModeEndpoint(values["api_base"], api_key, (), rate)


def _paragon(values: Mapping[str, Any], credentials: Mapping[str, Any]) -> ModeEndpoint:
    project, integration = quote(credentials["project_id"], safe=""), quote(credentials["integration_type"], safe="")
    base_url = f"{credentials['proxy_host']}/projects/{project}/sdk/proxy/{integration}"
    return ModeEndpoint(base_url, credentials["user_token"], (), PROXY_REQUESTS_PER_SECOND)


def _pinkconnect(values: Mapping[str, Any], credentials: Mapping[str, Any]) -> ModeEndpoint:
    extra_headers = tuple((credentials.get("extra_headers") or {}).items())
    return ModeEndpoint(credentials["proxy_url"], credentials["token"], extra_headers, PROXY_REQUESTS_PER_SECOND)


MODES: Mapping[str, ConnectionMode] = {
    mode.name: mode
    for mode in (
        ConnectionMode(
            name="api_key",
            title="direct",
            answerer="Stripe",
            vendor="Stripe",
            token_field="credentials.api_key",
            host_setting="api_base",
            via="directly with an API key",
            environment=(
                EnvVariable("STRIPE_API_KEY", "credentials.api_key", required=True),
                EnvVariable("STRIPE_API_BASE", "api_base"),
            ),
            build=_direct,
            other_hosts=DIRECT_HOSTS,
        ),
        ConnectionMode(
            name="paragon",
            title="Paragon",
            answerer="the Paragon proxy",
            vendor="Paragon",
            token_field="credentials.user_token",
            host_setting="credentials.proxy_host",
            via="through Paragon",
            environment=(
                EnvVariable("PARAGON_PROJECT_ID", "credentials.project_id", required=True),
                EnvVariable("PARAGON_USER_TOKEN", "credentials.user_token", required=True),
                EnvVariable("PARAGON_PROXY_HOST", "credentials.proxy_host"),
                EnvVariable("PARAGON_INTEGRATION_TYPE", "credentials.integration_type"),
            ),
            build=_paragon,
            other_hosts=PARAGON_HOSTS,
        ),
        ConnectionMode(
            name="pinkconnect",
            title="PinkConnect",
            answerer="the PinkConnect proxy",
            vendor="PinkConnect",
            token_field="credentials.token",
            host_setting="credentials.proxy_url",
            via="through PinkConnect",
            environment=(
                EnvVariable("PINKCONNECT_PROXY_URL", "credentials.proxy_url", required=True),
                EnvVariable("PINKCONNECT_TOKEN", "credentials.token", required=True),
                EnvVariable("PINKCONNECT_EXTRA_HEADERS", "credentials.extra_headers", json_object=True),
            ),
            build=_pinkconnect,
            other_hosts=API_HOST_ONLY,
        ),
    )
}


def implied_auth_type(credentials: Any) -> Any:
    """A hand-written config may leave out ``auth_type`` when it gives an ``api_key``."""
    if isinstance(credentials, Mapping) and credentials.get("auth_type") is None and "api_key" in credentials:
        return {**credentials, "auth_type": "api_key"}
    return credentials


def connection_mode(name: str) -> ConnectionMode:
    """The mode called ``name`` (a validated ``credentials.auth_type``)."""
    return MODES[name]
