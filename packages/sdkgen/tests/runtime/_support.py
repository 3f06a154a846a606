"""A tiny, self-contained API described with the runtime's own spec types.

The runtime tests use this instead of any real manifest so they keep working whatever a
manifest says. It has one endpoint per runtime feature under test.
"""

from __future__ import annotations

import dataclasses
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
from sdkgen.runtime import (
    APISpec,
    AsyncAPIClient,
    AuthSpec,
    EndpointSpec,
    FuturesSpec,
    PaginateSpec,
    PoolSpec,
    RetryPolicy,
    SyncAPIClient,
)

BASE_URL = "https://api.example.test/v1"
API_KEY = "sk-test-7f3a9c1e5b2d4f60-SECRET"
ENV_NAMES = {
    "base_url": "TESTAPI_BASE_URL",
    "timeout": "TESTAPI_TIMEOUT",
    "max_retries": "TESTAPI_MAX_RETRIES",
}
API_KEY_ENV = "TESTAPI_API_KEY"

# Tiny delays so that retrying tests stay fast; a generous deadline so only tests about the
# deadline ever hit it.
FAST = RetryPolicy(
    max_retries=2,
    initial_delay=0.001,
    max_delay=0.004,
    jitter=0.25,
    deadline=30.0,
    retry_after_cap=5.0,
)
NO_RETRY = dataclasses.replace(FAST, max_retries=0, deadline=None)
ONLY_503 = dataclasses.replace(FAST, retry_statuses=(503,))
NO_CONN_RETRY = dataclasses.replace(FAST, retry_connection_errors=False)

API_SPEC = APISpec(
    name="testapi",
    title="Test API",
    version="1.0.0",
    base_url=BASE_URL,
    auth=AuthSpec(header="X-API-Key", env=API_KEY_ENV, scheme="raw"),
    env=ENV_NAMES,
    default_headers={"X-Client-Name": "runtime-tests"},
    timeout=30.0,
    connect_timeout=5.0,
    idempotency_header="Idempotency-Key",
    retry_count_header="X-Retry-Count",
    request_id_headers=("x-request-id", "request-id"),
    retry_policies={
        "default": FAST,
        "none": NO_RETRY,
        "only503": ONLY_503,
        "noconn": NO_CONN_RETRY,
    },
    pools={
        "default": PoolSpec(),
        "bulk": PoolSpec(max_connections=2, max_keepalive=1),
    },
    futures=FuturesSpec(
        poll_endpoint="retrieve_future",
        queue_state_field="queue_state",
        queue_state_reason_field="queue_state_reason",
        queue_state_active="active",
        max_backoff=0.001,
        poll_interval=0.0,  # poll again at once: these tests count polls, not waits
    ),
    user_agent="testsdk/1.0",
)


def _endpoints(*specs: EndpointSpec) -> dict[str, EndpointSpec]:
    return {spec.id: spec for spec in specs}


ENDPOINTS: Mapping[str, EndpointSpec] = _endpoints(
    EndpointSpec(
        id="get_item",
        method="GET",
        path="/items/{item_id}",
        path_params=("item_id",),
        idempotent=True,
    ),
    EndpointSpec(id="create_item", method="POST", path="/items", body="json"),
    EndpointSpec(
        id="update_item",
        method="PUT",
        path="/items/{item_id}",
        path_params=("item_id",),
        body="json",
        idempotent=True,
    ),
    EndpointSpec(
        id="get_file",
        method="GET",
        path="/files/{file_path}/meta",
        path_params=("file_path",),
        slash_params=("file_path",),
    ),
    EndpointSpec(id="search", method="GET", path="/search"),
    EndpointSpec(id="ping", method="POST", path="/ping", body="json", retry="none"),
    EndpointSpec(id="only503", method="POST", path="/only503", body="json", retry="only503"),
    EndpointSpec(id="noconn", method="POST", path="/noconn", body="json", retry="noconn"),
    EndpointSpec(
        id="upload_zstd",
        method="POST",
        path="/upload/zstd",
        body="raw",
        content_type="application/octet-stream",
        compress="zstd",
    ),
    EndpointSpec(
        id="upload_gzip",
        method="POST",
        path="/upload/gzip",
        body="raw",
        content_type="application/octet-stream",
        compress="gzip",
    ),
    EndpointSpec(
        id="with_secret",
        method="POST",
        path="/secret",
        body="json",
        headers={"X-Endpoint": "secret"},
        secret_headers=("X-Upstream-Token",),
    ),
    EndpointSpec(id="submit_job", method="POST", path="/jobs", body="json", future=True),
    EndpointSpec(
        id="retrieve_future",
        method="POST",
        path="/futures/retrieve",
        body="json",
        retry="none",
    ),
    EndpointSpec(
        id="events",
        method="POST",
        path="/events",
        body="json",
        accept="text/event-stream",
        stream="sse",
        retry="none",
    ),
    EndpointSpec(id="bulk_op", method="POST", path="/bulk", body="json", pool="bulk"),
    EndpointSpec(
        id="old_thing",
        method="GET",
        path="/old",
        deprecated="use get_item instead",
    ),
    EndpointSpec(
        id="list_items",
        method="GET",
        path="/items",
        paginate=PaginateSpec(items="items", limit="limit", offset="offset", total="total"),
    ),
)


def endpoint(endpoint_id: str) -> EndpointSpec:
    return ENDPOINTS[endpoint_id]


def url(path: str) -> str:
    return BASE_URL + path


class SyncTestClient(SyncAPIClient):
    api: ClassVar[APISpec] = API_SPEC
    endpoints: ClassVar[Mapping[str, EndpointSpec]] = ENDPOINTS


class AsyncTestClient(AsyncAPIClient):
    api: ClassVar[APISpec] = API_SPEC
    endpoints: ClassVar[Mapping[str, EndpointSpec]] = ENDPOINTS


def sync_client_class(api: APISpec) -> type[SyncTestClient]:
    """A client class for a variant of the test API (e.g. other futures settings)."""
    return type("VariantSyncClient", (SyncTestClient,), {"api": api})


def async_client_class(api: APISpec) -> type[AsyncTestClient]:
    return type("VariantAsyncClient", (AsyncTestClient,), {"api": api})


class TrackingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body in chunks that records whether the client closed it."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = list(chunks)
        self.closed = False
        self.chunks_sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.chunks_sent += 1
            yield chunk

    async def __aiter__(self) -> Any:
        for chunk in self._chunks:
            self.chunks_sent += 1
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


# -- real servers on 127.0.0.1 ---------------------------------------------------------------


class _BoundedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    max_connections = 50

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.accepted = getattr(self, "accepted", 0) + 1
        return self.accepted <= self.max_connections


class HTTPServerThread:
    """A stdlib ``ThreadingHTTPServer`` on 127.0.0.1, port 0, served from a daemon thread.

    Bounded: it refuses connections after ``max_connections`` and shuts itself down after
    ``lifetime`` seconds even if the test never stops it.
    """

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        max_connections: int = 50,
        lifetime: float = 30.0,
    ) -> None:
        self.server = _BoundedHTTPServer(("127.0.0.1", 0), handler)
        self.server.max_connections = max_connections
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self._timer = threading.Timer(lifetime, self.server.shutdown)
        self._timer.daemon = True
        self._timer.start()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self._timer.cancel()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


ConnectionBehaviour = Callable[[socket.socket, int], None]


class RawServer:
    """A raw TCP server on 127.0.0.1 that handles at most ``max_connections`` connections.

    Each accepted connection is handed to ``behaviour(conn, index)`` (index from 0), one at a
    time, then closed. The server stops itself after the last connection, after ``lifetime``
    seconds, or on ``stop()``.
    """

    def __init__(
        self, behaviour: ConnectionBehaviour, *, max_connections: int, lifetime: float = 30.0
    ) -> None:
        self._behaviour = behaviour
        self._max = max_connections
        self._stop_at = time.monotonic() + lifetime
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self.connections = 0
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def _run(self) -> None:
        try:
            while (
                not self._stop.is_set()
                and self.connections < self._max
                and time.monotonic() < self._stop_at
            ):
                try:
                    conn, _ = self._sock.accept()
                except TimeoutError:
                    continue
                index = self.connections
                self.connections += 1
                with conn:
                    conn.settimeout(5.0)
                    try:
                        self._behaviour(conn, index)
                    except OSError as exc:  # the client hung up first: fine, but recorded
                        self.errors.append(exc)
        finally:
            self._sock.close()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)


def read_http_request(conn: socket.socket) -> bytes:
    """Read one HTTP/1.1 request (head and Content-Length body) from a raw connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def send_json_response(conn: socket.socket, status: int, payload: bytes) -> None:
    conn.sendall(
        f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
        + payload
    )


def reset_connection(conn: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer gets a TCP RST instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def all_text(values: Iterable[object]) -> str:
    """One string holding the repr of everything given (to search it for a secret)."""
    return "\n".join(repr(v) for v in values)


# Types of the factory fixtures in conftest.py.
SyncFactory = Callable[..., SyncTestClient]
AsyncFactory = Callable[..., AsyncTestClient]
StartHTTPServer = Callable[..., HTTPServerThread]
StartRawServer = Callable[..., RawServer]
