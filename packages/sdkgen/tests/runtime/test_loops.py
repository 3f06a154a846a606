"""One client, several event loops: httpx connections belong to the loop that opened them, so
each loop that sends gets connections of its own, closed with the client or with the loop."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler

import httpx
from sdkgen.runtime import BackgroundLoop
from tests.runtime._support import API_KEY, AsyncTestClient, StartHTTPServer, endpoint


class KeepAliveHandler(BaseHTTPRequestHandler):
    """Answers ``{}`` over HTTP/1.1 keep-alive, so a connection outlives its request."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"thread": "%s"}' % threading.current_thread().name.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


async def _send_and_pool(client: AsyncTestClient) -> httpx.AsyncClient:
    for _ in range(3):  # several calls: the second one reuses this loop's connection
        await client.request(endpoint("ping"), dict, body={})
    return client._pools.get("default")


def _wait_closed(pool: httpx.AsyncClient, seconds: float = 5.0) -> bool:
    stop = time.monotonic() + seconds
    while not pool.is_closed and time.monotonic() < stop:
        time.sleep(0.01)
    return pool.is_closed


def test_each_loop_sends_on_connections_of_its_own(http_server: StartHTTPServer) -> None:
    server = http_server(KeepAliveHandler)
    client = AsyncTestClient(base_url=server.base_url, api_key=API_KEY)
    home = BackgroundLoop("home")
    try:
        home_pool = home.call(_send_and_pool(client), timeout=10)
        # A caller's own loop (asyncio.run): real sockets, so connections of the home loop
        # would fail here if they were shared.
        guest_pool = asyncio.run(asyncio.wait_for(_send_and_pool(client), 10))
        assert guest_pool is not home_pool
        assert guest_pool.is_closed, "asyncio.run's shutdown closes the guest loop's clients"
        assert not home_pool.is_closed
        # The home loop goes on with its own connections, and a new guest loop gets new ones.
        assert home.call(_send_and_pool(client), timeout=10) is home_pool
        again = asyncio.run(asyncio.wait_for(_send_and_pool(client), 10))
        assert again is not guest_pool
        home.call(client.close(), timeout=10)
        assert home_pool.is_closed
    finally:
        home.close()


def test_closing_on_one_loop_closes_the_clients_of_a_live_other_loop(
    http_server: StartHTTPServer,
) -> None:
    server = http_server(KeepAliveHandler)
    client = AsyncTestClient(base_url=server.base_url, api_key=API_KEY)
    home, guest = BackgroundLoop("home"), BackgroundLoop("guest")
    try:
        home_pool = home.call(_send_and_pool(client), timeout=10)
        guest_pool = guest.call(_send_and_pool(client), timeout=10)
        assert guest_pool is not home_pool
        home.call(client.close(), timeout=10)
        assert home_pool.is_closed
        # Closed on the guest's own loop (scheduled there, not awaited from the home loop).
        assert _wait_closed(guest_pool)
        assert client.closed
    finally:
        home.close()
        guest.close()


def test_a_guest_loop_can_close_the_client(http_server: StartHTTPServer) -> None:
    server = http_server(KeepAliveHandler)
    client = AsyncTestClient(base_url=server.base_url, api_key=API_KEY)
    home = BackgroundLoop("home")
    try:
        home_pool = home.call(_send_and_pool(client), timeout=10)

        async def use_and_close() -> httpx.AsyncClient:
            pool = await _send_and_pool(client)
            await client.close()  # on the guest loop: its clients directly, the home's there
            assert pool.is_closed
            return pool

        asyncio.run(asyncio.wait_for(use_and_close(), 10))
        assert _wait_closed(home_pool)
    finally:
        home.close()


async def test_http_client_is_the_pools_own(http_server: StartHTTPServer) -> None:
    server = http_server(KeepAliveHandler)
    client = AsyncTestClient(base_url=server.base_url, api_key=API_KEY)
    try:
        await client.request(endpoint("bulk_op"), dict, body={})
        bulk = client.http_client("bulk")
        assert bulk is client._pools.get("bulk")
        assert bulk is not client.http_client()  # the default pool is another client
        reply = await bulk.post(server.base_url + "/outside-the-manifest", content=b"{}")
        assert reply.status_code == 200
    finally:
        await client.close()
    assert bulk.is_closed
