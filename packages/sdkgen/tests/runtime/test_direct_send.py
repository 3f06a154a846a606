"""Pools on pyqwest send straight to the transport (``_transport.send_streamed``), not through
``httpx.AsyncClient.send``: what the caller sees must be what ``send`` gives, against a real
server on 127.0.0.1. And a body of a stated length is read to that length, not to a later
end-of-body (``_pyqwest._ResponseStream``), with the connection kept for the next request.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import httpx
import pytest
from sdkgen.runtime import APIStatusError, ClientConfig, PoolSpec, ResponseLostError
from sdkgen.runtime._transport import AsyncPools, _DirectClient, send_streamed
from tests.runtime._support import (
    API_KEY,
    API_SPEC,
    AsyncFactory,
    AsyncTestClient,
    StartRawServer,
    endpoint,
    read_http_request,
)

TIMEOUT = httpx.Timeout(5.0)


def pyqwest_client(make: AsyncFactory, base_url: str) -> AsyncTestClient:
    config = ClientConfig.resolve(
        API_SPEC, base_url=base_url, api_key=API_KEY, http_backend="pyqwest"
    )
    client = make(config=config)
    assert type(client.http_client()) is _DirectClient
    return client


def answer(head: bytes, body: bytes = b"", *, requests: int = 1) -> Any:
    """A connection behaviour: ``requests`` times, read a request and send ``head`` + ``body``."""

    def behaviour(conn: socket.socket, _index: int) -> None:
        for _ in range(requests):
            if not read_http_request(conn):
                return
            conn.sendall(head + body)

    return behaviour


async def test_only_pools_the_sdk_builds_on_pyqwest_send_directly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    specs = {"default": PoolSpec(), "redirect": PoolSpec(follow_redirects=True)}
    pools = AsyncPools(
        specs, user_client=None, transport=None, timeout=TIMEOUT, http_backend="auto"
    )
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    with_transport = AsyncPools(specs, user_client=None, transport=mock, timeout=TIMEOUT)
    try:
        assert type(pools.get("default")) is _DirectClient
        assert type(pools.get("redirect")) is httpx.AsyncClient  # httpx follows redirects
        assert type(with_transport.get("default")) is httpx.AsyncClient  # the caller's seam
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
        proxied = AsyncPools(specs, user_client=None, transport=None, timeout=TIMEOUT)
        proxied.use_http_backend("pyqwest")
        try:  # httpx routes proxied URLs through its mounts: that client keeps send()
            assert type(proxied.get("default")) is httpx.AsyncClient
        finally:
            await proxied.aclose()
    finally:
        await pools.aclose()
        await with_transport.aclose()


async def test_a_direct_response_is_what_send_gives(
    raw_server: StartRawServer, caplog: pytest.LogCaptureFixture
) -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
        b"Set-Cookie: lb=node-7; Path=/\r\nX-Request-Id: r-1\r\n\r\n"
    )
    server = raw_server(answer(head, b'{"ok": true}'[:11], requests=4), max_connections=1)
    pools = AsyncPools(
        {"default": PoolSpec()},
        user_client=None,
        transport=None,
        timeout=TIMEOUT,
        http_backend="pyqwest",
    )
    client = pools.get("default")
    try:
        got: list[tuple[Any, ...]] = []
        for send in (send_streamed, lambda c, r: c.send(r, stream=True)):
            for _ in range(2):
                request = client.build_request("GET", server.base_url + "/x")
                with caplog.at_level(logging.INFO, logger="httpx"):
                    response = await send(client, request)
                    await response.aread()
                await response.aclose()
                assert response.request is request
                assert response.elapsed.total_seconds() >= 0
                got.append(
                    (
                        response.status_code,
                        response.http_version,
                        list(response.headers.items()),
                        response.content,
                        response.history,
                        response.next_request,
                        response.encoding,
                    )
                )
        assert got[0] == got[2]  # direct == send()
        assert client.cookies.get("lb") == "node-7"  # into the pool's jar, as send() does
        lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
        assert len(lines) == 4
        assert len(set(lines)) == 1
        assert server.connections == 1  # every request on the one kept-alive connection
    finally:
        await pools.aclose()


async def test_a_redirect_is_returned_with_its_next_request(raw_server: StartRawServer) -> None:
    head = b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
    server = raw_server(answer(head, requests=2), max_connections=1)
    base = server.base_url  # the server closes its socket after its one connection
    pools = AsyncPools(
        {"default": PoolSpec()},
        user_client=None,
        transport=None,
        timeout=TIMEOUT,
        http_backend="pyqwest",
    )
    client = pools.get("default")
    try:
        direct = await send_streamed(client, client.build_request("GET", base + "/a"))
        await direct.aread()
        plain = await client.send(client.build_request("GET", base + "/a"), stream=True)
        await plain.aread()
        assert direct.status_code == plain.status_code == 302
        assert direct.next_request is not None
        assert plain.next_request is not None
        assert direct.next_request.url == plain.next_request.url == base + "/elsewhere"
    finally:
        await pools.aclose()


async def test_url_credentials_and_a_closed_client_go_through_send(
    raw_server: StartRawServer,
) -> None:
    seen: list[bytes] = []

    def behaviour(conn: socket.socket, _index: int) -> None:
        seen.append(read_http_request(conn))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    server = raw_server(behaviour, max_connections=1)
    base = server.base_url
    pools = AsyncPools(
        {"default": PoolSpec()},
        user_client=None,
        transport=None,
        timeout=TIMEOUT,
        http_backend="pyqwest",
    )
    client = pools.get("default")
    try:
        url = base.replace("http://", "http://user:pw@") + "/a"
        response = await send_streamed(client, client.build_request("GET", url))
        await response.aread()
        assert b"authorization: basic dxnlcjpwdw==" in seen[0].lower()  # httpx's basic auth
    finally:
        await pools.aclose()
    with pytest.raises(RuntimeError, match="client has been closed"):
        await send_streamed(client, client.build_request("GET", base + "/a"))


async def test_bodies_of_a_stated_length_and_chunked_ones_arrive_whole(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    payload = b'{"items": [' + b",".join(b"%d" % i for i in range(3000)) + b"]}"

    def behaviour(conn: socket.socket, _index: int) -> None:
        read_http_request(conn)  # 1: the stated length, the body in pieces over time
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload))
        for at in range(0, len(payload), 4000):
            conn.sendall(payload[at : at + 4000])
            time.sleep(0.01)
        read_http_request(conn)  # 2: chunked, on the same connection
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for at in range(0, len(payload), 5000):
            piece = payload[at : at + 5000]
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.sendall(b"0\r\n\r\n")
        read_http_request(conn)  # 3: empty, stated
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    server = raw_server(behaviour, max_connections=1)
    client = pyqwest_client(make_async_client, server.base_url)
    expected = {"items": list(range(3000))}
    assert (
        await client.request(endpoint("get_item"), dict, path_params={"item_id": "1"}) == expected
    )
    assert (
        await client.request(endpoint("get_item"), dict, path_params={"item_id": "2"}) == expected
    )
    assert await client.request(endpoint("get_item"), dict, path_params={"item_id": "3"}) == {}
    assert server.connections == 1


async def test_a_body_short_of_its_stated_length_is_a_lost_answer(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    def behaviour(conn: socket.socket, _index: int) -> None:
        read_http_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b'{"a": 1')

    server = raw_server(behaviour, max_connections=1)
    client = pyqwest_client(make_async_client, server.base_url)
    with pytest.raises(ResponseLostError):
        await client.request(endpoint("create_item"), dict, body={"a": 1})


async def test_an_error_status_read_directly_is_the_typed_error(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    body = b'{"detail": "no such item"}'
    head = b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    server = raw_server(answer(head % len(body), body), max_connections=1)
    client = pyqwest_client(make_async_client, server.base_url)
    with pytest.raises(APIStatusError) as caught:
        await client.request(endpoint("get_item"), dict, path_params={"item_id": "9"})
    assert caught.value.status_code == 404
    assert "no such item" in str(caught.value)


async def test_a_request_without_a_timeout_gets_the_clients(raw_server: StartRawServer) -> None:
    head = b"HTTP/1.1 204 No Content\r\n\r\n"
    server = raw_server(answer(head, requests=2), max_connections=1)
    base = server.base_url
    pools = AsyncPools(
        {"default": PoolSpec()},
        user_client=None,
        transport=None,
        timeout=httpx.Timeout(3.0, connect=1.0),
        http_backend="pyqwest",
    )
    client = pools.get("default")
    try:
        direct, plain = httpx.Request("GET", base + "/a"), httpx.Request("GET", base + "/b")
        await (await send_streamed(client, direct)).aread()
        await (await client.send(plain, stream=True)).aread()
        assert direct.extensions["timeout"] == plain.extensions["timeout"]
        assert direct.extensions["timeout"] == {
            "connect": 1.0,
            "read": 3.0,
            "write": 3.0,
            "pool": 3.0,
        }
    finally:
        await pools.aclose()
