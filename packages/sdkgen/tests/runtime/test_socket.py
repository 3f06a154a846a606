"""Failures that cross a real socket: slow answers, resets, bodies cut off, refused connects."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
from sdkgen.runtime import (
    APIConnectionError,
    APITimeoutError,
    RequestOptions,
)
from tests.runtime._support import (
    AsyncFactory,
    ConnectionBehaviour,
    StartHTTPServer,
    StartRawServer,
    SyncFactory,
    endpoint,
    read_http_request,
    reset_connection,
    send_json_response,
)


class SlowServerState:
    def __init__(self, slow_requests: int) -> None:
        self.slow_requests = slow_requests
        self.requests = 0
        self.lock = threading.Lock()
        self.release = threading.Event()  # set at the end of the test: slow handlers finish

    def requests_seen(self, expected: int) -> int:
        """The request count, once it reaches ``expected`` (or after 5 s): the server thread
        may count the last attempt a moment after the client has already timed it out."""
        stop = time.monotonic() + 5
        while time.monotonic() < stop:
            with self.lock:
                if self.requests >= expected:
                    break
            time.sleep(0.005)
        with self.lock:
            return self.requests


def slow_handler(state: SlowServerState) -> type[BaseHTTPRequestHandler]:
    """Answers after the test is over for the first ``slow_requests`` requests, then at once."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.requests += 1
                number = state.requests
            if number <= state.slow_requests:
                state.release.wait(5)
            body = b'{"n": %d}' % number
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up on this attempt long ago

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def test_attempt_timeout_is_retried_then_gives_up(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    state = SlowServerState(slow_requests=100)
    server = http_server(slow_handler(state))
    client = make_client(base_url=server.base_url, resend_ambiguous=True)
    try:
        with pytest.raises(APITimeoutError) as info:
            client.request(
                endpoint("create_item"), dict, body={}, options=RequestOptions(timeout=0.1)
            )
    finally:
        state.release.set()
    err = info.value
    assert state.requests_seen(3) == 3  # FAST allows 2 retries: the server saw each one
    assert err.attempts == 3
    assert "gave up after 3 attempts" in str(err)
    assert isinstance(err.__cause__, httpx.TimeoutException)


def test_attempt_timeout_then_success(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    state = SlowServerState(slow_requests=1)
    server = http_server(slow_handler(state))
    client = make_client(base_url=server.base_url, resend_ambiguous=True)
    try:
        result = client.request(
            endpoint("create_item"), dict, body={}, options=RequestOptions(timeout=0.1)
        )
    finally:
        state.release.set()
    assert result == {"n": 2}
    assert state.requests_seen(2) == 2


def test_timeout_on_a_no_retry_endpoint_is_a_single_attempt(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    state = SlowServerState(slow_requests=100)
    server = http_server(slow_handler(state))
    client = make_client(base_url=server.base_url, resend_ambiguous=True, timeout=0.1)
    try:
        with pytest.raises(APITimeoutError) as info:
            client.request(endpoint("ping"), dict, body={})
    finally:
        state.release.set()
    assert info.value.attempts == 1
    assert state.requests_seen(1) == 1


def test_deadline_cuts_the_attempt_and_stops_retrying(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    state = SlowServerState(slow_requests=100)
    server = http_server(slow_handler(state))
    client = make_client(base_url=server.base_url, resend_ambiguous=True)
    try:
        with pytest.raises(APITimeoutError):
            # Each attempt may take 30 s, but the whole call only 0.2 s: one attempt, cut short.
            client.request(
                endpoint("create_item"),
                dict,
                body={},
                options=RequestOptions(timeout=30.0, deadline=0.2),
            )
    finally:
        state.release.set()
    assert state.requests_seen(1) == 1


async def test_async_attempt_timeout_is_retried(
    make_async_client: AsyncFactory, http_server: StartHTTPServer
) -> None:
    state = SlowServerState(slow_requests=100)
    server = http_server(slow_handler(state))
    client = make_async_client(base_url=server.base_url, resend_ambiguous=True)
    try:
        with pytest.raises(APITimeoutError) as info:
            await client.request(
                endpoint("create_item"), dict, body={}, options=RequestOptions(timeout=0.1)
            )
    finally:
        state.release.set()
    assert state.requests_seen(3) == 3
    assert info.value.attempts == 3


# -- resets and cut-off bodies -----------------------------------------------------------------


def reset_first(count: int) -> tuple[list[bytes], ConnectionBehaviour]:
    requests: list[bytes] = []

    def behaviour(conn: socket.socket, index: int) -> None:
        requests.append(read_http_request(conn))
        if index < count:
            reset_connection(conn)
        else:
            send_json_response(conn, 200, b'{"ok": true}')

    return requests, behaviour


def test_connection_reset_is_retried(make_client: SyncFactory, raw_server: StartRawServer) -> None:
    requests, behaviour = reset_first(2)
    server = raw_server(behaviour, max_connections=3)
    client = make_client(base_url=server.base_url, resend_ambiguous=True)
    assert client.request(endpoint("create_item"), dict, body={"a": 1}) == {"ok": True}
    assert server.connections == 3
    assert len(requests) == 3
    assert all(r.startswith(b"POST /items HTTP/1.1") for r in requests)
    # The same call, three attempts: same idempotency key, counted retries.
    keys = {
        line
        for r in requests
        for line in r.split(b"\r\n")
        if line.lower().startswith(b"idempotency-key:")
    }
    assert len(keys) == 1
    counts = [
        line
        for r in requests
        for line in r.split(b"\r\n")
        if line.lower().startswith(b"x-retry-count:")
    ]
    assert [c.split(b":")[1].strip() for c in counts] == [b"0", b"1", b"2"]


def test_connection_resets_until_giving_up(
    make_client: SyncFactory, raw_server: StartRawServer
) -> None:
    _, behaviour = reset_first(100)
    server = raw_server(behaviour, max_connections=3)
    client = make_client(base_url=server.base_url, resend_ambiguous=True)
    with pytest.raises(APIConnectionError) as info:
        client.request(endpoint("create_item"), dict, body={})
    err = info.value
    assert not isinstance(err, APITimeoutError)
    assert err.attempts == 3
    assert server.connections == 3
    assert isinstance(err.__cause__, httpx.TransportError)
    assert "gave up after 3 attempts" in str(err)


async def test_async_connection_reset_is_retried(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    _, behaviour = reset_first(1)
    server = raw_server(behaviour, max_connections=2)
    client = make_async_client(base_url=server.base_url, resend_ambiguous=True)
    assert await client.request(endpoint("create_item"), dict, body={}) == {"ok": True}
    assert server.connections == 2


def cut_off(conn: socket.socket, _index: int) -> None:
    read_http_request(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        b'{"items": [1, 2,'
    )
    conn.shutdown(socket.SHUT_WR)
    time.sleep(0.05)  # let the client read what was sent before the socket goes away


def test_body_cut_off_mid_way_is_a_connection_error(
    make_client: SyncFactory, raw_server: StartRawServer
) -> None:
    server = raw_server(cut_off, max_connections=1)
    client = make_client(base_url=server.base_url)
    with pytest.raises(APIConnectionError) as info:
        client.request(endpoint("ping"), dict, body={})
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
    assert info.value.endpoint == "ping"
    assert server.connections == 1


def test_body_cut_off_is_retried(make_client: SyncFactory, raw_server: StartRawServer) -> None:
    def behaviour(conn: socket.socket, index: int) -> None:
        if index == 0:
            cut_off(conn, index)
        else:
            read_http_request(conn)
            send_json_response(conn, 200, b'{"items": [1, 2, 3]}')

    server = raw_server(behaviour, max_connections=2)
    client = make_client(base_url=server.base_url, resend_ambiguous=True)
    assert client.request(endpoint("create_item"), dict, body={}) == {"items": [1, 2, 3]}
    assert server.connections == 2


async def test_async_body_cut_off(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    server = raw_server(cut_off, max_connections=1)
    client = make_async_client(base_url=server.base_url)
    with pytest.raises(APIConnectionError) as info:
        await client.request(endpoint("ping"), dict, body={})
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)


def test_refused_connection_is_a_connection_error(make_client: SyncFactory) -> None:
    with socket.socket() as probe:  # a port that nothing listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(APIConnectionError) as info:
        client.request(endpoint("create_item"), dict, body={})
    assert info.value.attempts == 3
    assert isinstance(info.value.__cause__, httpx.ConnectError)
