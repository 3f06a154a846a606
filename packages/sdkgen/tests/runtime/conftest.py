"""Shared fixtures of the runtime tests: clients of the test API and real local servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from tests.runtime._support import (
    API_KEY,
    API_KEY_ENV,
    BASE_URL,
    ENV_NAMES,
    AsyncFactory,
    AsyncTestClient,
    ConnectionBehaviour,
    HTTPServerThread,
    RawServer,
    StartHTTPServer,
    StartRawServer,
    SyncFactory,
    SyncTestClient,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's environment for the test API (or proxies for 127.0.0.1)."""
    for name in (*ENV_NAMES.values(), API_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_client() -> Iterator[SyncFactory]:
    """Build sync clients of the test API (key and base URL preset); all closed afterwards."""
    made: list[SyncTestClient] = []

    def make(cls: type[SyncTestClient] = SyncTestClient, **kwargs: Any) -> SyncTestClient:
        kwargs.setdefault("base_url", BASE_URL)
        kwargs.setdefault("api_key", API_KEY)
        client = cls(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: SyncFactory) -> SyncTestClient:
    return make_client()


@pytest.fixture
async def make_async_client() -> AsyncIterator[AsyncFactory]:
    made: list[AsyncTestClient] = []

    def make(cls: type[AsyncTestClient] = AsyncTestClient, **kwargs: Any) -> AsyncTestClient:
        kwargs.setdefault("base_url", BASE_URL)
        kwargs.setdefault("api_key", API_KEY)
        client = cls(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def aclient(make_async_client: AsyncFactory) -> AsyncTestClient:
    return make_async_client()


@pytest.fixture
def http_server() -> Iterator[StartHTTPServer]:
    """Start stdlib HTTP servers on 127.0.0.1; every one is shut down after the test."""
    started: list[HTTPServerThread] = []

    def start(handler: type[BaseHTTPRequestHandler], **kwargs: Any) -> HTTPServerThread:
        server = HTTPServerThread(handler, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def raw_server() -> Iterator[StartRawServer]:
    """Start raw TCP servers on 127.0.0.1 with a per-connection behaviour; stopped afterwards."""
    started: list[RawServer] = []

    def start(behaviour: ConnectionBehaviour, **kwargs: Any) -> RawServer:
        server = RawServer(behaviour, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
