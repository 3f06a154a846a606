"""Server-sent-event streams: typed events, errors, and hanging up."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from pydantic import BaseModel
from pytest_httpx import HTTPXMock, IteratorStream
from sdkgen.runtime import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AsyncStream,
    InternalServerError,
    NotFoundError,
    Stream,
)
from tests.runtime._support import (
    AsyncFactory,
    AsyncTestClient,
    StartHTTPServer,
    StartRawServer,
    SyncFactory,
    SyncTestClient,
    TrackingStream,
    endpoint,
    read_http_request,
    url,
)

EVENTS_URL = url("/events")
SSE_HEADERS = {"content-type": "text/event-stream"}


class Delta(BaseModel):
    index: int
    text: str


def frame(index: int) -> bytes:
    return f"data: {json.dumps({'index': index, 'text': f't{index}'})}\n\n".encode()


# An event split across chunks, a comment line (keep-alive) and an empty message in between.
CHUNKS = [
    frame(0),
    b'data: {"index": 1, ',
    b'"text": "t1"}\n',
    b"\n: keep-alive\n\n",
    b"data:\n\n",
    frame(2) + frame(3),
]


def drain(stream: Stream[Delta], into: list[int]) -> None:
    """Iterate a stream to its end (or its error), noting each event's index."""
    for event in stream:
        into.append(event.index)


async def adrain(stream: AsyncStream[Delta], into: list[int]) -> None:
    async for event in stream:
        into.append(event.index)


def open_stream(client: SyncTestClient) -> Stream[Delta]:
    return client.stream(endpoint("events"), Delta, body={"prompt": "hi"})


async def aopen_stream(client: AsyncTestClient) -> AsyncStream[Delta]:
    return await client.stream(endpoint("events"), Delta, body={"prompt": "hi"})


# -- sync, mocked ------------------------------------------------------------------------------


def test_typed_events_in_order_from_chunks(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=EVENTS_URL, stream=IteratorStream(CHUNKS), headers=SSE_HEADERS)
    with open_stream(client) as stream:
        events = list(stream)
    assert events == [Delta(index=i, text=f"t{i}") for i in range(4)]
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Accept"] == "text/event-stream"
    assert json.loads(request.content) == {"prompt": "hi"}


@pytest.mark.parametrize(("status", "cls"), [(404, NotFoundError), (503, InternalServerError)])
def test_error_status_raises_the_typed_status_error(
    client: SyncTestClient, httpx_mock: HTTPXMock, status: int, cls: type[APIStatusError]
) -> None:
    body = TrackingStream([b'{"detail": "no such model"}'])
    httpx_mock.add_response(
        url=EVENTS_URL,
        status_code=status,
        stream=body,
        headers={"content-type": "application/json"},
    )
    with pytest.raises(cls) as info:
        open_stream(client)
    assert type(info.value) is cls
    assert "no such model" in str(info.value)
    assert "events" in str(info.value)
    assert body.closed


def test_error_frame_raises_api_error(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    body = TrackingStream(
        [frame(0), b'event: error\ndata: {"message": "model crashed"}\n\n', frame(1)]
    )
    httpx_mock.add_response(url=EVENTS_URL, stream=body, headers=SSE_HEADERS)
    received: list[int] = []
    with pytest.raises(APIError, match="model crashed") as info:
        drain(open_stream(client), received)
    assert received == [0]
    assert not isinstance(info.value, APIResponseValidationError)
    assert info.value.body == {"message": "model crashed"}
    assert body.closed


def test_error_frame_with_plain_text(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=EVENTS_URL,
        stream=IteratorStream([b"event: error\ndata: overloaded\n\n"]),
        headers=SSE_HEADERS,
    )
    with pytest.raises(APIError, match="overloaded"):
        list(open_stream(client))


def test_wrong_content_type_is_a_validation_error_and_hangs_up(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    body = TrackingStream([b'{"index": 0}'])
    httpx_mock.add_response(
        url=EVENTS_URL, stream=body, headers={"content-type": "application/json"}
    )
    with pytest.raises(
        APIResponseValidationError, match="expected an event stream, got application/json"
    ):
        open_stream(client)
    assert body.closed


def test_event_not_matching_its_type_names_the_field(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        url=EVENTS_URL,
        stream=IteratorStream([b'data: {"index": "zero", "text": "x"}\n\n']),
        headers=SSE_HEADERS,
    )
    with pytest.raises(APIResponseValidationError, match="field `index`"):
        list(open_stream(client))


def test_breaking_out_early_closes_the_response(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    body = TrackingStream([frame(i) for i in range(50)])
    httpx_mock.add_response(url=EVENTS_URL, stream=body, headers=SSE_HEADERS)
    stream = open_stream(client)
    received = []
    for event in stream:
        received.append(event.index)
        if event.index == 1:
            break
    assert received == [0, 1]
    assert body.closed
    assert body.chunks_sent < 50
    assert stream.response.is_closed


def test_close_without_iterating(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    body = TrackingStream([frame(0)])
    httpx_mock.add_response(url=EVENTS_URL, stream=body, headers=SSE_HEADERS)
    with open_stream(client):
        pass
    assert body.closed


def test_unknown_stream_arguments_are_refused(client: SyncTestClient) -> None:
    with pytest.raises(TypeError, match="prompt"):
        client.stream(endpoint("events"), Delta, prompt="hi")


# -- async, mocked -----------------------------------------------------------------------------


async def test_async_typed_events_in_order(aclient: AsyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=EVENTS_URL, stream=IteratorStream(CHUNKS), headers=SSE_HEADERS)
    async with await aopen_stream(aclient) as stream:
        events = [event async for event in stream]
    assert [e.index for e in events] == [0, 1, 2, 3]


async def test_async_error_status(aclient: AsyncTestClient, httpx_mock: HTTPXMock) -> None:
    body = TrackingStream([b'{"message": "gone fishing"}'])
    httpx_mock.add_response(url=EVENTS_URL, status_code=500, stream=body)
    with pytest.raises(InternalServerError, match="gone fishing"):
        await aopen_stream(aclient)
    assert body.closed


async def test_async_error_frame(aclient: AsyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=EVENTS_URL,
        stream=IteratorStream([frame(0), b'event: error\ndata: {"message": "boom"}\n\n']),
        headers=SSE_HEADERS,
    )
    stream = await aopen_stream(aclient)
    received: list[int] = []
    with pytest.raises(APIError, match="boom"):
        await adrain(stream, received)
    assert received == [0]


async def test_async_wrong_content_type(aclient: AsyncTestClient, httpx_mock: HTTPXMock) -> None:
    body = TrackingStream([b"<html></html>"])
    httpx_mock.add_response(url=EVENTS_URL, stream=body, headers={"content-type": "text/html"})
    with pytest.raises(APIResponseValidationError, match="text/html"):
        await aopen_stream(aclient)
    assert body.closed


async def test_async_break_inside_context_closes(
    aclient: AsyncTestClient, httpx_mock: HTTPXMock
) -> None:
    body = TrackingStream([frame(i) for i in range(50)])
    httpx_mock.add_response(url=EVENTS_URL, stream=body, headers=SSE_HEADERS)
    async with await aopen_stream(aclient) as stream:
        async for event in stream:
            if event.index == 2:
                break
    assert body.closed
    assert body.chunks_sent < 50


async def test_async_break_without_context_closes_soon(
    aclient: AsyncTestClient, httpx_mock: HTTPXMock
) -> None:
    body = TrackingStream([frame(i) for i in range(50)])
    httpx_mock.add_response(url=EVENTS_URL, stream=body, headers=SSE_HEADERS)
    stream = await aopen_stream(aclient)
    async for event in stream:
        if event.index == 0:
            break
    # The abandoned async generator is finalised by the event loop, which closes the response.
    for _ in range(200):
        if body.closed:
            break
        await asyncio.sleep(0.005)
    assert body.closed


# -- real server -------------------------------------------------------------------------------


class SSEServerState:
    def __init__(self) -> None:
        self.hung_up = threading.Event()
        self.finished = threading.Event()
        self.sent = 0


def sse_handler(state: SSEServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                for i in range(400):  # at most ~4 s, then the server gives up on its own
                    self.wfile.write(frame(i))
                    state.sent += 1
                    time.sleep(0.01)
            except OSError:  # BrokenPipeError / ConnectionResetError: the client hung up
                state.hung_up.set()
                return
            state.finished.set()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def test_real_server_sees_the_client_hang_up(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    state = SSEServerState()
    server = http_server(sse_handler(state))
    client = make_client(base_url=server.base_url)
    received = []
    for event in open_stream(client):
        received.append(event.index)
        if len(received) == 2:
            break
    assert received == [0, 1]
    assert state.hung_up.wait(5), "the server never saw the client close the connection"
    assert not state.finished.is_set()


async def test_async_real_server_sees_the_client_hang_up(
    make_async_client: AsyncFactory,
    http_server: StartHTTPServer,
) -> None:
    state = SSEServerState()
    server = http_server(sse_handler(state))
    client = make_async_client(base_url=server.base_url)
    received = []
    async with await aopen_stream(client) as stream:
        async for event in stream:
            received.append(event.index)
            if len(received) == 3:
                break
    assert received == [0, 1, 2]
    assert await asyncio.to_thread(state.hung_up.wait, 5)
    assert not state.finished.is_set()


def test_stream_cut_off_mid_way_raises_connection_error(
    make_client: SyncFactory, raw_server: StartRawServer
) -> None:
    def behaviour(conn: socket.socket, _index: int) -> None:
        read_http_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        data = frame(0)
        conn.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        conn.sendall(b'40\r\ndata: {"index"')  # a chunk promised 64 bytes; the server dies

    server = raw_server(behaviour, max_connections=1)
    client = make_client(base_url=server.base_url)
    received: list[int] = []
    with pytest.raises(APIConnectionError, match="broke off") as info:
        drain(open_stream(client), received)
    assert received == [0]
    assert info.value.__cause__ is not None
