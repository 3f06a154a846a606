"""Issue 10, finding 10: the status of an answer is recorded before its body is read.

Before: the body was read before the status was looked at, so an answer whose status line
arrived but whose body was cut off became ``AmbiguousOutcomeError`` even though the status
settled it. Now a cut body after an error status raises that status's typed error (so fallbacks
keyed on it run, and retries keyed on it happen); after a 2xx to a state-changing call the error
says the request was applied (``ResponseLostError``), and a future whose id arrived before the
cut is polled for its result.
"""

from __future__ import annotations

import json
import socket
from typing import Any, cast

import pytest
from sdkgen.runtime import (
    AmbiguousOutcomeError,
    AsyncAPIClient,
    ClientConfig,
    InternalServerError,
    ResponseLostError,
    SyncAPIClient,
    UnprocessableEntityError,
)
from sdkgen.runtime._config import HTTPBackend
from tests.runtime._hostile import json_head
from tests.runtime._support import (
    API_KEY,
    API_SPEC,
    AsyncFactory,
    StartRawServer,
    SyncFactory,
    endpoint,
    read_http_request,
)

BACKENDS = ["httpx", "pyqwest", "sync"]


def client_for(
    backend: str, base_url: str, make_client: SyncFactory, make_async_client: AsyncFactory
) -> SyncAPIClient | AsyncAPIClient:
    if backend == "sync":
        return make_client(base_url=base_url)
    config = ClientConfig.resolve(
        API_SPEC, base_url=base_url, api_key=API_KEY, http_backend=cast(HTTPBackend, backend)
    )
    return make_async_client(config=config)


def cut(status: int, partial: bytes, reason: str = "OK") -> bytes:
    """A head promising 400 bytes, then only ``partial`` of them (the server then hangs up)."""
    return json_head(status, length=400, reason=reason) + partial


class Script:
    """A ``RawServer`` behaviour: answer connection ``i`` with ``answers[i]`` (raw bytes, sent
    as they are before hanging up) and keep every request received."""

    def __init__(self, *answers: bytes) -> None:
        self.answers = answers
        self.requests: list[bytes] = []

    def __call__(self, conn: socket.socket, index: int) -> None:
        self.requests.append(read_http_request(conn))
        conn.sendall(self.answers[index])


def ok(payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body


async def request(client: SyncAPIClient | AsyncAPIClient, endpoint_id: str) -> Any:
    if isinstance(client, SyncAPIClient):
        return client.request(endpoint(endpoint_id), dict, body={})
    return await client.request(endpoint(endpoint_id), dict, body={})


async def submit_and_wait(client: SyncAPIClient | AsyncAPIClient) -> tuple[str, Any]:
    if isinstance(client, SyncAPIClient):
        handle = client.submit(endpoint("submit_job"), dict, dict, body={})
        return handle.request_id, handle.result(timeout=20)
    ahandle = await client.submit(endpoint("submit_job"), dict, dict, body={})
    return ahandle.request_id, await ahandle.result(timeout=20)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_cut_off_4xx_is_that_status_error(
    backend: str,
    raw_server: StartRawServer,
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    script = Script(cut(422, b'{"detail": "no such', "Unprocessable Entity"))
    server = raw_server(script, max_connections=2)
    client = client_for(backend, server.base_url, make_client, make_async_client)
    with pytest.raises(UnprocessableEntityError) as info:
        await request(client, "create_item")  # a state change: once ambiguous
    assert info.value.status_code == 422
    assert "cut off" in str(info.value)
    assert len(script.requests) == 1  # a 422 is not retried


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_cut_off_5xx_is_retried_as_a_5xx(
    backend: str,
    raw_server: StartRawServer,
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    script = Script(cut(503, b'{"detail": "overlo', "Service Unavailable"), ok({"id": "1"}))
    server = raw_server(script, max_connections=2)
    client = client_for(backend, server.base_url, make_client, make_async_client)
    assert await request(client, "create_item") == {"id": "1"}
    assert len(script.requests) == 2


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_cut_off_5xx_without_retries_says_its_status(
    backend: str,
    raw_server: StartRawServer,
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    script = Script(cut(500, b"{", "Internal Server Error"))
    server = raw_server(script, max_connections=1)
    client = client_for(backend, server.base_url, make_client, make_async_client)
    with pytest.raises(InternalServerError) as info:
        await request(client, "ping")  # no retries
    assert info.value.status_code == 500


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_future_whose_id_arrived_before_the_cut_is_polled_for(
    backend: str,
    raw_server: StartRawServer,
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    script = Script(cut(200, b'{"request_id": "job-7", "model_id": "m'), ok({"value": 42}))
    server = raw_server(script, max_connections=2)
    client = client_for(backend, server.base_url, make_client, make_async_client)
    request_id, result = await submit_and_wait(client)
    assert request_id == "job-7"
    assert result == {"value": 42}
    assert len(script.requests) == 2
    assert script.requests[0].startswith(b"POST /jobs ")  # sent once, never resent
    poll = script.requests[1]
    assert poll.startswith(b"POST /futures/retrieve ")
    assert b'"request_id":"job-7"' in poll


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_2xx_cut_before_the_id_says_the_request_was_applied(
    backend: str,
    raw_server: StartRawServer,
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    script = Script(cut(200, b'{"request_id": "job-'))
    server = raw_server(script, max_connections=2)
    client = client_for(backend, server.base_url, make_client, make_async_client)
    with pytest.raises(ResponseLostError) as info:
        await submit_and_wait(client)
    err = info.value
    assert err.applied is True
    assert err.future_id is None
    assert err.status_code == 200
    assert isinstance(err, AmbiguousOutcomeError)  # handlers of lost answers still see it
    assert not err.retryable
    text = str(err)
    assert "applied the request" in text
    assert "may or may not" not in text
    assert len(script.requests) == 1  # not resent
