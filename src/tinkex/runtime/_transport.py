"""Connection pools: one shared httpx client per named pool, closed together.

A caller may hand in its own ``httpx.Client`` (proxies, custom TLS, mounts); then every pool uses
it and the SDK never closes it. A caller may instead hand in an ``httpx`` transport (for example
``httpx.MockTransport`` in tests); then each pool's client is built on that transport.
"""

from __future__ import annotations

import functools
import ssl
import threading
from collections.abc import Mapping
from typing import Generic, TypeVar

import httpx

from ._errors import ClientClosedError
from ._spec import PoolSpec

__all__ = ["AsyncPools", "SyncPools"]

C = TypeVar("C", httpx.Client, httpx.AsyncClient)


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
    ) -> None:
        self._specs = dict(pools) or {"default": PoolSpec()}
        self._user_client: C | None = user_client
        self._transport = transport
        self._timeout = timeout
        self._clients: dict[str, C] = {}
        self._lock = threading.Lock()
        self.closed = False

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
                client = self._clients.get(name)
                if client is None:
                    spec = self._specs.get(name) or self._specs.get("default") or PoolSpec()
                    client = self._build(spec)
                    self._clients[name] = client
        return client

    def _limits(self, spec: PoolSpec) -> httpx.Limits:
        # Expire idle connections before common servers do (uvicorn: 5 s), so that a request is
        # rarely sent on a connection the server is closing: that failure looks ambiguous.
        return httpx.Limits(
            max_connections=spec.max_connections,
            max_keepalive_connections=spec.max_keepalive,
            keepalive_expiry=4.0,
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
        )

    def close(self) -> None:
        for client in self._take_all():
            client.close()


class AsyncPools(_Pools[httpx.AsyncClient]):
    def _build(self, spec: PoolSpec) -> httpx.AsyncClient:
        transport = (
            self._transport if isinstance(self._transport, httpx.AsyncBaseTransport) else None
        )
        return httpx.AsyncClient(
            timeout=self._timeout,
            limits=self._limits(spec),
            transport=transport,
            verify=_ssl_context(),
        )

    async def aclose(self) -> None:
        for client in self._take_all():
            await client.aclose()
