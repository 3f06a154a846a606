"""A credential the API marks ``required`` is checked when the client is made: no key, no
request, and an error naming the variable and the fix; ``remote`` spares servers on this
machine (a local development server runs without keys)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import httpx
import pytest
from sdkgen.runtime import APISpec, AuthSpec, ClientConfig, ConfigError
from sdkgen.runtime._config import is_loopback_url

from ._support import API_KEY, API_KEY_ENV, API_SPEC, sync_client_class


def _spec(required: bool | Literal["remote"]) -> APISpec:
    auth = dataclasses.replace(API_SPEC.auth or AuthSpec(None, ""), required=required)
    return dataclasses.replace(API_SPEC, auth=auth)


REMOTE = _spec("remote")
ALWAYS = _spec(True)


def test_no_key_for_a_remote_server_is_refused_before_any_request() -> None:
    sent: list[httpx.Request] = []
    client_class = sync_client_class(REMOTE)
    with pytest.raises(ConfigError) as caught:
        client_class(
            base_url="https://api.example.test/v1",
            transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200)),
        )
    text = str(caught.value)
    assert text.startswith("api_key must be set")  # the official SDK's words, then the fix
    assert API_KEY_ENV in text
    assert "api_key=" in text
    assert "https://api.example.test/v1" in text
    assert not sent


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8000", "http://localhost:9", "http://127.0.0.5", "http://[::1]:8000"],
)
def test_no_key_for_a_server_on_this_machine_is_fine(base_url: str) -> None:
    config = ClientConfig.resolve(REMOTE, base_url=base_url, environ={})
    assert config.api_key is None


def test_missing_help_tells_how_to_get_a_key() -> None:
    auth = dataclasses.replace(REMOTE.auth or AuthSpec(None, ""), missing_help="run `x login`")
    spec = dataclasses.replace(REMOTE, auth=auth)
    with pytest.raises(ConfigError) as caught:
        ClientConfig.resolve(spec, base_url="https://api.example.test", environ={})
    assert "(run `x login`)" in str(caught.value)
    with pytest.raises(ConfigError) as plain:
        ClientConfig.resolve(REMOTE, base_url="https://api.example.test", environ={})
    assert "login" not in str(plain.value)


def test_required_true_refuses_loopback_too() -> None:
    with pytest.raises(ConfigError, match=API_KEY_ENV):
        ClientConfig.resolve(ALWAYS, base_url="http://127.0.0.1:8000", environ={})


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_key_is_no_key(blank: str) -> None:
    with pytest.raises(ConfigError, match="given empty"):
        ClientConfig.resolve(REMOTE, api_key=blank, environ={})
    with pytest.raises(ConfigError, match=API_KEY_ENV):
        ClientConfig.resolve(REMOTE, environ={API_KEY_ENV: blank})


def test_a_key_from_the_argument_or_the_environment_is_enough() -> None:
    by_arg = ClientConfig.resolve(REMOTE, api_key=API_KEY, environ={})
    by_env = ClientConfig.resolve(REMOTE, environ={API_KEY_ENV: API_KEY})
    assert by_arg.api_key == by_env.api_key


def test_not_required_by_default() -> None:
    assert API_SPEC.auth is not None
    assert API_SPEC.auth.required is False
    assert ClientConfig.resolve(API_SPEC, environ={}).api_key is None


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1", True),
        ("http://LOCALHOST:80", True),
        ("http://app.localhost", True),
        ("http://[::1]", True),
        ("http://10.0.0.1", False),
        ("http://0.0.0.0:8000", False),
        ("https://localhost.example.com", False),
        ("https://api.example.test", False),
    ],
)
def test_loopback_urls(url: str, local: bool) -> None:
    assert is_loopback_url(url) is local
