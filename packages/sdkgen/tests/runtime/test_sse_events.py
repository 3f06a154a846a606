"""Named server-sent events: which names carry which data, end the stream, or are skipped; the
event's name and id on what the stream yields (issue 11, point 3)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, cast

import pytest
from pydantic import BaseModel
from pytest_httpx import HTTPXMock, IteratorStream
from sdkgen.runtime import (
    APIError,
    APIResponseValidationError,
    AsyncStream,
    EventRoutes,
    RequestOptions,
    ServerEvent,
    Stream,
)
from tests.runtime._support import (
    AsyncFactory,
    AsyncTestClient,
    StartHTTPServer,
    SyncFactory,
    SyncTestClient,
    endpoint,
    url,
)

SSE_HEADERS = {"content-type": "text/event-stream"}


class Delta(BaseModel):
    index: int
    text: str


class Usage(BaseModel):
    tokens: int


def delta(index: int, *, event: str | None = None, event_id: str | None = None) -> bytes:
    lines = [f"event: {event}"] if event else []
    lines += [f"id: {event_id}"] if event_id else []
    lines.append(f"data: {json.dumps({'index': index, 'text': f't{index}'})}")
    return ("\n".join(lines) + "\n\n").encode()


# An unnamed delta with an id, a ping, a named `usage` event, a delta without an id (it keeps
# the last one), then `done`: its data is no Delta, and it ends the stream.
BODY = [
    delta(0, event_id="e1"),
    b"event: ping\ndata: {}\n\n",
    b'event: usage\nid: e2\ndata: {"tokens": 7}\n\n',
    delta(1),
    b'event: done\ndata: "[DONE]"\n\n',
]
ROUTES = EventRoutes(Delta, events={"usage": Usage}, end=("done",), ignore=("ping",))


def open_stream(client: SyncTestClient, routes: Any = ROUTES, **kwargs: Any) -> Stream[Any]:
    return client.stream(endpoint("events"), cast(Any, routes), body={}, **kwargs)


async def aopen_stream(
    client: AsyncTestClient, routes: Any = ROUTES, **kwargs: Any
) -> AsyncStream[Any]:
    return await client.stream(endpoint("events"), cast(Any, routes), body={}, **kwargs)


@dataclass
class ServerState:
    """What the server saw: the Last-Event-ID it was sent, and whether the client hung up."""

    last_event_ids: list[str | None] = field(default_factory=list)
    hung_up: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


def handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.last_event_ids.append(self.headers.get("Last-Event-ID"))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                self.wfile.write(b"".join(BODY))
                self.wfile.flush()
                # After `done` the server keeps talking: only the client's hang-up stops it.
                for i in range(400):  # at most ~4 s, then the server gives up on its own
                    self.wfile.write(delta(100 + i))
                    self.wfile.flush()
                    time.sleep(0.01)
            except OSError:  # the client hung up
                state.hung_up.set()
                return
            state.finished.set()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def test_routes_decode_named_events_skip_pings_and_end_the_stream(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    state = ServerState()
    client = make_client(base_url=http_server(handler(state)).base_url)
    with open_stream(client) as stream:
        received = list(stream.events())
    assert [(e.name, e.id, e.data) for e in received] == [
        ("message", "e1", Delta(index=0, text="t0")),
        ("usage", "e2", Usage(tokens=7)),
        ("message", "e2", Delta(index=1, text="t1")),
    ]
    assert all(isinstance(e, ServerEvent) for e in received)
    assert stream.last_event_id == "e2"
    assert stream.last_event_name == "done"
    # `done` ended the stream: the client hung up although the server had more to say.
    assert state.hung_up.wait(5), "the client did not hang up after the end event"
    assert not state.finished.is_set()


def test_iterating_yields_the_data_and_resumes_with_last_event_id(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    state = ServerState()
    client = make_client(base_url=http_server(handler(state)).base_url)
    stream = open_stream(client)
    assert [type(d).__name__ for d in stream] == ["Delta", "Usage", "Delta"]
    resume = RequestOptions(extra_headers={"Last-Event-ID": stream.last_event_id or ""})
    resumed = open_stream(client, options=resume)
    resumed.close()
    assert state.last_event_ids == [None, "e2"]


async def test_async_routes_and_event_ids(
    make_async_client: AsyncFactory, http_server: StartHTTPServer
) -> None:
    state = ServerState()
    client = make_async_client(base_url=http_server(handler(state)).base_url)
    async with await aopen_stream(client) as stream:
        names = [(e.name, e.id) async for e in stream.events()]
    assert names == [("message", "e1"), ("usage", "e2"), ("message", "e2")]
    assert await asyncio.to_thread(state.hung_up.wait, 5)
    data = [d async for d in await aopen_stream(client)]
    assert data == [Delta(index=0, text="t0"), Usage(tokens=7), Delta(index=1, text="t1")]


def test_a_plain_type_validates_every_named_event_as_before(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    """Without routes, `done` is data (the behaviour before routes): its data is no Delta."""
    httpx_mock.add_response(url=url("/events"), headers=SSE_HEADERS, stream=IteratorStream(BODY))
    with pytest.raises(APIResponseValidationError, match="stream event `ping`"):
        list(open_stream(client, Delta))


@pytest.mark.parametrize(
    ("unknown", "expected"),
    [("ignore", [0, 1]), ("error", None), ("data", None)],
)
def test_an_unlisted_event_name(
    client: SyncTestClient, httpx_mock: HTTPXMock, unknown: Any, expected: list[int] | None
) -> None:
    httpx_mock.add_response(
        url=url("/events"),
        headers=SSE_HEADERS,
        stream=IteratorStream([delta(0), b'event: novel\ndata: {"x": 1}\n\n', delta(1)]),
    )
    routes = EventRoutes(Delta, unknown=unknown)
    if expected is None:
        # `error`: refused by name; `data`: validated as Delta, which it is not.
        with pytest.raises(APIResponseValidationError, match="`novel`"):
            list(open_stream(client, routes))
    else:
        assert [d.index for d in open_stream(client, routes)] == expected


def test_named_events_only(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    """No type for unnamed events: such a stream's unlisted names are skipped by default."""
    httpx_mock.add_response(
        url=url("/events"),
        headers=SSE_HEADERS,
        stream=IteratorStream([delta(0, event="delta"), b"data: stray\n\n", delta(1, event="x")]),
    )
    routes = EventRoutes(events={"delta": Delta}, unknown="ignore")
    assert [d.index for d in open_stream(client, routes)] == [0]


def test_an_error_event_still_raises_whatever_the_routes(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        url=url("/events"),
        headers=SSE_HEADERS,
        stream=IteratorStream([delta(0), b'event: error\ndata: {"message": "boom"}\n\n']),
    )
    routes = EventRoutes(Delta, ignore=("ping",), unknown="ignore")
    with pytest.raises(APIError, match="boom"):
        list(open_stream(client, routes))


def test_routes_need_a_type_for_unlisted_data() -> None:
    with pytest.raises(ValueError, match="unknown='data' needs a default type"):
        EventRoutes(events={"delta": Delta})
