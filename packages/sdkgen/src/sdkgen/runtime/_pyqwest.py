"""An httpx transport that sends through pyqwest (reqwest, a Rust HTTP client, on tokio).

Everything above the transport (retries, timeouts, error mapping, streams) stays httpx: the pool's
``httpx.AsyncClient`` builds the request and reads the response, and this transport only moves
the bytes. It keeps the contract the rest of the runtime relies on:

* timeouts come from each request's ``httpx.Timeout`` (``request.extensions["timeout"]``): the
  response head must arrive within ``read`` (connecting and sending included: reqwest has no
  per-request phase timeouts), and after it every body chunk within ``read`` (httpx's read
  timeout is per read too, so a long event stream that keeps sending is never cut). A timeout
  that expires while a new connection is still being opened is therefore reported as a read
  timeout (the request may have been sent), where httpx would say connect timeout;
* every failure is one of httpx's exception classes, chosen by what it says about delivery:
  ``ConnectError`` / ``ConnectTimeout`` only when no connection was made (nothing was sent);
  anything later is ``ReadError``, ``ReadTimeout`` or ``RemoteProtocolError`` (the request may
  have arrived). pyqwest's own ``WriteError`` is *not* mapped to ``httpx.WriteError``: reqwest
  also reports a connection the server reset after reading the whole request as a write error,
  so it is not proof that nothing arrived;
* bodies are passed through undecoded (httpx decodes ``Content-Encoding``) and redirects are
  returned, not followed (the client decides).

pyqwest is imported only when a pool is built on it (``import pyqwest`` costs ~30 ms).

Example::

    transport = PyqwestTransport(max_connections=100, max_keepalive=20)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get("http://127.0.0.1:8000/health")
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import importlib.util
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import pyqwest

__all__ = ["PyqwestTransport", "pyqwest_available"]

# Headers the transport manages itself (hop-by-hop); forwarding them would confuse reqwest.
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)


@functools.cache
def pyqwest_available() -> bool:
    """True when the ``pyqwest`` package can be imported (checked once, without importing it).

    Example::

        backend = "pyqwest" if pyqwest_available() else "httpx"
    """
    return importlib.util.find_spec("pyqwest") is not None


@functools.cache
def _ca_bundle() -> bytes:
    """The CA certificates httpx trusts (certifi, or ``SSL_CERT_FILE``), for reqwest; the system
    store is added on top, as the reference SDK does. Read once: the bundle is ~300 KB."""
    import certifi  # httpx's own dependency

    for path in (os.environ.get("SSL_CERT_FILE"), certifi.where()):
        if path and os.path.isfile(path):
            with open(path, "rb") as fh:
                return fh.read()
    return b""


class _Inflight:
    """Requests in flight on every pyqwest transport of the process, for the exit guard.

    On Linux with Python < 3.14, a tokio thread that hands a result to Python while the
    interpreter finalizes is killed with ``pthread_exit``, which cannot unwind Rust frames: the
    process aborts (SIGABRT) instead of exiting. Right after the last response the handing-over
    thread may still be inside ``call_soon_threadsafe``; at exit we give such threads a moment.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.last = 0.0
        self.registered = False

    def enter(self) -> None:
        with self.lock:
            self.count += 1
            if not self.registered:
                self.registered = True
                atexit.register(self.settle)

    def leave(self) -> None:
        with self.lock:
            self.count -= 1
            self.last = time.monotonic()

    def settle(self, limit: float = 0.25, grace: float = 0.02) -> None:
        # Wait (bounded) for requests still running on daemon threads, then let the tokio
        # threads that just delivered results leave Python before finalization starts.
        deadline = time.monotonic() + limit
        while self.count > 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(grace)


_INFLIGHT = _Inflight()


def _operation_timeouts(request: httpx.Request) -> tuple[float | None, float | None]:
    """(time allowed until the response head, time allowed between body chunks)."""
    timeout: dict[str, float | None] = request.extensions.get("timeout") or {}
    read = timeout.get("read")
    # The head within one read timeout, as httpx waits for it (reqwest has no per-request phase
    # timeouts): a server slower than the timeout must time out at the timeout, or a caller's
    # timeouts and resends would stretch. Connecting and sending count against it too, which
    # httpx times apart; connects are also bounded by the transport's own connect_timeout.
    return read, read  # None (httpx: no limit) for both


def map_error(exc: BaseException, request: httpx.Request | None = None) -> BaseException:
    """The httpx exception for a pyqwest (or timeout) failure; others are returned unchanged.

    Example::

        try:
            ...
        except Exception as exc:
            raise map_error(exc, request) from exc
    """
    import pyqwest

    if isinstance(exc, httpx.HTTPError):
        return exc
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, ConnectionError):  # reqwest's connect phase: nothing was sent
        if isinstance(exc, TimeoutError):
            return httpx.ConnectTimeout(detail, request=request)
        return httpx.ConnectError(detail, request=request)
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(detail if str(exc) else "timed out", request=request)
    if isinstance(exc, pyqwest.RemoteProtocolError):  # StreamError (HTTP/2 reset) included
        return httpx.RemoteProtocolError(detail, request=request)
    if isinstance(exc, pyqwest.WriteError):
        return httpx.ReadError(
            f"write failed (the server may have the request): {detail}", request=request
        )
    if isinstance(exc, pyqwest.ReadError):
        return httpx.ReadError(detail, request=request)
    if isinstance(exc, pyqwest.TooManyRedirects):
        return httpx.TooManyRedirects(detail, request=request)
    if isinstance(exc, ValueError):  # the request was refused before anything was sent
        return httpx.LocalProtocolError(detail, request=request)
    return exc


class _ResponseStream(httpx.AsyncByteStream):
    """The response body, chunk by chunk, each within the read timeout."""

    def __init__(
        self,
        response: pyqwest.Response,
        request: httpx.Request,
        read: float | None,
        length: int | None = None,
    ) -> None:
        self._response = response
        self._request = request
        self._read = read
        self._length = length
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        left = self._length
        try:
            while left is None or left > 0:
                if self._read is None:
                    chunk = await anext(content)
                else:
                    async with asyncio.timeout(self._read):
                        chunk = await anext(content)
                if left is not None:
                    # With the declared length in, the body is complete: reqwest has already
                    # given the connection back, and awaiting its end-of-body would cost one more
                    # round trip through tokio per response.
                    left -= len(chunk)
                yield bytes(chunk)
        except StopAsyncIteration:
            return
        except Exception as exc:
            mapped = map_error(exc, self._request)
            if mapped is exc:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                await self._response.aclose()
            finally:
                _INFLIGHT.leave()


class PyqwestTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` on a pyqwest ``HTTPTransport`` (one connection pool).

    ``max_connections`` caps open connections per server address, ``max_keepalive`` the idle
    ones kept, each for at most ``keepalive_expiry`` seconds; ``connect_timeout`` bounds each
    connection attempt. TLS trusts httpx's CA bundle and the system store.

    Example::

        client = httpx.AsyncClient(transport=PyqwestTransport(max_connections=1000))
    """

    def __init__(
        self,
        *,
        max_connections: int | None = 100,
        max_keepalive: int | None = 20,
        keepalive_expiry: float = 4.0,
        connect_timeout: float | None = 5.0,
    ) -> None:
        import pyqwest

        self._transport = pyqwest.HTTPTransport(
            tls_ca_cert=_ca_bundle() or None,
            tls_include_system_certs=True,
            connect_timeout=connect_timeout,
            pool_idle_timeout=keepalive_expiry,
            pool_max_idle_per_host=max_keepalive,
            max_connections_per_address=max_connections,
            # httpx decodes bodies and follows (or returns) redirects itself, as it would on
            # its own transport; decoding twice or following behind its back would break both.
            enable_gzip=False,
            enable_brotli=False,
            enable_zstd=False,
            follow_redirects=False,
            # The runtime makes its own spans per call; a second layer per request would cost
            # time and duplicate them.
            enable_otel=False,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import pyqwest

        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{request.url.scheme}://'.",
                request=request,
            )
        head, read = _operation_timeouts(request)
        try:
            outgoing = pyqwest.Request(
                request.method,
                str(request.url),
                headers=_headers(request),
                content=_content(request.stream),
            )
        except ValueError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        _INFLIGHT.enter()
        try:
            async with asyncio.timeout(head):
                response = await self._transport.execute(outgoing)
        except BaseException as exc:
            _INFLIGHT.leave()
            mapped = map_error(exc, request)
            if mapped is exc:
                raise
            raise mapped from exc
        headers = list(response.headers.items())
        return httpx.Response(
            status_code=response.status,
            headers=headers,
            stream=_ResponseStream(response, request, read, _body_length(request, headers)),
            extensions={"http_version": str(response.http_version).encode("ascii")},
        )

    async def aclose(self) -> None:
        await self._transport.aclose()


def _body_length(request: httpx.Request, headers: list[tuple[str, str]]) -> int | None:
    """The body's length when the head states it unambiguously (one ``Content-Length``, no
    ``Transfer-Encoding``), else ``None``: read to the end of the body. A HEAD answer states the
    length of a body it does not carry: read to its (immediate) end too."""
    if request.method == "HEAD":
        return None
    length: int | None = None
    for name, value in headers:
        lower = name.lower()
        if lower == "transfer-encoding":
            return None
        if lower == "content-length":
            if length is not None or not value.isdigit():
                return None  # repeated or malformed: reqwest decides, read to the end
            length = int(value)
    return length


def _headers(request: httpx.Request) -> pyqwest.Headers:
    import pyqwest

    # reqwest derives Host (HTTP/1) or :authority (HTTP/2, where a literal host header is
    # refused by some servers) from the URL; forward it only when the caller changed it.
    url_host = request.url.netloc.decode("ascii").lower()
    items = [
        (name, value)
        for name, value in request.headers.multi_items()
        if not (
            (lower := name.lower()) in _HOP_HEADERS
            or (lower == "host" and value.lower() == url_host)
        )
    ]
    return pyqwest.Headers(items)  # one call, where an add() per header cost one each


def _content(stream: Any) -> bytes | AsyncIterator[bytes] | None:
    if isinstance(stream, httpx.ByteStream):  # the runtime's bodies: bytes in memory
        body = b"".join(stream)
        return body or None
    return _stream_content(stream)


async def _stream_content(stream: Any) -> AsyncIterator[bytes]:
    if isinstance(stream, httpx.AsyncByteStream):
        async for chunk in stream:
            yield chunk
    else:  # a synchronous iterator handed to an async client: read it off the loop
        iterator: Iterator[bytes] = iter(stream)
        while True:
            piece: bytes | None = await asyncio.to_thread(_next_chunk, iterator)
            if piece is None:
                return
            yield piece


def _next_chunk(iterator: Iterator[bytes]) -> bytes | None:
    return next(iterator, None)
