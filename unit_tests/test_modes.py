"""The registry of connection modes (core/modes.py) against the specs, the settings, the client's
messages and the actions' environment: every fact about a mode is read from its entry."""

import pytest

from source_stripe_proxy.actions.env import ENV_FIELDS, ENV_MODES, config_from_env
from source_stripe_proxy.core.config_rules import DESTINATION, SOURCE, connection_specification, one_of_options
from source_stripe_proxy.core.errors import ConfigError
from source_stripe_proxy.core.modes import MODES, connection_mode
from source_stripe_proxy.core.settings import ConnectionSettings

# One valid config per mode, with each field the mode's builder reads.
CONFIGS = {
    "api_key": {"credentials": {"auth_type": "api_key", "api_key": "sk_test_modesSECRET1"}, "api_base": "https://stripe.example"},
    "paragon": {
        "credentials": {
            "auth_type": "paragon",
            "project_id": "p 1",
            "user_token": "jwt.modes.SECRET2",
            "proxy_host": "https://worker-proxy.example",
            "integration_type": "stripe",
        }
    },
    "pinkconnect": {
        "credentials": {
            "auth_type": "pinkconnect",
            "proxy_url": "https://pink.example/stripe",
            "token": "pinkSECRET3",
            "extra_headers": {"X-Connection-Id": "conn-SECRET4"},
        }
    },
}
EXPECTED = {  # mode -> (base URL, bearer token, host, default requests/s)
    "api_key": ("https://stripe.example", "sk_test_modesSECRET1", "stripe.example", 25.0),
    "paragon": ("https://worker-proxy.example/projects/p%201/sdk/proxy/stripe", "jwt.modes.SECRET2", "worker-proxy.example", 25.0),
    "pinkconnect": ("https://pink.example/stripe", "pinkSECRET3", "pink.example", 25.0),
}


def _field(spec, option, path):
    """The schema of a config field (``credentials.x`` inside the mode's option, else top level)."""
    if path.startswith("credentials."):
        return option["properties"].get(path.split(".", 1)[1])
    return spec["properties"].get(path)


@pytest.mark.parametrize("face", [SOURCE, DESTINATION])
def test_every_mode_of_the_spec_is_in_the_registry_and_its_fields_exist(face):
    spec = connection_specification(face)
    discriminator, options = one_of_options(spec["properties"]["credentials"])
    assert discriminator == "auth_type"
    assert set(options) == set(MODES)
    for name, option in options.items():
        mode = MODES[name]
        token = _field(spec, option, mode.token_field)
        assert token is not None and token.get("airbyte_secret") is True, (name, mode.token_field)
        assert mode.token_field.split(".", 1)[1] in option["required"]
        assert _field(spec, option, mode.host_setting) is not None, (name, mode.host_setting)
        for variable in mode.environment:
            assert _field(spec, option, variable.field) is not None, (name, variable.name)
        # Each field the spec requires of the mode is set by one of its required variables.
        required_fields = {f"credentials.{key}" for key in option["required"] if key != "auth_type"}
        assert required_fields == {v.field for v in mode.environment if v.required}, name


@pytest.mark.parametrize("name", sorted(MODES))
def test_each_modes_builder_gives_its_base_url_bearer_host_and_rate(name):
    settings = ConnectionSettings.from_config(CONFIGS[name])
    base_url, token, host, rate = EXPECTED[name]
    assert settings.connection_mode is MODES[name] is connection_mode(name)
    assert (settings.base_url, settings.headers()["Authorization"], settings.host) == (base_url, f"Bearer {token}", host)
    assert settings.requests_per_second == rate
    assert token in settings.secrets


def test_a_live_key_gets_the_live_rate_and_proxies_the_test_rate():
    live = ConnectionSettings.from_config({"credentials": {"auth_type": "api_key", "api_key": "rk_live_modes1"}})
    assert live.requests_per_second == 100.0
    assert [MODES[name].is_proxy for name in ("api_key", "paragon", "pinkconnect")] == [False, True, True]


def test_pinkconnects_extra_header_values_are_sent_and_kept_secret():
    settings = ConnectionSettings.from_config(CONFIGS["pinkconnect"])
    assert settings.headers()["X-Connection-Id"] == "conn-SECRET4"
    assert "conn-SECRET4" in settings.secrets


def test_the_actions_environment_comes_from_the_registry():
    assert [name for name, _, _ in ENV_MODES] == list(MODES)
    names = [v.name for mode in MODES.values() for v in mode.environment]
    assert len(names) == len(set(names)), "a variable belongs to one mode"
    for mode in MODES.values():
        for variable in mode.environment:
            assert ENV_FIELDS[variable.name] == variable.field
            assert mode.env_variable_for(variable.field) == variable.name
    config = config_from_env(
        {"PINKCONNECT_PROXY_URL": "https://pink.example", "PINKCONNECT_TOKEN": "t1", "PINKCONNECT_EXTRA_HEADERS": '{"X-A": "b"}'}
    )
    assert config["credentials"] == {
        "auth_type": "pinkconnect",
        "proxy_url": "https://pink.example",
        "token": "t1",
        "extra_headers": {"X-A": "b"},
    }


def test_without_variables_the_message_lists_each_modes_required_variables():
    with pytest.raises(ConfigError) as caught:
        config_from_env({})
    for mode in MODES.values():
        assert f"{' + '.join(mode.required_env)} ({mode.title})" in caught.value.message


def test_a_json_variable_that_is_not_an_object_is_named():
    with pytest.raises(ConfigError, match="PINKCONNECT_EXTRA_HEADERS must be a JSON object"):
        config_from_env({"PINKCONNECT_PROXY_URL": "https://pink.example", "PINKCONNECT_TOKEN": "t", "PINKCONNECT_EXTRA_HEADERS": "[1]"})
