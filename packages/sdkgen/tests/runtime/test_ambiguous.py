"""A state-changing request whose answer is lost after it was sent is never resent by default:
it may have been applied, and a server that does not deduplicate would apply it twice."""

from __future__ import annotations

import socket

import httpx
import pytest
from pytest_httpx import HTTPXMock
from sdkgen.runtime import AmbiguousOutcomeError, APIConnectionError, RequestOptions
from tests.runtime._support import (
    AsyncFactory,
    StartHTTPServer,
    StartRawServer,
    SyncFactory,
    endpoint,
    read_http_request,
    reset_connection,
    send_json_response,
)
from tests.runtime.test_socket import SlowServerState, cut_off, slow_handler


def test_reset_after_the_request_was_read_is_ambiguous(
    make_client: SyncFactory, raw_server: StartRawServer
) -> None:
    seen: list[bytes] = []

    def behaviour(conn: socket.socket, _index: int) -> None:
        seen.append(read_http_request(conn))
        reset_connection(conn)

    server = raw_server(behaviour, max_connections=3)
    client = make_client(base_url=server.base_url)
    with pytest.raises(AmbiguousOutcomeError) as info:
        client.request(endpoint("create_item"), dict, body={"a": 1})
    assert len(seen) == 1  # not resent
    assert "may or may not have been applied" in str(info.value)
    assert info.value.endpoint == "create_item"
    assert info.value.attempts == 1


def test_answer_slower_than_the_timeout_is_ambiguous(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    state = SlowServerState(slow_requests=5)
    server = http_server(slow_handler(state))
    client = make_client(base_url=server.base_url)
    try:
        with pytest.raises(AmbiguousOutcomeError):
            client.request(
                endpoint("create_item"), dict, body={}, options=RequestOptions(timeout=0.1)
            )
    finally:
        state.release.set()
    assert state.requests_seen(1) == 1


def test_response_cut_off_is_ambiguous(
    make_client: SyncFactory, raw_server: StartRawServer
) -> None:
    server = raw_server(cut_off, max_connections=2)
    client = make_client(base_url=server.base_url)
    with pytest.raises(AmbiguousOutcomeError):
        client.request(endpoint("create_item"), dict, body={})
    assert server.connections == 1


def test_idempotent_requests_are_still_resent(
    make_client: SyncFactory, raw_server: StartRawServer
) -> None:
    def behaviour(conn: socket.socket, index: int) -> None:
        read_http_request(conn)
        if index == 0:
            reset_connection(conn)
        else:
            send_json_response(conn, 200, b'{"id": "1"}')

    server = raw_server(behaviour, max_connections=2)
    client = make_client(base_url=server.base_url)
    assert client.request(endpoint("get_item"), dict, path_params={"item_id": "1"}) == {"id": "1"}
    assert server.connections == 2


def test_a_failed_connect_was_never_sent_and_is_resent(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_response(json={"ok": 1})
    client = make_client()
    assert client.request(endpoint("create_item"), dict, body={}) == {"ok": 1}


def test_resend_ambiguous_opts_in_to_resending(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_exception(httpx.RemoteProtocolError("server disconnected"))
    httpx_mock.add_response(json={"ok": 1})
    client = make_client(resend_ambiguous=True)
    assert client.request(endpoint("create_item"), dict, body={}) == {"ok": 1}
    first, second = httpx_mock.get_requests()
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


async def test_async_ambiguous(make_async_client: AsyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"))
    client = make_async_client()
    with pytest.raises(AmbiguousOutcomeError) as info:
        await client.request(endpoint("create_item"), dict, body={})
    assert isinstance(info.value, APIConnectionError)
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(httpx_mock.get_requests()) == 1
