"""What every high-level client of one ServiceClient shares, each part in a room of its own:

- ``settings`` (:class:`ClientSettings`): the configuration, resolved once;
- ``runner`` (:class:`Runner`): the SDK's loop thread, closing, and ``fork()``;
- ``api``: the low-level client (``AsyncTinkerAPI``) with the connection pools;
- ``features`` (:class:`ServerFeatures`): the server's flags, settings and models;
- ``session`` (:class:`Session`): the session, its heartbeat, seq ids and telemetry;
- ``cancels`` (:class:`CancelQueue`): requests to cancel on the server.

The holder puts them together, rebuilds the per-process parts in a child of ``fork()`` and
closes them in order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from sdkgen.runtime import APIFuture, Listener, Metrics, OpenTelemetryListener

from ._cancels import CancelQueue
from ._generated import AsyncTinkerAPI
from ._runner import Runner
from ._server_features import ServerFeatures
from ._session import Session, SessionStatus
from ._settings import ClientSettings
from ._wire import register_result_decoders

__all__ = ["Holder"]

logger = logging.getLogger("tinkex")
T = TypeVar("T")

# A fork()'s child keeps the parent's connections and telemetry here: never used, closed or
# collected in the child (closing them would disturb the parent's).
_INHERITED: list[tuple[Any, Any]] = []


class Holder:
    """The shared machinery behind ServiceClient, TrainingClient, SamplingClient and RestClient.

    Args:
        settings: The resolved configuration (:meth:`ClientSettings.resolve`).

    Example::

        holder = Holder(ClientSettings.resolve(base_url="http://127.0.0.1:8000"))
        try:
            caps = holder.run(holder.api.service.get_server_capabilities())
        finally:
            holder.close(status=None)
    """

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._metrics = Metrics()
        # Spans once the program uses OpenTelemetry; nothing of it is imported before that.
        self._listeners: tuple[Listener, ...] = (
            self._metrics,
            OpenTelemetryListener("tinkex", only_if_imported=True),
            *settings.listeners,
        )
        self._runner = Runner(
            result_timeout=settings.result_timeout, rebuild_in_child=self._rebuild_in_child
        )
        self._api = self._connect()
        self._features = ServerFeatures(
            lambda: self.api,
            version=self.version,
            base_url=self.base_url,
            loop=self._runner.loop,
            http_backend=settings.http_backend,
        )
        self._session = self._new_session()
        self._cancels = CancelQueue(self)

    # -- the parts that live as long as the client ------------------------------------------

    @property
    def settings(self) -> ClientSettings:
        """The configuration, resolved once."""
        return self._settings

    @property
    def runner(self) -> Runner:
        """The SDK's loop thread: running work, closing, fork()."""
        return self._runner

    @property
    def features(self) -> ServerFeatures:
        """The server's flags, settings and models."""
        return self._features

    @property
    def metrics(self) -> Metrics:
        """Counts, errors, retries and latencies of every request of this client."""
        return self._metrics

    # -- the per-process parts (in a child of fork(), rebuilt on first use there) -----------

    @property
    def api(self) -> AsyncTinkerAPI:
        """The low-level client."""
        self._runner.rebuild_if_forked()
        return self._api

    @property
    def session(self) -> Session:
        """The session (a child of fork() opens one of its own when it needs one)."""
        self._runner.rebuild_if_forked()
        return self._session

    @property
    def cancels(self) -> CancelQueue:
        """The queue of requests to cancel on the server."""
        self._runner.rebuild_if_forked()
        return self._cancels

    @property
    def base_url(self) -> str:
        """The server's address."""
        return self._settings.base_url

    @property
    def version(self) -> str:
        """The wire-protocol version this SDK speaks (sent as ``sdk_version``)."""
        return AsyncTinkerAPI.api.version

    def _connect(self) -> AsyncTinkerAPI:
        settings = self._settings
        api = AsyncTinkerAPI(
            config=settings.config,
            listeners=self._listeners,
            on_retry=settings.on_retry,
            transport=settings.transport,
        )
        register_result_decoders(api.codecs)
        return api

    def _new_session(self) -> Session:
        session = Session(self)
        self._api.telemetry.add_listener(session.telemetry.listener)
        return session

    def _rebuild_in_child(self) -> None:
        """In a child of fork() (called by the runner): new connections (the loop starts on
        use), and no session: the parent's stays the parent's (its heartbeat, its seq ids), a
        session of the child's own is opened when the child creates something. Reads the
        private fields only: ``api``, ``session`` and ``cancels`` would start a rebuild again."""
        self._features.forget_refresh()
        _INHERITED.append((self._api, self._session.telemetry))
        mode = self._api.codecs.mode
        answered = self._api.server_answered
        self._api = self._connect()
        self._api.codecs.mode = mode
        # The server answered the parent: the child's failures to reach it are an outage to
        # ride out (the long budget), not a wrong URL (first_contact_deadline).
        self._api.server_answered = answered
        # httpx: the pyqwest transport's runtime threads did not survive the fork.
        self._api.use_http_backend("httpx")
        self._session = self._new_session()
        self._cancels = CancelQueue(self)
        logger.debug("forked: %s connects afresh in process %d", self.base_url, os.getpid())

    # -- running work (the runner's, for the clients' brevity) -------------------------------

    def submit(
        self, coro: Coroutine[Any, Any, T], description: str, timeout: float | None = None
    ) -> APIFuture[T]:
        """Run ``coro`` on the SDK's loop; its result as an :class:`APIFuture`."""
        return self._runner.submit(coro, description, timeout)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the SDK's loop and wait for it (synchronous helpers)."""
        return self._runner.run(coro, timeout)

    # -- closing -----------------------------------------------------------------------------

    def close(self, status: SessionStatus | None = "success", detail: str | None = None) -> None:
        """Finish the session (when there is one), stop the heartbeat and every background task,
        close the connections and stop the loop thread. Safe to call twice."""
        self._runner.close(lambda: self._aclose(status, detail))

    async def _aclose(self, status: SessionStatus | None, detail: str | None) -> None:
        session = self._session
        await session.stop_heartbeat()
        await self._features.aclose()
        try:
            await session.finish(status, detail)
        finally:
            await self._api.close()
