"""What every high-level client shares: the background loop, the low-level async client, the
server's feature flags, and (for a ServiceClient) the session with its heartbeat.

All network work runs on one private event loop thread, so the clients work the same from
synchronous code, from asyncio code and from a notebook whose loop is already running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Literal, TypeVar

import httpx
from sdkgen.runtime import (
    APIFuture,
    BackgroundLoop,
    ConfigError,
    GoneError,
    Listener,
    Metrics,
    NotFoundError,
    OpenTelemetryListener,
    RetryInfo,
    SDKError,
)
from sdkgen.runtime._call_context import detached_context, without_call_headers
from sdkgen.runtime._config import HTTPBackend, WireMode, check_unreachable_timeout
from sdkgen.runtime._liveness import DEFAULT_UNREACHABLE_TIMEOUT

from ._creation_recovery import create_session_recovering
from ._credentials import resolve_api_key
from ._fork_hooks import after_fork_in_child
from ._generated import AsyncTinkerAPI, models
from ._server_features import ServerFeatures
from ._session_telemetry import SessionTelemetry
from ._wire import omit, register_result_decoders

__all__ = ["Holder", "SessionStatus"]

logger = logging.getLogger("tinkex")
T = TypeVar("T")
SessionStatus = Literal["success", "errored", "interrupted"]

HEARTBEAT_PERIOD = 10.0
HEARTBEAT_WARN_AFTER = 120.0
CLOSE_TIMEOUT = 30.0
TELEMETRY_DRAIN_TIMEOUT = 5.0
# Finishing the session is best effort: a server that is gone must not hold up close() (or the
# exit of a program interrupted with Ctrl-C) for long.
FINISH_TIMEOUT = 5.0
FINISH_RETRIES = 2
DEFAULT_RESULT_TIMEOUT = 3600.0
_FINISH_REASONS: dict[
    str,
    type[
        models.ClientSessionFinishSuccess
        | models.ClientSessionFinishErrored
        | models.ClientSessionFinishInterrupted
    ],
] = {
    "success": models.ClientSessionFinishSuccess,
    "errored": models.ClientSessionFinishErrored,
    "interrupted": models.ClientSessionFinishInterrupted,
}


_INHERITED: list[tuple[Any, Any]] = []


def _api_client(*, unreachable_timeout: float, **kwargs: Any) -> AsyncTinkerAPI:
    """The low-level client, with the liveness budget: how long a wait for a result (training
    or sampling) goes on while the server cannot be reached at all, as opposed to answering
    "not yet" (see ``runtime._liveness``)."""
    api = AsyncTinkerAPI(**kwargs)
    api.config = dataclasses.replace(api.config, unreachable_timeout=unreachable_timeout)
    return api


class Holder:
    """The shared machinery behind ServiceClient, TrainingClient, SamplingClient and RestClient."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        listeners: Iterable[Listener] = (),
        on_retry: Callable[[RetryInfo], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        result_timeout: float | None = DEFAULT_RESULT_TIMEOUT,
        resend_ambiguous: bool = False,
        user_metadata: Mapping[str, Any] | None = None,
        project_id: str | None = None,
        display_name: str | None = None,
        tags: Iterable[str] | None = None,
        heartbeat_period: float = HEARTBEAT_PERIOD,
        telemetry_flush_interval: float = 10.0,
        propagate_trace: bool = False,
        http_backend: HTTPBackend = "auto",
        wire: WireMode = "auto",
        unreachable_timeout: float = DEFAULT_UNREACHABLE_TIMEOUT,
    ) -> None:
        check_unreachable_timeout(unreachable_timeout)
        self._fork_lock = threading.RLock()
        self._forked = False  # set in a child of fork(): rebuilt on next use
        self._pid_made = os.getpid()
        self.metrics = Metrics()
        # Spans once the program uses OpenTelemetry; nothing of it is imported before that.
        extra: list[Listener] = [
            self.metrics,
            OpenTelemetryListener("tinkex", only_if_imported=True),
        ]
        # Not passed and not in $TINKER_API_KEY: $TINKER_CREDENTIAL_CMD, then the credential file.
        api_key = resolve_api_key(api_key)
        # Kept to connect afresh in a child of fork() (the parent's connections stay its own).
        self._new_api = functools.partial(
            _api_client,
            unreachable_timeout=unreachable_timeout,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            listeners=[*extra, *listeners],
            on_retry=on_retry,
            transport=transport,
            resend_ambiguous=resend_ambiguous,
            propagate_trace=propagate_trace,
            wire=wire,
        )
        self._api = self._new_api()
        register_result_decoders(self._api.codecs)
        # The pools start on httpx, which the client-config call goes over (as in the reference
        # SDK); with "auto", the config's use_pyqwest_transport picks the backend of the pools
        # built after it (ServerFeatures.config), so the session, training and sampling pools.
        self.http_backend: HTTPBackend = http_backend
        if http_backend != "auto":
            self.api.use_http_backend(http_backend)
        if result_timeout is not None and result_timeout <= 0:
            raise ConfigError(f"result_timeout={result_timeout} must be positive (or None)")
        self.result_timeout = result_timeout
        self.loop = BackgroundLoop("tinkex")
        self.user_metadata = dict(user_metadata or {})
        self.project_id = project_id or os.environ.get("TINKER_PROJECT_ID") or None
        self.display_name = display_name
        env_tags = os.environ.get("TINKER_TAGS", "")
        self.tags = sorted(set(tags or ()) | {t.strip() for t in env_tags.split(",") if t.strip()})
        self.heartbeat_period = heartbeat_period
        self._telemetry_flush_interval = telemetry_flush_interval
        self.telemetry = SessionTelemetry(self, flush_interval=telemetry_flush_interval)
        self.api.telemetry.add_listener(self.telemetry.listener)
        self.features = ServerFeatures(
            lambda: self.api,
            version=self.version,
            base_url=self.base_url,
            loop=self.loop,
            http_backend=http_backend,
        )
        self._cancel_lock = threading.Lock()
        self._cancel_ids: list[str] = []
        self._cancel_draining = False
        self._session_id: str | None = None
        self._session_lock: asyncio.Lock | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._counters_lock = threading.Lock()
        self._model_seq = 0
        self._sampling_seq = 0
        self.closed = False
        self.heartbeats_ok = 0
        self._close_hooks: list[Callable[[], Coroutine[Any, Any, None]]] = []
        after_fork_in_child(self._after_fork_in_child)

    @property
    def api(self) -> AsyncTinkerAPI:
        """The low-level client (in a child of fork(), rebuilt on first use there)."""
        if self._forked:
            self._rebuild_in_child()
        return self._api

    @property
    def base_url(self) -> str:
        return self.api.config.base_url

    @property
    def version(self) -> str:
        """The wire-protocol version this SDK speaks (sent as ``sdk_version``)."""
        return self.api.api.version

    # -- running work ------------------------------------------------------------------------

    def submit(
        self, coro: Coroutine[Any, Any, T], description: str, timeout: float | None = None
    ) -> APIFuture[T]:
        """Run ``coro`` on the background loop; its result as an :class:`APIFuture`."""
        self.check_open(coro)
        future = self.loop.submit(coro)
        limit = self.result_timeout if timeout is None else timeout
        return APIFuture(future, default_timeout=limit, description=description)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the background loop and wait for it (synchronous helpers)."""
        self.check_open(coro)
        return self.loop.call(coro, self.result_timeout if timeout is None else timeout)

    def check_open(self, coro: Coroutine[Any, Any, Any] | None = None) -> None:
        """Raise ``ClientClosedError`` when closed (closing ``coro``, never to run); in a child
        of fork(), rebuild the connections first."""
        if self._forked:
            self._rebuild_in_child()
        if self.closed:
            from sdkgen.runtime import ClientClosedError

            if coro is not None:
                coro.close()  # never to run: no "coroutine was never awaited" warning
            raise ClientClosedError("this client is closed; create a new ServiceClient")

    # -- fork() ------------------------------------------------------------------------------

    @property
    def forks(self) -> int:
        """How many fork()s this process is away from the one that made this client."""
        return self.loop.forks

    def refuse_after_fork(self, forks: int, what: str) -> None:
        """Raise when this process is a child of fork() made after ``what`` was (``forks``:
        ``self.forks`` when it was made): ``what`` numbers its requests with seq ids handed
        out by one process, which the parent goes on using."""
        if forks != self.forks:
            from sdkgen.runtime import ClientClosedError

            raise ClientClosedError(
                f"{what} was made in process {self._pid_made} and cannot be used in a child "
                "of fork() (its requests are numbered by the parent). Use it from one process; "
                "share sampling with SamplingClient.get_sampler_handle(), or start workers "
                "with the spawn start method (multiprocessing.get_context('spawn'))"
            )

    def _after_fork_in_child(self) -> None:
        """At fork, in the child (one thread): locks another thread may have held are made anew;
        the rest is rebuilt on the next use."""
        self._fork_lock = threading.RLock()
        self._counters_lock = threading.Lock()
        self._cancel_lock = threading.Lock()
        self._forked = True

    def _rebuild_in_child(self) -> None:
        """In a child of fork(): new connections on a new loop (the loop starts on use), and
        no session: the parent's stays the parent's (its heartbeat, its seq ids), a session of
        the child's own is opened when the child creates something."""
        with self._fork_lock:
            if not self._forked:
                return
            if self.closed:  # nothing to rebuild: it stays closed
                self._forked = False
                return
            self.features.forget_refresh()
            self._cancel_ids = []
            self._cancel_draining = False
            self._session_id = None
            self._session_lock = None
            self._heartbeat = None
            self._model_seq = 0
            self._sampling_seq = 0
            self._close_hooks = []
            self.heartbeats_ok = 0
            # The parent's connections and tasks: never used, closed or collected here.
            _INHERITED.append((self._api, self.telemetry))
            mode = self._api.codecs.mode
            self._api = self._new_api()
            self._api.codecs.mode = mode
            register_result_decoders(self._api.codecs)
            # httpx: the pyqwest transport's runtime threads did not survive the fork.
            self._api.use_http_backend("httpx")
            self._forked = False  # from here on, self.api is the new one
            self.telemetry = SessionTelemetry(self, flush_interval=self._telemetry_flush_interval)
            self._api.telemetry.add_listener(self.telemetry.listener)
            logger.debug("forked: %s connects afresh in process %d", self.base_url, os.getpid())

    def next_model_seq_id(self) -> int:
        with self._counters_lock:
            value = self._model_seq
            self._model_seq += 1
            return value

    def next_sampling_seq_id(self) -> int:
        with self._counters_lock:
            value = self._sampling_seq
            self._sampling_seq += 1
            return value

    # -- what is known so far ----------------------------------------------------------------

    @property
    def known_session_id(self) -> str | None:
        """The session's id once it has been created (``session_id()``), else None."""
        return self._session_id

    def cancel_request(self, request_id: str) -> None:
        """Ask the server, in the background and best effort, to stop working on a request
        whose result nobody wants any more; only where its dynamic config enables it
        (``sample_cancel_enabled``). Safe from any thread."""
        if self.closed:
            return
        with self._cancel_lock:
            self._cancel_ids.append(request_id)
            start = not self._cancel_draining
            self._cancel_draining = True
        if start:
            try:  # background work: not part of the call that abandoned the request
                detached_context().run(self.loop.submit, self._drain_cancels())
            except SDKError:  # closed meanwhile: the server ends the work with the session
                with self._cancel_lock:
                    self._cancel_draining = False

    async def _drain_cancels(self) -> None:
        """Send the queued cancellations, at most ``sample_cancel_max_batch_size`` at once."""
        try:
            flags = await self.features.dynamic_config()
            while True:
                with self._cancel_lock:
                    batch = self._cancel_ids[: max(flags.sample_cancel_max_batch_size, 1)]
                    del self._cancel_ids[: len(batch)]
                    if not batch:
                        self._cancel_draining = False
                        return
                if not flags.sample_cancel_enabled:
                    continue  # the server does not take cancellations: drop them
                sent = await asyncio.gather(
                    *(self.api.futures.cancel_future(request_id=r) for r in batch),
                    return_exceptions=True,
                )
                for request_id, outcome in zip(batch, sent, strict=True):
                    if isinstance(outcome, Exception):
                        logger.debug("could not cancel request %s: %s", request_id, outcome)
        except BaseException:
            # Only on the way out by an error or cancellation: after a normal return another
            # drain may already own the flag.
            with self._cancel_lock:
                self._cancel_draining = False
            raise

    # -- the session -------------------------------------------------------------------------

    async def session_id(self) -> str:
        """The session of this client, created on first use (the heartbeat starts with it)."""
        if self._session_id is not None:
            return self._session_id
        if self._session_lock is None:
            self._session_lock = asyncio.Lock()
        # Opening the session is the holder's own set-up: it, and the heartbeat and telemetry
        # tasks it starts, carry no headers of the public call that happened to need it first.
        async with self._session_lock:
            with without_call_headers():
                if self._session_id is None:
                    await self.features.config()
                    await self.features.dynamic_config()
                    reply = await create_session_recovering(  # a lost answer: looked up
                        self,
                        tags=list(self.tags),
                        user_metadata=self.user_metadata,
                        sdk_version=self.version,
                        project_id=self.project_id,
                        display_name=self.display_name,
                    )
                    for level, message in (
                        (logging.INFO, reply.info_message),
                        (logging.WARNING, reply.warning_message),
                        (logging.ERROR, reply.error_message),
                    ):
                        if message:
                            logger.log(level, "server: %s", message)
                    self._session_id = reply.session_id
                    self.telemetry.session_started()
                    self._heartbeat = asyncio.get_running_loop().create_task(
                        self._heartbeat_loop(reply.session_id), name="tinkex-heartbeat"
                    )
        return self._session_id

    @property
    def session_started(self) -> bool:
        return self._session_id is not None

    async def _heartbeat_loop(self, session_id: str) -> None:
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(self.heartbeat_period)
            try:
                await self.api.sessions.session_heartbeat(session_id=session_id)
            except GoneError:
                logger.info("session %s is finished on the server; heartbeat stops", session_id)
                return
            except SDKError as err:
                silent = time.monotonic() - last_ok
                if silent > HEARTBEAT_WARN_AFTER:
                    logger.warning(
                        "no successful heartbeat for session %s in %.0fs (%s); the server will "
                        "end the session if this goes on",
                        session_id,
                        silent,
                        err,
                    )
                else:
                    logger.debug("heartbeat for session %s failed: %s", session_id, err)
                continue
            last_ok = time.monotonic()
            self.heartbeats_ok += 1

    # -- closing -----------------------------------------------------------------------------

    def add_close_hook(self, hook: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``hook()`` on the SDK's loop when the client closes, before the session is
        finished and the connections close (background work that must say goodbye, such as
        the futures pollers' last acknowledgement)."""
        self._close_hooks.append(hook)

    async def _aclose(self, status: SessionStatus | None, detail: str | None) -> None:
        for hook in self._close_hooks:
            try:
                await hook()
            except Exception as err:  # one hook must not keep the session open
                logger.debug("a close hook failed: %s", err)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await self.features.aclose()
        try:
            if status is not None and self._session_id is not None:
                await asyncio.wait_for(
                    self.api.sessions.finish_session(
                        self._session_id,
                        reason=_FINISH_REASONS[status](),
                        detail=omit(detail),
                        max_retries=FINISH_RETRIES,
                    ),
                    FINISH_TIMEOUT,
                )
        except NotFoundError:
            # Servers without the finish endpoint (e.g. skyrl-tx) end sessions by heartbeat.
            logger.debug(
                "the server has no finish endpoint; session %s ends by timeout", self._session_id
            )
        except SDKError as err:
            logger.warning("could not finish session %s: %s", self._session_id, err)
        except TimeoutError:
            logger.warning(
                "could not finish session %s within %gs; closing anyway",
                self._session_id,
                FINISH_TIMEOUT,
            )
        finally:
            self.telemetry.session_ended()
            with without_call_headers():
                await self.telemetry.aclose(TELEMETRY_DRAIN_TIMEOUT)
            await self.api.close()

    def close(self, status: SessionStatus | None = "success", detail: str | None = None) -> None:
        """Finish the session (when there is one), stop the heartbeat and every background task,
        close the connections and stop the loop thread. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.loop.in_loop_thread():
                raise RuntimeError("close() from a callback on the SDK's own loop would deadlock")
            if self.loop.started:
                future = self.loop.submit(self._aclose(status, detail))
                try:
                    future.result(CLOSE_TIMEOUT)
                except Exception as err:  # closing must not raise over the user's own error
                    logger.warning("closing the client did not finish cleanly: %s", err)
        finally:
            self.loop.close()
