"""The transport seam: which backend each pool sends with, and pyqwest over a real socket.

Every socket test runs the runtime's whole pipeline (retries, error mapping, streams) on a pool
built on pyqwest, against a small server on 127.0.0.1, and checks that the rest of the runtime
sees httpx's exception classes with httpx's delivery semantics.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pyqwest
import pytest
from pydantic import BaseModel
from sdkgen.runtime import (
    AmbiguousOutcomeError,
    APIConnectionError,
    APITimeoutError,
    ClientConfig,
    ConfigError,
    PoolSpec,
    RequestOptions,
    _pyqwest as pyqwest_module,
    _transport as transport_module,
)
from sdkgen.runtime._pyqwest import PyqwestTransport, map_error
from sdkgen.runtime._sse import AsyncStream
from sdkgen.runtime._transport import AsyncPools, SyncPools, _ShardedTransport, choose_backend
from tests.runtime._support import (
    API_KEY,
    API_SPEC,
    AsyncFactory,
    AsyncTestClient,
    StartHTTPServer,
    StartRawServer,
    endpoint,
    read_http_request,
    send_json_response,
)

TIMEOUT = httpx.Timeout(5.0)


def no_pyqwest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the runtime believe pyqwest is not installed."""
    monkeypatch.setattr(transport_module, "pyqwest_available", lambda: False)
    monkeypatch.setattr(pyqwest_module, "pyqwest_available", lambda: False)


# -- selection rules ---------------------------------------------------------------------------


def test_choose_backend_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    plain, redirects = PoolSpec(), PoolSpec(follow_redirects=True)
    assert choose_backend(plain, "pyqwest", user_transport=True) == "user"
    assert choose_backend(plain, "httpx") == "httpx"
    assert choose_backend(plain, "pyqwest") == "pyqwest"
    assert choose_backend(plain, "auto") == "pyqwest"  # installed in the dev environment
    assert choose_backend(redirects, "pyqwest") == "httpx"
    assert choose_backend(redirects, "auto") == "httpx"
    no_pyqwest(monkeypatch)
    assert choose_backend(plain, "auto") == "httpx"


def test_config_validates_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ClientConfig.resolve(API_SPEC).http_backend == "httpx"
    assert ClientConfig.resolve(API_SPEC, http_backend="auto").http_backend == "auto"
    with pytest.raises(ConfigError, match="http_backend='curl'"):
        ClientConfig.resolve(API_SPEC, http_backend="curl")  # type: ignore[arg-type]
    no_pyqwest(monkeypatch)
    assert ClientConfig.resolve(API_SPEC, http_backend="auto").http_backend == "auto"
    with pytest.raises(ConfigError, match="pip install pyqwest"):
        ClientConfig.resolve(API_SPEC, http_backend="pyqwest")


def transport_of(client: httpx.AsyncClient | httpx.Client) -> Any:
    return client._transport


async def test_async_pools_follow_the_backend_and_its_exceptions() -> None:
    specs = {"default": PoolSpec(), "redirect": PoolSpec(follow_redirects=True)}
    pools = AsyncPools(
        specs, user_client=None, transport=None, timeout=TIMEOUT, http_backend="auto"
    )
    try:
        assert isinstance(transport_of(pools.get("default")), PyqwestTransport)
        redirect = pools.get("redirect")
        assert isinstance(transport_of(redirect), _ShardedTransport)  # httpx's, in shards
        assert redirect.follow_redirects
        assert not pools.get("default").follow_redirects
    finally:
        await pools.aclose()


async def test_a_user_transport_or_client_always_wins() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    pools = AsyncPools(
        {"default": PoolSpec()},
        user_client=None,
        transport=mock,
        timeout=TIMEOUT,
        http_backend="pyqwest",
    )
    own = httpx.AsyncClient()
    with_client = AsyncPools(
        {"default": PoolSpec()},
        user_client=own,
        transport=None,
        timeout=TIMEOUT,
        http_backend="pyqwest",
    )
    try:
        assert transport_of(pools.get("default")) is mock
        assert with_client.get("default") is own
    finally:
        await pools.aclose()
        await with_client.aclose()
        await own.aclose()


async def test_backend_change_applies_to_pools_built_afterwards() -> None:
    specs = {"default": PoolSpec(), "sample": PoolSpec(max_connections=1000, max_keepalive=100)}
    pools = AsyncPools(specs, user_client=None, transport=None, timeout=TIMEOUT)
    try:
        assert pools.http_backend == "httpx"
        first = pools.get("default")  # e.g. the settings call, before the server decides
        pools.use_http_backend("auto")
        assert pools.get("default") is first  # in use: kept
        assert isinstance(transport_of(first), _ShardedTransport)
        assert isinstance(transport_of(pools.get("sample")), PyqwestTransport)
        with pytest.raises(ConfigError):
            pools.use_http_backend("fast")  # type: ignore[arg-type]
    finally:
        await pools.aclose()


def test_sync_pools_stay_on_httpx() -> None:
    pools = SyncPools(
        {"default": PoolSpec()},
        user_client=None,
        transport=None,
        timeout=TIMEOUT,
        http_backend="pyqwest",
    )
    try:
        assert isinstance(transport_of(pools.get("default")), httpx.HTTPTransport)
    finally:
        pools.close()


def test_map_error_keeps_the_delivery_semantics() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/x")
    cases: list[tuple[BaseException, type[httpx.HTTPError]]] = [
        (ConnectionError("tcp connect error: refused"), httpx.ConnectError),
        (pyqwest.ConnectTimeout("connect timed out"), httpx.ConnectTimeout),
        (TimeoutError(), httpx.ReadTimeout),
        (pyqwest.RemoteProtocolError("connection closed"), httpx.RemoteProtocolError),
        (pyqwest.StreamError("reset", pyqwest.StreamErrorCode.CANCEL), httpx.RemoteProtocolError),
        (pyqwest.ReadError("read failed"), httpx.ReadError),
        # reqwest also says "write" for a reset after the server read the whole request.
        (pyqwest.WriteError("connection reset by peer"), httpx.ReadError),
        (ValueError("bad header"), httpx.LocalProtocolError),
    ]
    for exc, expected in cases:
        mapped = map_error(exc, request)
        assert type(mapped) is expected, (exc, mapped)
    other = KeyError("not a transport failure")
    assert map_error(other, request) is other


# -- pyqwest over a real socket --------------------------------------------------------------


def pyqwest_client(make: AsyncFactory, base_url: str, **kwargs: Any) -> AsyncTestClient:
    config = ClientConfig.resolve(
        API_SPEC, base_url=base_url, api_key=API_KEY, http_backend="pyqwest", **kwargs
    )
    client = make(config=config)
    assert isinstance(transport_of(client.http_client()), PyqwestTransport)
    return client


def header(request: bytes, name: str) -> str | None:
    for line in request.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower().encode():
            return value.strip().decode()
    return None


async def test_requests_on_one_kept_alive_connection(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    requests: list[bytes] = []

    def keep_alive(conn: socket.socket, _index: int) -> None:
        for n in range(2):
            requests.append(read_http_request(conn))
            payload = b'{"n": %d}' % n
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nX-Request-Id: req-%d\r\n\r\n%s" % (len(payload), n, payload)
            )

    server = raw_server(keep_alive, max_connections=1)
    base_url = server.base_url  # the server closes its socket after its one connection
    client = pyqwest_client(make_async_client, base_url)
    assert await client.request(endpoint("create_item"), dict, body={"a": 1}) == {"n": 0}
    assert await client.request(endpoint("create_item"), dict, body={"a": 2}) == {"n": 1}
    assert server.connections == 1
    first = requests[0]
    assert first.startswith(b"POST /items HTTP/1.1")
    assert first.endswith(b'{"a":1}')
    assert header(first, "x-api-key") == API_KEY
    assert header(first, "content-type") == "application/json"
    assert header(first, "content-length") == "7"
    assert header(first, "idempotency-key")
    assert header(first, "host") == base_url.removeprefix("http://")


async def test_gzip_body_is_decoded_once(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    def gzipped(conn: socket.socket, _index: int) -> None:
        read_http_request(conn)
        payload = gzip.compress(b'{"items": [1, 2, 3]}')
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(payload), payload)
        )

    server = raw_server(gzipped, max_connections=1)
    client = pyqwest_client(make_async_client, server.base_url)
    got = await client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert got == {"items": [1, 2, 3]}


class Stall:
    """A server behaviour that reads the request, optionally sends a head, then waits until
    released (the end of the test) before hanging up."""

    def __init__(self, head: bytes = b"") -> None:
        self.head = head
        self.release = threading.Event()

    def __call__(self, conn: socket.socket, _index: int) -> None:
        read_http_request(conn)
        if self.head:
            conn.sendall(self.head)
        self.release.wait(5)


async def test_no_answer_in_time_is_ambiguous_for_a_state_change(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    stall = Stall()
    server = raw_server(stall, max_connections=1)
    client = pyqwest_client(make_async_client, server.base_url)
    try:
        with pytest.raises(AmbiguousOutcomeError) as info:
            await client.request(
                endpoint("create_item"), dict, body={}, options=RequestOptions(timeout=0.2)
            )
    finally:
        stall.release.set()
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert info.value.attempts == 1  # never resent: it may have been applied
    assert server.connections == 1


async def test_timeouts_are_retried_where_resending_is_safe(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    stall = Stall()
    server = raw_server(stall, max_connections=1)  # the retries cannot even connect: fine
    client = pyqwest_client(make_async_client, server.base_url, resend_ambiguous=True)
    try:
        with pytest.raises(APIConnectionError) as info:
            await client.request(
                endpoint("create_item"), dict, body={}, options=RequestOptions(timeout=0.2)
            )
    finally:
        stall.release.set()
    assert not isinstance(info.value, AmbiguousOutcomeError)
    assert info.value.attempts == 3


async def test_body_stalling_after_the_head_times_out(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    stall = Stall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"
    )
    server = raw_server(stall, max_connections=1)
    client = pyqwest_client(make_async_client, server.base_url)
    try:
        with pytest.raises(APITimeoutError) as info:
            await client.request(
                endpoint("get_item"),
                dict,
                path_params={"item_id": "1"},
                options=RequestOptions(timeout=0.2, max_retries=0),
            )
    finally:
        stall.release.set()
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


async def test_refused_connection_is_not_delivered_so_it_is_retried(
    make_async_client: AsyncFactory,
) -> None:
    with socket.socket() as probe:  # a port that nothing listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = pyqwest_client(make_async_client, f"http://127.0.0.1:{port}")
    with pytest.raises(APIConnectionError) as info:
        await client.request(endpoint("create_item"), dict, body={})
    assert not isinstance(info.value, AmbiguousOutcomeError | APITimeoutError)
    assert info.value.attempts == 3  # a state change is resent: it never reached the server
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def cut_off(conn: socket.socket, _index: int) -> None:
    read_http_request(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        b'{"items": [1, 2,'
    )
    conn.shutdown(socket.SHUT_WR)
    time.sleep(0.05)


def reset_after_reading(conn: socket.socket, _index: int) -> None:
    read_http_request(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


@pytest.mark.parametrize("behaviour", [cut_off, reset_after_reading])
async def test_connection_lost_after_the_request_is_ambiguous(
    make_async_client: AsyncFactory, raw_server: StartRawServer, behaviour: Any
) -> None:
    server = raw_server(behaviour, max_connections=2)
    client = pyqwest_client(make_async_client, server.base_url)
    with pytest.raises(AmbiguousOutcomeError) as info:
        await client.request(endpoint("create_item"), dict, body={})
    assert isinstance(info.value.__cause__, httpx.ReadError | httpx.RemoteProtocolError)
    assert server.connections == 1  # not resent


async def test_connection_lost_is_retried_for_an_idempotent_call(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    def behaviour(conn: socket.socket, index: int) -> None:
        if index == 0:
            cut_off(conn, index)
        else:
            read_http_request(conn)
            send_json_response(conn, 200, b'{"id": "1"}')

    server = raw_server(behaviour, max_connections=2)
    client = pyqwest_client(make_async_client, server.base_url)
    got = await client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert got == {"id": "1"}
    assert server.connections == 2


class Delta(BaseModel):
    index: int
    text: str


async def drain(stream: AsyncStream[Delta], into: list[Delta]) -> None:
    async with stream:
        async for event in stream:
            into.append(event)


async def test_event_stream_outlives_the_per_read_timeout(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    """Events arrive one by one; the stream lasts longer than the timeout, which bounds each
    read (as httpx's does), not the whole exchange."""
    events = 6

    def sse(conn: socket.socket, _index: int) -> None:
        read_http_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        for index in range(events):
            frame = f"data: {json.dumps({'index': index, 'text': f't{index}'})}\n\n".encode()
            conn.sendall(b"%x\r\n%s\r\n" % (len(frame), frame))
            time.sleep(0.1)
        conn.sendall(b"0\r\n\r\n")

    server = raw_server(sse, max_connections=1)
    client = pyqwest_client(make_async_client, server.base_url)
    started = time.monotonic()
    got: list[Delta] = []
    stream = await client.stream(
        endpoint("events"), Delta, body={"prompt": "hi"}, options=RequestOptions(timeout=0.4)
    )
    await drain(stream, got)
    assert [e.index for e in got] == list(range(events))
    assert got[-1].text == f"t{events - 1}"
    assert time.monotonic() - started > 0.4  # longer than one timeout: per read, not per call


async def test_event_stream_that_goes_silent_times_out(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    frame = b'data: {"index": 0, "text": "t0"}\n\n'
    stall = Stall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n" % (len(frame), frame)
    )
    server = raw_server(stall, max_connections=1)
    client = pyqwest_client(make_async_client, server.base_url)
    got: list[Delta] = []
    try:
        stream = await client.stream(
            endpoint("events"), Delta, body={}, options=RequestOptions(timeout=0.3)
        )
        with pytest.raises(APIConnectionError, match="broke off"):
            await drain(stream, got)
    finally:
        stall.release.set()
    assert [e.index for e in got] == [0]


# -- httpx pools in shards -------------------------------------------------------------------


class Gate:
    """A keep-alive HTTP/1.1 handler that holds requests in groups of ``parties`` until all of a
    group are in flight at once (or 5 s pass), so a test knows how many ran concurrently; after
    the first ``held`` requests, it answers at once."""

    def __init__(self, parties: int, held: int | None = None) -> None:
        self.barrier = threading.Barrier(parties, timeout=5)
        self.lock = threading.Lock()
        self.seen = 0
        self.held = parties if held is None else held

    def handler(self) -> type[BaseHTTPRequestHandler]:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with gate.lock:
                    gate.seen += 1
                    held = gate.seen <= gate.held
                if held:
                    with contextlib.suppress(threading.BrokenBarrierError):
                        gate.barrier.wait()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


async def test_shards_follow_the_concurrency_and_keep_their_connections(
    http_server: StartHTTPServer,
) -> None:
    gate = Gate(parties=20, held=60)  # every wave: 20 in flight at once
    server = http_server(gate.handler(), max_connections=40)
    spec = PoolSpec(max_connections=100, max_keepalive=5)  # one pool would keep only 5
    pools = AsyncPools({"default": spec}, user_client=None, transport=None, timeout=TIMEOUT)
    client = pools.get("default")
    sharded = transport_of(client)
    try:
        for _wave in range(3):
            replies = await asyncio.gather(*(client.get(server.base_url) for _ in range(20)))
            assert {r.status_code for r in replies} == {200}
            assert [s.size for s in sharded._shards] == [8, 8, 8]  # 20 in flight: 3 shards
            assert [s.inflight for s in sharded._shards] == [0, 0, 0]  # all slots given back
        # Later waves reused the connections of the first: at most the 3 shards' 24 in all,
        # where one pool keeping 5 would have opened 15 more per wave.
        assert 20 <= server.server.accepted <= 24
    finally:
        await pools.aclose()


async def test_shards_never_open_more_than_max_connections(
    http_server: StartHTTPServer,
) -> None:
    gate = Gate(parties=10)  # all 10 connections busy at once; 15 requests wait their turn
    server = http_server(gate.handler(), max_connections=40)
    pools = AsyncPools(
        {"default": PoolSpec(max_connections=10)},
        user_client=None,
        transport=None,
        timeout=TIMEOUT,
    )
    client = pools.get("default")
    try:
        replies = await asyncio.gather(*(client.get(server.base_url) for _ in range(25)))
        assert {r.status_code for r in replies} == {200}
        assert [s.size for s in transport_of(client)._shards] == [8, 2]
        assert server.server.accepted == 10
    finally:
        await pools.aclose()


async def test_a_failed_request_gives_its_slot_back() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sharded = _ShardedTransport(max_connections=4)
    async with httpx.AsyncClient(transport=sharded) as client:
        for _ in range(6):  # more failures than slots: each one was given back
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")
        assert [s.inflight for s in sharded._shards] == [0]


async def test_with_a_proxy_configured_the_pool_stays_one_httpx_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    pools = AsyncPools({"default": PoolSpec()}, user_client=None, transport=None, timeout=TIMEOUT)
    try:  # httpx honours environment proxies only on its own transport
        assert isinstance(transport_of(pools.get("default")), httpx.AsyncHTTPTransport)
    finally:
        await pools.aclose()


async def test_a_request_waiting_for_a_slot_times_out_as_a_pool_timeout(
    raw_server: StartRawServer,
) -> None:
    stall = Stall()
    server = raw_server(stall, max_connections=1)
    sharded = _ShardedTransport(max_connections=1)
    async with httpx.AsyncClient(transport=sharded, timeout=httpx.Timeout(5.0, pool=0.2)) as client:
        first = asyncio.ensure_future(client.get(server.base_url))
        for _ in range(500):  # until the first request holds the slot (at most 5 s)
            if sharded._shards and sharded._shards[0].inflight:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(server.base_url)  # the only connection is busy
        stall.release.set()
        with pytest.raises(httpx.RemoteProtocolError):  # the stalled server hangs up
            await first
        assert [s.inflight for s in sharded._shards] == [0]


async def test_a_slow_head_times_out_at_the_timeout_not_a_multiple(
    make_async_client: AsyncFactory, raw_server: StartRawServer
) -> None:
    """Connect, write and read are not added up: a server answering later than the timeout
    (but sooner than twice or three times it) still times out, as with httpx."""

    def late(conn: socket.socket, _index: int) -> None:
        read_http_request(conn)
        time.sleep(1.0)
        with contextlib.suppress(OSError):
            send_json_response(conn, 200, b'{"late": true}')

    server = raw_server(late, max_connections=1)
    client = pyqwest_client(make_async_client, server.base_url)
    with pytest.raises(APITimeoutError) as info:
        await client.request(
            endpoint("get_item"),
            dict,
            path_params={"item_id": "1"},
            options=RequestOptions(timeout=0.4, max_retries=0),
        )
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


def test_a_pool_may_keep_auto_on_httpx() -> None:
    from sdkgen.runtime._transport import choose_backend

    spec = PoolSpec(auto_backend="httpx")
    assert choose_backend(spec, "auto") == "httpx"
    assert choose_backend(spec, "pyqwest") == "pyqwest"  # a forced backend still wins
    assert choose_backend(spec, "auto", user_transport=True) == "user"
