"""Connection pools: one shared httpx client per named pool, closed together.

A caller may hand in its own ``httpx.Client`` (proxies, custom TLS, mounts); then every pool uses
it and the SDK never closes it. A caller may instead hand in an ``httpx`` transport (for example
``httpx.MockTransport`` in tests); then each pool's client is built on that transport.

Otherwise each asyncio pool sends with the client's ``http_backend``: httpx's own transport, or
pyqwest (a Rust HTTP client, see ``_pyqwest``) under the same ``httpx.AsyncClient``, so nothing
above the transport changes. ``"auto"`` is pyqwest when it is installed. A pool that follows
redirects stays on httpx, and so do the synchronous pools: pyqwest's blocking transport bounds a
whole exchange by one deadline, which would cut a long event stream, where httpx's read timeout
is per read. The backend may change while the client runs (``use_http_backend``): pools built
from then on use the new one, pools already built keep theirs.

An asyncio pool on httpx is split into small httpx pools (shards, see ``_ShardedTransport``):
httpcore re-examines every connection of a pool on each request and each response, so its cost
per request grows with the pool, and at a few hundred requests in flight that bookkeeping was
most of the client's time. The asyncio pools (both backends) keep alive the connections their
peak concurrency opened, each for at most ``KEEPALIVE_EXPIRY``; a pool's ``max_keepalive``
caps idle connections only where one plain httpx pool is used (synchronous clients, and asyncio
pools behind a proxy).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import ssl
import threading
import time
import urllib.request
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Mapping
from typing import Any, Generic, Literal, TypeVar

import httpx
from httpx._client import BoundAsyncStream  # what AsyncClient.send wraps a response's body in

from ._config import HTTPBackend, check_http_backend
from ._errors import ClientClosedError
from ._pyqwest import PyqwestTransport, pyqwest_available
from ._redirect import astrip_cross_origin, strip_cross_origin
from ._spec import PoolSpec

__all__ = ["AsyncPools", "SyncPools", "choose_backend", "send_streamed"]

C = TypeVar("C", httpx.Client, httpx.AsyncClient)

# Expire idle connections before common servers do (uvicorn: 5 s), so that a request is rarely
# sent on a connection the server is closing: that failure looks ambiguous.
KEEPALIVE_EXPIRY = 4.0
# Connections per shard of an asyncio httpx pool. Measured on the bench stub (CPU per request at
# 256 in flight, relative to one pool of 1000): 32 -> 0.6x, 16 -> 0.5x, 8 -> 0.35x, 4 and 2 no
# better than 8.
SHARD_CONNECTIONS = 8
_HTTPX_LOGGER = logging.getLogger("httpx")


def choose_backend(
    spec: PoolSpec, requested: HTTPBackend, *, user_transport: bool = False
) -> Literal["httpx", "pyqwest", "user"]:
    """What one pool sends with: the caller's transport when there is one; httpx for a pool
    that follows redirects; else ``requested`` (``"auto"``: the pool's ``auto_backend``,
    pyqwest unless the pool says httpx, when pyqwest is installed).

    Example::

        choose_backend(PoolSpec(), "auto")  # "pyqwest" when the package imports, else "httpx"
    """
    if user_transport:
        return "user"
    if spec.follow_redirects or requested == "httpx":
        return "httpx"
    if requested == "auto" and spec.auto_backend == "httpx":
        return "httpx"
    if requested == "pyqwest" or pyqwest_available():
        return "pyqwest"
    return "httpx"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs tens of milliseconds: do it once, for every pool.
    return httpx.create_ssl_context()


class _Pools(Generic[C]):
    def __init__(
        self,
        pools: Mapping[str, PoolSpec],
        *,
        user_client: C | None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
        timeout: httpx.Timeout,
        http_backend: HTTPBackend = "httpx",
    ) -> None:
        self._specs = dict(pools) or {"default": PoolSpec()}
        self._user_client: C | None = user_client
        self._transport = transport
        self._timeout = timeout
        check_http_backend(http_backend)
        self._backend: HTTPBackend = http_backend
        self._clients: dict[str, C] = {}
        self._lock = threading.Lock()
        self.closed = False

    @property
    def http_backend(self) -> HTTPBackend:
        """The backend pools built from now on send with (see :func:`choose_backend`)."""
        return self._backend

    def use_http_backend(self, backend: HTTPBackend) -> None:
        """Build the pools not built yet on ``backend``; the ones already built keep theirs
        (their connections may be in use).

        Example::

            pools.use_http_backend("auto")  # e.g. once the server's settings say so
        """
        check_http_backend(backend)
        self._backend = backend

    def _build(self, spec: PoolSpec) -> C:  # pragma: no cover - overridden
        raise NotImplementedError

    def get(self, name: str) -> C:
        """The client of pool ``name`` (unknown names use ``default``), built on first use."""
        if self.closed:
            raise ClientClosedError("this client is closed; create a new one")
        if self._user_client is not None:
            return self._user_client
        client: C | None = self._clients.get(name)
        if client is None:
            with self._lock:
                if self.closed:  # closed while this call was on its way
                    raise ClientClosedError("this client is closed; create a new one")
                client = self._clients.get(name)
                if client is None:
                    spec = self._specs.get(name) or self._specs.get("default") or PoolSpec()
                    client = self._build(spec)
                    self._clients[name] = client
        return client

    def _limits(self, spec: PoolSpec) -> httpx.Limits:
        return httpx.Limits(
            max_connections=spec.max_connections,
            max_keepalive_connections=spec.max_keepalive,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        )

    def _take_all(self) -> list[C]:
        with self._lock:
            self.closed = True
            clients = list(self._clients.values())
            self._clients.clear()
        return clients


class SyncPools(_Pools[httpx.Client]):
    def _build(self, spec: PoolSpec) -> httpx.Client:
        transport = self._transport if isinstance(self._transport, httpx.BaseTransport) else None
        return httpx.Client(
            timeout=self._timeout,
            limits=self._limits(spec),
            transport=transport,
            verify=_ssl_context(),
            follow_redirects=spec.follow_redirects,
            event_hooks={"request": [strip_cross_origin]} if spec.follow_redirects else None,
        )

    def close(self) -> None:
        for client in self._take_all():
            client.close()


class _Shard:
    __slots__ = ("inflight", "size", "transport")

    def __init__(self, size: int, transport: httpx.AsyncHTTPTransport) -> None:
        self.size = size
        self.transport = transport
        self.inflight = 0


class _Release(httpx.AsyncByteStream):
    """A response body that gives its shard's slot back when it is closed."""

    def __init__(
        self, stream: httpx.AsyncByteStream, shard: _Shard, release: Callable[[_Shard], None]
    ) -> None:
        self._stream = stream
        self._shard: _Shard | None = shard
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        shard, self._shard = self._shard, None
        if shard is not None:
            self._release(shard)
        await self._stream.aclose()


class _ShardedTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, as shards of at most ``SHARD_CONNECTIONS`` connections each.

    A request goes to the shard with the most free slots; a shard is opened only when all are
    busy, up to ``max_connections`` connections in all, and each keeps its connections alive
    (for ``keepalive_expiry``). So the connections kept follow the concurrency reached, where one
    pool's ``max_keepalive`` below it closed connections only to open new ones under load
    (sockets left in TIME_WAIT). With every slot taken, requests wait in turn for the next free
    one, at most the pool timeout, as in one httpx pool. Only one event loop uses it (the pools
    are per loop), so there are no locks.

    Example::

        client = httpx.AsyncClient(transport=_ShardedTransport(max_connections=1000))
    """

    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
        verify: ssl.SSLContext | bool = True,
        shard_connections: int = SHARD_CONNECTIONS,
    ) -> None:
        self._max = max(max_connections, 1)
        self._per_shard = shard_connections
        self._expiry = keepalive_expiry
        self._verify = verify
        self._shards: list[_Shard] = []
        self._opened = 0  # connection slots of all shards
        self._waiters: collections.deque[asyncio.Future[_Shard]] = collections.deque()

    def _free_slot(self) -> _Shard | None:
        # The shard with the most free slots: spreading the load keeps every connection in use
        # (measured: 20% less CPU per request at 256 in flight than the first shard with room,
        # whose last shards' connections idled out and were reopened).
        best: _Shard | None = None
        most_free = 0
        for shard in self._shards:
            free = shard.size - shard.inflight
            if free > most_free:
                best, most_free = shard, free
        if best is not None:
            best.inflight += 1
            return best
        if self._opened >= self._max:
            return None
        size = min(self._per_shard, self._max - self._opened)
        limits = httpx.Limits(
            max_connections=size, max_keepalive_connections=size, keepalive_expiry=self._expiry
        )
        shard = _Shard(size, httpx.AsyncHTTPTransport(verify=self._verify, limits=limits))
        self._shards.append(shard)
        self._opened += size
        shard.inflight = 1
        return shard

    def _release(self, shard: _Shard) -> None:
        # Hand the slot straight to the longest waiting request, if any (FIFO, as httpcore).
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(shard)
                return
        shard.inflight -= 1

    async def _acquire(self, request: httpx.Request) -> _Shard:
        shard = self._free_slot()
        if shard is not None:
            return shard
        waiter: asyncio.Future[_Shard] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        timeout = (request.extensions.get("timeout") or {}).get("pool")
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # handed over just as this one gave up
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout(
                    "no connection became free in time", request=request
                ) from None
            raise

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shard = await self._acquire(request)
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            self._release(shard)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Release(response.stream, shard, self._release)
        return response

    async def aclose(self) -> None:
        shards, self._shards = self._shards, []
        for waiter in self._waiters:
            waiter.cancel()
        for shard in shards:
            await shard.transport.aclose()


class AsyncPools(_Pools[httpx.AsyncClient]):
    """The asyncio pools. httpx connections belong to the event loop that opened them, so the
    first loop to send is the pools' home and any other loop that sends through them (a
    caller awaiting on its own loop) gets clients of its own. Those close when the pools close,
    or when their loop shuts down its async generators (``asyncio.run`` does, on exit).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._home: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._guests: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Guest] = (
            weakref.WeakKeyDictionary()
        )

    def _build(self, spec: PoolSpec) -> httpx.AsyncClient:
        transport = (
            self._transport if isinstance(self._transport, httpx.AsyncBaseTransport) else None
        )
        backend = choose_backend(spec, self._backend, user_transport=transport is not None)
        if backend == "pyqwest":
            pyqwest_transport = PyqwestTransport(
                max_connections=spec.max_connections,
                # As in the shards: keep what the concurrency needed (idle ones expire anyway);
                # max_keepalive below it had reqwest close connections only to reopen them.
                max_keepalive=spec.max_connections,
                keepalive_expiry=KEEPALIVE_EXPIRY,
                connect_timeout=self._timeout.connect,
            )
            if not urllib.request.getproxies():  # (with a proxy, httpx routes by its mounts)
                return _DirectClient(
                    pyqwest_transport,
                    timeout=self._timeout,
                    limits=self._limits(spec),
                    verify=_ssl_context(),
                )
            transport = pyqwest_transport
        elif backend == "httpx" and not urllib.request.getproxies():
            # (httpx reads proxy settings from the environment only for its own transport:
            # with a proxy configured, the pool stays one httpx pool.)
            transport = _ShardedTransport(
                max_connections=spec.max_connections, verify=_ssl_context()
            )
        return httpx.AsyncClient(
            timeout=self._timeout,
            limits=self._limits(spec),
            transport=transport,
            verify=_ssl_context(),
            follow_redirects=spec.follow_redirects,
            event_hooks={"request": [astrip_cross_origin]} if spec.follow_redirects else None,
        )

    def get(self, name: str) -> httpx.AsyncClient:
        if self.closed:
            raise ClientClosedError("this client is closed; create a new one")
        if self._user_client is not None:
            return self._user_client
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return super().get(name)  # outside any loop (inspection): the home clients
        if self._home is None:
            with self._lock:
                if self._home is None:
                    self._home = weakref.ref(loop)
        if self._home() is loop:
            return super().get(name)
        guest = self._guests.get(loop)
        if guest is None:
            with self._lock:
                if self.closed:
                    raise ClientClosedError("this client is closed; create a new one")
                for closed in [other for other in self._guests if other.is_closed()]:
                    del self._guests[closed]  # closed without shutting down its generators
                guest = self._guests.get(loop)
                if guest is None:
                    guest = self._guests[loop] = _Guest(self, loop)
        client = guest.clients.get(name)  # only this loop's thread touches its guest
        if client is None:
            spec = self._specs.get(name) or self._specs.get("default") or PoolSpec()
            client = guest.clients[name] = self._build(spec)
        return client

    async def aclose(self) -> None:
        current = asyncio.get_running_loop()
        home = self._home() if self._home is not None else None
        home_clients = self._take_all()
        with self._lock:
            guests = list(self._guests.items())
            self._guests.clear()
        try:
            if home is None or home is current or home.is_closed():
                await _aclose_all(home_clients)
            else:
                _close_on(home, _aclose_all(home_clients))
        finally:  # the guests too, whatever happened to the home clients
            for loop, guest in guests:
                if loop is current:
                    await _close_clients(guest.clients)
                else:
                    _close_on(loop, _close_clients(guest.clients))


class _DirectClient(httpx.AsyncClient):
    """The client of a pool on pyqwest that the SDK built (no caller's client or transport, no
    redirects followed, no proxy): :func:`send_streamed` hands its requests straight to the
    transport. ``AsyncClient.send`` would only run its auth flow (none), redirect loop (not
    followed) and event hooks (none) around the same call, and they were a fifth of the client's
    time per request. Anything else (``http_client(pool)``) uses it as the httpx client it is.
    """

    def __init__(self, transport: PyqwestTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self.direct_transport = transport


async def send_streamed(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """``await client.send(request, stream=True)``, straight to the transport where that is
    the same (see :class:`_DirectClient`): the response is bound to its request, carries its
    ``elapsed`` once closed, its cookies go to the client's jar, a redirect's ``next_request``
    is set, and httpx's log line is written.

    Example::

        response = await send_streamed(pools.get("train"), request)
    """
    if type(client) is not _DirectClient or client.is_closed or request.url.userinfo:
        # (closed: httpx raises; credentials in the URL: httpx's basic auth applies)
        return await client.send(request, stream=True)
    if "timeout" not in request.extensions:  # (the runtime's requests carry their own)
        request.extensions = {**request.extensions, "timeout": client.timeout.as_dict()}
    start = time.perf_counter()
    try:
        response = await client.direct_transport.handle_async_request(request)
    except httpx.RequestError as exc:
        exc.request = request  # as httpx's request_context does
        raise
    assert isinstance(response.stream, httpx.AsyncByteStream)
    response.request = request
    response.stream = BoundAsyncStream(response.stream, response=response, start=start)
    if "set-cookie" in response.headers:
        client.cookies.extract_cookies(response)
    if response.has_redirect_location:  # returned, not followed: the next hop is the caller's
        response.next_request = client._build_redirect_request(request, response)
    if _HTTPX_LOGGER.isEnabledFor(logging.INFO):
        _HTTPX_LOGGER.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
    return response


class _Guest:
    """The clients of one guest loop, and an async generator registered with that loop whose
    ``finally`` closes them when the loop shuts its generators down."""

    def __init__(self, pools: AsyncPools, loop: asyncio.AbstractEventLoop) -> None:
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.keeper = _keeper(pools, loop, self)
        # Run it to its ``yield`` now: that registers it with the running loop (asyncio's
        # first-iteration hook), which closes it at shutdown. It awaits nothing before the
        # yield, so one ``send`` finishes the step.
        with contextlib.suppress(StopIteration):
            self.keeper.asend(None).send(None)


async def _keeper(
    pools: AsyncPools, loop: asyncio.AbstractEventLoop, guest: _Guest
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        with pools._lock:
            if pools._guests.get(loop) is guest:
                del pools._guests[loop]
        await _close_clients(guest.clients)


async def _close_clients(clients: dict[str, httpx.AsyncClient]) -> None:
    """Close and forget each client; whoever gets to a client first closes it (the pools'
    close and the loop's shutdown may both be at it, on that loop)."""
    while clients:
        _, client = clients.popitem()
        with contextlib.suppress(Exception):  # a connection already broken is closed anyway
            await client.aclose()


async def _aclose_all(clients: list[httpx.AsyncClient]) -> None:
    for client in clients:
        with contextlib.suppress(Exception):  # a connection already broken is closed anyway
            await client.aclose()


_CLOSING: set[asyncio.Task[None]] = set()  # tasks are weakly held by asyncio: keep them


def _close_on(loop: asyncio.AbstractEventLoop, closing: Coroutine[Any, Any, None]) -> None:
    """Close clients on the loop they belong to, without waiting (it may be this thread's,
    blocked in the caller's ``close()``)."""

    def start() -> None:
        task = loop.create_task(closing)
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)

    try:
        loop.call_soon_threadsafe(start)
    except RuntimeError:  # that loop is closed: its connections went with it
        closing.close()
