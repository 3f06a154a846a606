"""Client configuration: precedence, validation, and the API key never showing itself."""

from __future__ import annotations

import logging
import pickle

import httpx
import pytest
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    AuthenticationError,
    ClientConfig,
    ConfigError,
    Event,
    InternalServerError,
    RequestOptions,
    Secret,
)
from tests.runtime._support import (
    API_KEY,
    API_KEY_ENV,
    API_SPEC,
    BASE_URL,
    SyncFactory,
    SyncTestClient,
    all_text,
    endpoint,
)

# -- precedence ------------------------------------------------------------------------------


def test_spec_defaults_when_nothing_is_given() -> None:
    config = ClientConfig.resolve(API_SPEC, environ={})
    assert config.base_url == BASE_URL
    assert config.timeout == API_SPEC.timeout
    assert config.connect_timeout == API_SPEC.connect_timeout
    assert config.max_retries is None
    assert config.deadline is None
    assert config.api_key is None
    assert dict(config.default_headers) == dict(API_SPEC.default_headers)


def test_environment_overrides_spec_defaults() -> None:
    environ = {
        "TESTAPI_BASE_URL": "http://env.example.test:8080/api",
        "TESTAPI_TIMEOUT": "12.5",
        "TESTAPI_MAX_RETRIES": "7",
        API_KEY_ENV: "  env-key  ",
    }
    config = ClientConfig.resolve(API_SPEC, environ=environ)
    assert config.base_url == "http://env.example.test:8080/api"
    assert config.timeout == 12.5
    assert config.max_retries == 7
    assert config.api_key == Secret("env-key")


def test_kwargs_override_environment() -> None:
    environ = {
        "TESTAPI_BASE_URL": "http://env.example.test",
        "TESTAPI_TIMEOUT": "12.5",
        "TESTAPI_MAX_RETRIES": "7",
        API_KEY_ENV: "env-key",
    }
    config = ClientConfig.resolve(
        API_SPEC,
        base_url="https://kwarg.example.test",
        api_key="kwarg-key",
        timeout=3.0,
        max_retries=1,
        deadline=9.0,
        default_headers={"X-Extra": "1"},
        environ=environ,
    )
    assert config.base_url == "https://kwarg.example.test"
    assert config.timeout == 3.0
    assert config.max_retries == 1
    assert config.deadline == 9.0
    assert config.api_key is not None
    assert config.api_key.get_secret_value() == "kwarg-key"
    assert config.default_headers == {"X-Client-Name": "runtime-tests", "X-Extra": "1"}


def test_max_retries_zero_kwarg_beats_environment() -> None:
    config = ClientConfig.resolve(API_SPEC, max_retries=0, environ={"TESTAPI_MAX_RETRIES": "5"})
    assert config.max_retries == 0


def test_blank_environment_values_are_ignored() -> None:
    config = ClientConfig.resolve(
        API_SPEC, environ={"TESTAPI_BASE_URL": "   ", "TESTAPI_TIMEOUT": "", API_KEY_ENV: " "}
    )
    assert config.base_url == BASE_URL
    assert config.timeout == API_SPEC.timeout
    assert config.api_key is None


def test_client_reads_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, httpx_mock: HTTPXMock
) -> None:
    monkeypatch.setenv("TESTAPI_BASE_URL", "https://from-env.example.test/v2/")
    monkeypatch.setenv(API_KEY_ENV, "process-env-key")
    httpx_mock.add_response(url="https://from-env.example.test/v2/items/1", json={"ok": True})
    with SyncTestClient() as client:
        assert client.request(endpoint("get_item"), dict, path_params={"item_id": 1}) == {
            "ok": True
        }
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["X-API-Key"] == "process-env-key"


@pytest.mark.parametrize(
    "given",
    ["https://x.example.test/v1/", "https://x.example.test/v1///", "https://x.example.test/v1"],
)
def test_trailing_slashes_are_stripped(given: str) -> None:
    assert ClientConfig.resolve(API_SPEC, base_url=given, environ={}).base_url == (
        "https://x.example.test/v1"
    )


def test_trailing_slash_from_environment_gives_clean_request_urls(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url="https://x.example.test/v1/items/7", json={})
    client = make_client(base_url="https://x.example.test/v1/")
    client.request(endpoint("get_item"), dict, path_params={"item_id": "7"})
    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.raw_path == b"/v1/items/7"


# -- validation ------------------------------------------------------------------------------


def test_bad_base_url_kwarg_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"base_url='ftp://x\.test' must start with http"):
        ClientConfig.resolve(API_SPEC, base_url="ftp://x.test", environ={})


def test_bad_base_url_from_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"TESTAPI_BASE_URL='api\.example\.test'"):
        ClientConfig.resolve(API_SPEC, environ={"TESTAPI_BASE_URL": "api.example.test"})


def test_bad_base_url_fails_client_construction() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        SyncTestClient(base_url="not a url")


@pytest.mark.parametrize("timeout", [-1.0, 0.0])
def test_non_positive_timeout_kwarg_is_a_config_error(timeout: float) -> None:
    with pytest.raises(ConfigError, match="timeout"):
        ClientConfig.resolve(API_SPEC, timeout=timeout, environ={})


@pytest.mark.parametrize("raw", ["-5", "0"])
def test_non_positive_timeout_from_environment_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="TESTAPI_TIMEOUT"):
        ClientConfig.resolve(API_SPEC, environ={"TESTAPI_TIMEOUT": raw})


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("TESTAPI_TIMEOUT", "soon"),
        ("TESTAPI_MAX_RETRIES", "many"),
        ("TESTAPI_MAX_RETRIES", "1.5"),
        ("TESTAPI_MAX_RETRIES", "-2"),
    ],
)
def test_bad_numbers_from_environment_name_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        ClientConfig.resolve(API_SPEC, environ={name: raw})
    assert name in str(info.value)
    assert repr(raw) in str(info.value)


def test_negative_max_retries_and_deadline_kwargs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="max_retries=-1"):
        ClientConfig.resolve(API_SPEC, max_retries=-1, environ={})
    with pytest.raises(ConfigError, match="deadline=0"):
        ClientConfig.resolve(API_SPEC, deadline=0, environ={})


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# -- the API key stays secret ----------------------------------------------------------------


def test_secret_hides_its_value() -> None:
    secret = Secret(API_KEY)
    assert API_KEY not in repr(secret)
    assert API_KEY not in str(secret)
    assert API_KEY not in f"{secret}"
    assert secret.get_secret_value() == API_KEY
    assert secret == Secret(API_KEY)
    assert secret != Secret("other")
    assert hash(secret) == hash(Secret(API_KEY))


def test_api_key_not_in_repr_of_config_or_client(make_client: SyncFactory) -> None:
    client = make_client()
    assert client.config.api_key is not None  # the key is there ...
    assert client.config.api_key.get_secret_value() == API_KEY
    for text in (repr(client.config), str(client.config), repr(client)):
        assert API_KEY not in text  # ... but never shown
    assert "Secret(" in repr(client.config)


def _echo_key_body() -> dict[str, str]:
    return {"detail": f"invalid credentials: {API_KEY}"}


def _assert_no_key_anywhere(
    err: BaseException, caplog: pytest.LogCaptureFixture, events: list[Event]
) -> None:
    texts = [str(err), repr(err), str(err.__cause__), all_text(err.args)]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(all_text(record.__dict__.values()))
    texts.append(all_text(events))
    for text in texts:
        assert API_KEY not in text


def test_api_key_never_leaks_across_a_failing_retried_call(
    make_client: SyncFactory, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events: list[Event] = []
    client = make_client(listeners=[events.append])
    for _ in range(3):
        httpx_mock.add_response(status_code=503, json=_echo_key_body(), headers={"x-key": API_KEY})
    with pytest.raises(InternalServerError) as info:
        client.request(endpoint("create_item"), dict, body={"name": "a"})
    # The key really was sent, and the server really echoed it: the test can see a leak.
    requests = httpx_mock.get_requests()
    assert len(requests) == 3
    assert all(r.headers["X-API-Key"] == API_KEY for r in requests)
    assert info.value.attempts == 3
    assert caplog.records, "the failing call logged nothing: the log check would be vacuous"
    assert {e.kind for e in events} >= {"request_start", "retry", "request_error"}
    _assert_no_key_anywhere(info.value, caplog, events)


def test_api_key_never_leaks_from_an_auth_error(
    make_client: SyncFactory, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events: list[Event] = []
    client = make_client(listeners=[events.append])
    httpx_mock.add_response(status_code=401, json={"message": f"unknown key {API_KEY}"})
    with pytest.raises(AuthenticationError) as info:
        client.request(endpoint("ping"), dict, body={})
    assert "unknown key" in str(info.value)
    assert "<redacted>" in str(info.value)
    _assert_no_key_anywhere(info.value, caplog, events)
    restored = pickle.loads(pickle.dumps(info.value))
    assert API_KEY not in str(restored)


def test_api_key_never_leaks_from_a_validation_error(
    make_client: SyncFactory, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events: list[Event] = []
    client = make_client(listeners=[events.append])
    httpx_mock.add_response(
        status_code=200,
        text=f"<html>your key {API_KEY} is fine</html>",
        headers={"content-type": "text/html"},
    )
    with pytest.raises(APIResponseValidationError) as info:
        client.request(endpoint("ping"), dict, body={})
    assert "your key <redacted> is fine" in str(info.value)
    _assert_no_key_anywhere(info.value, caplog, events)


def test_api_key_never_leaks_from_connection_errors(
    make_client: SyncFactory, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events: list[Event] = []
    client = make_client(listeners=[events.append])
    for _ in range(3):
        httpx_mock.add_exception(httpx.ConnectError("connection refused"))
    with pytest.raises(APIConnectionError) as info:
        client.request(
            endpoint("create_item"),
            dict,
            body={"name": "a"},
            options=RequestOptions(extra_headers={"X-Trace": "t"}),
        )
    assert isinstance(info.value, APIError)
    _assert_no_key_anywhere(info.value, caplog, events)
