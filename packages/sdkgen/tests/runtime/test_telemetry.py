"""Telemetry: the events a call emits, listener isolation, and redaction."""

from __future__ import annotations

import logging

import httpx
import pytest
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    APIConnectionError,
    Event,
    InternalServerError,
    NotFoundError,
    Telemetry,
    redact_headers,
)
from tests.runtime._support import API_KEY, AsyncFactory, SyncFactory, endpoint


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def test_successful_call_emits_start_and_end(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    events: list[Event] = []
    client = make_client(listeners=[events.append])
    httpx_mock.add_response(status_code=201, json={}, headers={"x-request-id": "rid-1"})
    client.request(endpoint("get_item"), dict, path_params={"item_id": "a/b"})
    assert kinds(events) == ["request_start", "request_end"]
    start, end = events
    assert (start.endpoint, start.method, start.path, start.attempt) == (
        "get_item",
        "GET",
        "/items/a%2Fb",
        1,
    )
    assert end.endpoint == "get_item"
    assert end.status_code == 201
    assert end.request_id == "rid-1"
    assert end.elapsed >= 0


def test_retries_emit_retry_events_with_wait(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    events: list[Event] = []
    client = make_client(listeners=[events.append])
    httpx_mock.add_response(status_code=503, headers={"retry-after-ms": "4"})
    httpx_mock.add_response(status_code=429, headers={"retry-after-ms": "2"})
    httpx_mock.add_response(json={})
    client.request(endpoint("create_item"), dict, body={})
    assert kinds(events) == [
        "request_start",
        "retry",
        "request_start",
        "retry",
        "request_start",
        "request_end",
    ]
    retries = [e for e in events if e.kind == "retry"]
    assert [(e.attempt, e.status_code, e.wait) for e in retries] == [
        (1, 503, 0.004),
        (2, 429, 0.002),
    ]
    assert retries[0].error_type == "InternalServerError"
    assert retries[1].error_type == "RateLimitError"
    assert [e.attempt for e in events if e.kind == "request_start"] == [1, 2, 3]
    assert events[-1].attempt == 3


def test_final_failure_emits_request_error(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    events: list[Event] = []
    client = make_client(listeners=[events.append])
    for _ in range(3):
        httpx_mock.add_response(status_code=500, json={"detail": "db down"})
    with pytest.raises(InternalServerError):
        client.request(endpoint("create_item"), dict, body={})
    assert kinds(events)[-1] == "request_error"
    assert "request_end" not in kinds(events)
    error = events[-1]
    assert error.endpoint == "create_item"
    assert error.status_code == 500
    assert error.attempt == 3
    assert error.error_type == "InternalServerError"
    assert error.error is not None
    assert "db down" in error.error


def test_connection_failure_emits_request_error(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    events: list[Event] = []
    client = make_client(listeners=[events.append])
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError):
        client.request(endpoint("ping"), dict, body={})
    assert kinds(events) == ["request_start", "request_error"]
    assert events[-1].status_code is None
    assert events[-1].error_type == "APIConnectionError"


def test_a_raising_listener_does_not_break_the_call(
    make_client: SyncFactory, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[Event] = []

    def broken(_event: Event) -> None:
        raise RuntimeError("listener bug")

    client = make_client(listeners=[broken, events.append])
    httpx_mock.add_response(json={"ok": True})
    with caplog.at_level(logging.ERROR, logger="sdkgen"):
        assert client.request(endpoint("ping"), dict, body={}) == {"ok": True}
    # The listener after the broken one still got everything ...
    assert kinds(events) == ["request_start", "request_end"]
    # ... and the failure was logged, not swallowed silently.
    failures = [r for r in caplog.records if "telemetry listener" in r.getMessage()]
    assert len(failures) == 2
    assert failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], RuntimeError)


def test_listeners_can_be_added_and_removed() -> None:
    events: list[Event] = []
    telemetry = Telemetry()
    telemetry.add_listener(events.append)
    telemetry.emit(Event("request_start", "e", "GET", "/p"))
    telemetry.remove_listener(events.append)
    telemetry.emit(Event("request_start", "e", "GET", "/p"))
    assert len(events) == 1


async def test_async_calls_emit_the_same_events(
    make_async_client: AsyncFactory, httpx_mock: HTTPXMock
) -> None:
    events: list[Event] = []
    client = make_async_client(listeners=[events.append])
    httpx_mock.add_response(status_code=502)
    httpx_mock.add_response(status_code=404)
    with pytest.raises(NotFoundError):
        await client.request(endpoint("create_item"), dict, body={})
    assert kinds(events) == ["request_start", "retry", "request_start", "request_error"]


def test_retry_is_logged_at_info(
    make_client: SyncFactory, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=503, headers={"retry-after-ms": "1"})
    httpx_mock.add_response(json={})
    with caplog.at_level(logging.INFO, logger="sdkgen"):
        client.request(endpoint("create_item"), dict, body={})
    messages = [r.getMessage() for r in caplog.records if r.name == "sdkgen"]
    assert any(m.startswith("retrying create_item (attempt 1 failed") for m in messages)


def test_debug_request_log_redacts_credentials_and_secret_headers(
    make_client: SyncFactory, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    httpx_mock.add_response(json={})
    with caplog.at_level(logging.DEBUG, logger="sdkgen"):
        client.request(
            endpoint("with_secret"),
            dict,
            body={},
            secret_headers={"X-Upstream-Token": "upstream-secret-value"},
        )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "with_secret attempt 1: POST" in text
    assert "<redacted>" in text
    assert API_KEY not in text
    assert "upstream-secret-value" not in text


# -- redact_headers ----------------------------------------------------------------------------


def test_redact_headers() -> None:
    headers = {
        "Authorization": "Bearer abc",
        "proxy-authorization": "Basic xyz",
        "Cookie": "session=1",
        "Set-Cookie": "session=2",
        "X-API-Key": API_KEY,
        "X-Upstream-Token": "tok",
        "Content-Type": "application/json",
    }
    redacted = redact_headers(headers, ["x-api-key", "X-UPSTREAM-TOKEN"])
    assert redacted == {
        "Authorization": "<redacted>",
        "proxy-authorization": "<redacted>",
        "Cookie": "<redacted>",
        "Set-Cookie": "<redacted>",
        "X-API-Key": "<redacted>",
        "X-Upstream-Token": "<redacted>",
        "Content-Type": "application/json",
    }
    assert headers["X-API-Key"] == API_KEY  # a copy: the original is untouched


def test_redact_httpx_headers() -> None:
    headers = httpx.Headers({"X-API-Key": API_KEY, "Accept": "*/*"})
    redacted = redact_headers(headers, ["X-API-Key"])
    assert API_KEY not in repr(redacted)
    assert redacted["accept"] == "*/*"
