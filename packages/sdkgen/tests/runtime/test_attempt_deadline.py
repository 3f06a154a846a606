"""Issue 10, finding 3: a deadline holds while bytes are arriving, not only between attempts.

Before: ``timeout`` bounded each read and ``deadline`` was checked between attempts, so a
server sending one byte every 2 s held a call with ``deadline=30`` for 400 s. Now the attempt's
timeout (within what is left of the call's deadline) bounds the whole exchange of an answer that
is not a stream: sending, the status line and headers, and the last byte of the body.

The servers here send a byte every 0.2 s for up to 40 s; the calls allow 1 s; the bounds are
generous (15 s) for a loaded machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import pytest
from sdkgen.runtime import (
    AmbiguousOutcomeError,
    APIConnectionError,
    APITimeoutError,
    AsyncAPIClient,
    ClientConfig,
    EndpointSpec,
    RequestOptions,
    SyncAPIClient,
)
from sdkgen.runtime._config import HTTPBackend
from tests.runtime._hostile import Trickle, json_head
from tests.runtime._support import (
    API_KEY,
    API_SPEC,
    AsyncFactory,
    StartRawServer,
    SyncFactory,
    endpoint,
)

BOUND = 15.0
BACKENDS = ["httpx", "pyqwest", "sync"]
BODY_TRICKLE = json_head(length=1000) + b" " * 1000
GET_ONCE = EndpointSpec(id="get_once", method="GET", path="/x", idempotent=True, retry="none")
GET_RETRIED = EndpointSpec(id="get_retried", method="GET", path="/x", idempotent=True)


@pytest.fixture
def trickles() -> Iterator[list[Trickle]]:
    made: list[Trickle] = []
    yield made
    for trickle in made:
        trickle.stop.set()


def client_for(
    backend: str, base_url: str, make_client: SyncFactory, make_async_client: AsyncFactory
) -> SyncAPIClient | AsyncAPIClient:
    if backend == "sync":
        return make_client(base_url=base_url)
    config = ClientConfig.resolve(
        API_SPEC, base_url=base_url, api_key=API_KEY, http_backend=cast(HTTPBackend, backend)
    )
    return make_async_client(config=config)


async def timed_call(
    client: SyncAPIClient | AsyncAPIClient, spec: EndpointSpec, options: RequestOptions
) -> tuple[BaseException, float]:
    started = time.monotonic()
    try:
        if isinstance(client, SyncAPIClient):
            client.request(spec, dict, options=options)
        else:
            await client.request(spec, dict, options=options)
    except BaseException as exc:
        return exc, time.monotonic() - started
    raise AssertionError("the call returned")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_trickling_body_ends_at_the_call_deadline(
    backend: str,
    raw_server: StartRawServer,
    trickles: list[Trickle],
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    trickle = Trickle(BODY_TRICKLE, fast=len(json_head(length=1000)), interval=0.2)
    trickles.append(trickle)
    server = raw_server(trickle, max_connections=5, lifetime=45)
    client = client_for(backend, server.base_url, make_client, make_async_client)
    # The endpoint retries (3 attempts): the deadline, not the attempts, ends the call.
    err, elapsed = await timed_call(client, GET_RETRIED, RequestOptions(timeout=30.0, deadline=1.0))
    assert isinstance(err, APITimeoutError), repr(err)
    assert elapsed < BOUND
    assert err.status_code == 200  # the status had arrived: it is reported


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_trickling_body_ends_at_the_attempt_timeout(
    backend: str,
    raw_server: StartRawServer,
    trickles: list[Trickle],
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    # No deadline at all: the attempt's timeout is a wall clock for the whole answer too.
    trickle = Trickle(BODY_TRICKLE, fast=len(json_head(length=1000)), interval=0.2)
    trickles.append(trickle)
    server = raw_server(trickle, max_connections=5, lifetime=45)
    client = client_for(backend, server.base_url, make_client, make_async_client)
    err, elapsed = await timed_call(client, GET_ONCE, RequestOptions(timeout=1.0, deadline=None))
    assert isinstance(err, APITimeoutError), repr(err)
    assert elapsed < BOUND


@pytest.mark.parametrize("backend", ["httpx", "pyqwest"])
async def test_a_trickling_head_ends_at_the_call_deadline(
    backend: str,
    raw_server: StartRawServer,
    trickles: list[Trickle],
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    # The status line and headers themselves, a byte at a time (asyncio clients; a synchronous
    # client bounds the head by its per-read timeout only).
    trickle = Trickle(json_head(length=2) + b"{}", interval=0.2)
    trickles.append(trickle)
    server = raw_server(trickle, max_connections=5, lifetime=45)
    client = client_for(backend, server.base_url, make_client, make_async_client)
    err, elapsed = await timed_call(client, GET_RETRIED, RequestOptions(timeout=30.0, deadline=1.0))
    assert isinstance(err, APITimeoutError), repr(err)
    assert elapsed < BOUND


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_state_change_whose_body_trickles_past_the_deadline_was_applied(
    backend: str,
    raw_server: StartRawServer,
    trickles: list[Trickle],
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    trickle = Trickle(BODY_TRICKLE, fast=len(json_head(length=1000)), interval=0.2)
    trickles.append(trickle)
    server = raw_server(trickle, max_connections=5, lifetime=45)
    client = client_for(backend, server.base_url, make_client, make_async_client)
    err, elapsed = await timed_call(
        client, endpoint("create_item"), RequestOptions(timeout=30.0, deadline=1.0)
    )
    # Status first: the 200 arrived, so the server applied it; not resent, not "maybe".
    assert isinstance(err, AmbiguousOutcomeError), repr(err)
    assert getattr(err, "applied", None) is True
    assert isinstance(err, APIConnectionError)
    assert "applied" in str(err)
    assert elapsed < BOUND
    assert server.connections == 1
