"""The session-wide long poll of sample results: ``POST /api/v1/retrieve_futures``.

Where the server's client config sets ``sample_use_retrieve_futures``, a sample does not poll
its own future until the result is ready. One :class:`SampleResultsPoller` per sampling
session (and clone id) asks the server, in a single long poll, which of the session's futures
have finished; each sample waits for its own request id there, then fetches its result with one
ordinary ``retrieve_future`` (the future handle's ``result()``).

The wire contract (tinker 0.38.0, protocol notes section 3.4):

- the body names the target ``{"type": "sampling_session", "sampling_session_id",
  "cloned_sampler_id"}``, echoes the last reply's ``cursor`` as ``prev_cursor`` (the server
  trims what is at or before it) and lists the ids fetched since the last poll in
  ``retrieved_request_ids`` (so the server can drop their payloads);
- ``timeout`` is left out (the server's long poll, ~30 s) while samples wait, and is ``0`` for
  a poll that only acknowledges; with nothing to wait for and nothing to acknowledge the poller
  sends nothing at all;
- a 402 pauses (5 s between tries, for at most the server's billing pause); timeouts,
  connection errors, 408/409/429 and 5xx are retried after 1 s; a 400 up to 3 times; anything
  else ends the poller, and every waiting and later sample raises
  :class:`SampleResultsPollError`, which names the sampling session;
- closing the client stops it, after one best-effort acknowledging poll;
- a server that cannot be reached at all (refused, reset, DNS, connect timeout) for the
  client's ``unreachable_timeout`` fails the samples waiting then with
  ``ServerUnreachableError``; the poller itself goes on serving later samples.

The poller runs on the SDK's loop thread and never carries the headers of a public call (it
serves many). Samples wait on it from any thread or event loop (``sample_async`` runs on the
caller's), and every wait has a deadline: the client's result timeout.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from sdkgen.runtime import (
    NOT_GIVEN,
    APIConnectionError,
    APIStatusError,
    ClientClosedError,
    Reachability,
    SDKError,
    ServerUnreachableError,
    detached_context,
    without_call_headers,
)

from ._generated import models

if TYPE_CHECKING:
    from ._holder import Holder

__all__ = [
    "SampleResultTimeoutError",
    "SampleResultsPollError",
    "SampleResultsPoller",
    "poller_for",
]

logger = logging.getLogger("tinkex")

Completion = models.FutureFinished | models.FutureFailed

LONG_POLL_HTTP_TIMEOUT = 45.0  # the server holds a long poll for about 30 s
ACK_HTTP_TIMEOUT = 5.0
CLOSE_ACK_TIMEOUT = 2.0  # closing must stay quick even when the server is gone
RETRY_DELAY = 1.0
PAUSE_DELAY = 5.0
BAD_REQUEST_RETRIES = 3
# Completions nobody waits for yet (their sample is between its submission and its wait) or
# any more (a sample that gave up): kept for a later waiter, at most this many.
MAX_UNCLAIMED = 10_000


class SampleResultsPollError(SDKError):
    """The session-wide poll of sample results failed for good; no sample of that sampling
    session can learn that its result is ready. The cause is chained."""


class SampleResultTimeoutError(SDKError):
    """A sample's result was not announced within its deadline (the client's result timeout).
    Not retried: the sample may still finish on the server. (Not a ``TimeoutError``: waiting
    on an ``APIFuture`` would take it for the caller's own wait running out.)"""


class SampleResultsPoller:
    """The long poll of one sampling session's futures (see the module docstring).

    Example::

        poller = poller_for(holder, sampling_session_id, cloned_sampler_id)
        await poller.wait(handle.request_id, timeout=3600)   # the result is ready now
        result = await handle.result()
        poller.retrieved(handle.request_id)                   # acknowledged on the next poll
    """

    def __init__(
        self,
        holder: Holder,
        sampling_session_id: str,
        cloned_sampler_id: int = 0,
        *,
        pause_cap: float = 3600.0,
    ) -> None:
        self.holder = holder
        self.target = models.SamplingSessionFuturesTarget(
            sampling_session_id=sampling_session_id, cloned_sampler_id=cloned_sampler_id
        )
        self.pause_cap = pause_cap
        self.cursor = 0
        self.polls = 0
        self._lock = threading.Lock()
        self._waiters: dict[str, list[concurrent.futures.Future[Completion]]] = {}
        self._unclaimed: collections.OrderedDict[str, Completion] = collections.OrderedDict()
        self._acks: set[str] = set()
        self._error: SampleResultsPollError | None = None
        self._closed = False
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (
            f"<SampleResultsPoller {self.target.sampling_session_id} "
            f"clone {self.target.cloned_sampler_id} cursor {self.cursor}>"
        )

    @property
    def name(self) -> str:
        return f"sampling session {self.target.sampling_session_id}"

    # -- what samples call ---------------------------------------------------------------------

    async def wait(self, request_id: str, timeout: float | None) -> Completion:
        """Wait (on any event loop) until the server says ``request_id`` finished or failed;
        at most ``timeout`` seconds (``None``: no limit)."""
        waiter: concurrent.futures.Future[Completion] = concurrent.futures.Future()
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._closed:
                raise ClientClosedError(f"{self.name}: the client is closed")
            known = self._unclaimed.pop(request_id, None)
            if known is not None:
                return known
            self._waiters.setdefault(request_id, []).append(waiter)
            start = not self._started
            self._started = True
        if start:
            self._start()
        else:
            self._poke()
        try:
            return await asyncio.wait_for(asyncio.wrap_future(waiter), timeout)
        except TimeoutError:
            raise SampleResultTimeoutError(
                f"{self.name}: request {request_id} was not announced as finished within "
                f"{timeout}s (the client's result timeout); it may still finish on the server"
            ) from None
        finally:
            with self._lock:
                waiting = self._waiters.get(request_id)
                if waiting is not None and waiter in waiting:
                    waiting.remove(waiter)
                    if not waiting:
                        del self._waiters[request_id]

    def retrieved(self, request_id: str) -> None:
        """``request_id``'s result was fetched (or given up): tell the server on the next poll,
        so that it can drop the payload. Safe from any thread."""
        with self._lock:
            if self._closed or self._error is not None:
                return
            self._acks.add(request_id)
            self._unclaimed.pop(request_id, None)
            started = self._started
        if started:
            self._poke()

    # -- the loop ----------------------------------------------------------------------------

    def _start(self) -> None:
        # Background work serving every sample of the session: it must not carry the headers
        # of the public call that happened to start it.
        try:
            detached_context().run(self.holder.runner.loop.submit, self._run())
        except SDKError:  # the client closed meanwhile
            with self._lock:
                self._closed = True
            self._fail_all(ClientClosedError(f"{self.name}: the client is closed"), None)

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to wake
                loop.call_soon_threadsafe(wake.set)

    def _next_poll(self) -> tuple[bool, list[str]] | None:
        """(whether samples wait, the ids to acknowledge), or None when there is nothing to do."""
        with self._lock:
            waiting = bool(self._waiters)
            acks = sorted(self._acks)
        if not waiting and not acks:
            return None
        return waiting, acks

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.current_task()
        bad_requests = 0
        paused_since: float | None = None
        config = self.holder.api.config
        reach = Reachability(config.unreachable_timeout, config.max_retries)
        try:
            while not self._closed:  # (closed before this task started: nothing to do)
                self._wake.clear()
                plan = self._next_poll()
                if plan is None:  # idle: no request until a sample waits or an ack is due
                    await self._wake.wait()
                    continue
                waiting, acks = plan
                try:
                    reply = await self._poll(acks, long=waiting)
                except APIStatusError as err:
                    reach.answered()
                    status = err.status_code or 0
                    if status == 402:
                        paused_since = paused_since or time.monotonic()
                        if time.monotonic() - paused_since < self.pause_cap:
                            await asyncio.sleep(PAUSE_DELAY)
                            continue
                    elif err.retryable:
                        await asyncio.sleep(RETRY_DELAY)
                        continue
                    elif status == 400 and bad_requests < BAD_REQUEST_RETRIES:
                        bad_requests += 1
                        await asyncio.sleep(RETRY_DELAY)
                        continue
                    raise
                except APIConnectionError as err:  # timeouts included
                    try:
                        reach.failed(err, what=f"the results of {self.name}")
                    except ServerUnreachableError as gone:
                        # Gone, not busy: the samples waiting now fail; later ones try afresh.
                        reach.answered()
                        self._fail_all(gone, None)
                    await asyncio.sleep(RETRY_DELAY)
                    continue
                reach.answered()
                bad_requests, paused_since = 0, None
                self._received(reply, acks)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            failure = SampleResultsPollError(
                f"retrieve_futures polling failed for {self.name}: {err}"
            )
            failure.__cause__ = err
            self._fail_all(failure, err)

    async def _poll(self, acks: list[str], *, long: bool) -> models.FuturesRetrieveResponse:
        self.polls += 1
        return await self.holder.api.futures.retrieve_futures(
            target=self.target,
            prev_cursor=self.cursor,
            retrieved_request_ids=acks,
            timeout_=NOT_GIVEN if long else 0.0,  # left out: the server's long poll
            timeout=LONG_POLL_HTTP_TIMEOUT if long else ACK_HTTP_TIMEOUT,
            max_retries=0,
        )

    def _received(self, reply: models.FuturesRetrieveResponse, acks: list[str]) -> None:
        self.cursor = reply.cursor
        resolved: list[tuple[concurrent.futures.Future[Completion], Completion]] = []
        with self._lock:
            self._acks.difference_update(acks)
            for completion in reply.completions:
                waiting = self._waiters.pop(completion.request_id, None)
                if waiting:
                    resolved.extend((w, completion) for w in waiting)
                elif completion.request_id not in acks:
                    self._unclaimed[completion.request_id] = completion
                    while len(self._unclaimed) > MAX_UNCLAIMED:
                        self._unclaimed.popitem(last=False)
        for waiter, completion in resolved:
            if waiter.set_running_or_notify_cancel():
                waiter.set_result(completion)

    def _fail_all(self, error: SDKError, cause: BaseException | None) -> None:
        if cause is not None:
            logger.warning("%s", error)
        with self._lock:
            if isinstance(error, SampleResultsPollError):
                self._error = error
            waiting = [w for ws in self._waiters.values() for w in ws]
            self._waiters.clear()
        for waiter in waiting:
            if waiter.set_running_or_notify_cancel():
                waiter.set_exception(error)

    async def aclose(self) -> None:
        """Stop polling (on the SDK's loop), send one best-effort acknowledging poll, and fail
        the samples still waiting."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            polled = self._started and self._error is None
            acks = sorted(self._acks)
            self._acks.clear()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if polled:
            try:
                with without_call_headers():  # sent while ServiceClient.close runs, not for it
                    await asyncio.wait_for(self._poll(acks, long=False), CLOSE_ACK_TIMEOUT)
            except (SDKError, TimeoutError) as err:
                logger.debug("closing acknowledgement for %s not sent: %s", self.name, err)
        self._fail_all(ClientClosedError(f"{self.name}: the client is closed"), None)


# One poller per (sampling session, clone id) of each holder, across every SamplingClient
# object that samples it; the holder closes them (see ``poller_for``).
_POLLERS: weakref.WeakKeyDictionary[Holder, dict[tuple[str, int], SampleResultsPoller]] = (
    weakref.WeakKeyDictionary()
)
_POLLERS_LOCK = threading.Lock()


def poller_for(
    holder: Holder, sampling_session_id: str, cloned_sampler_id: int, **kwargs: Any
) -> SampleResultsPoller:
    """The poller of this sampling session (and clone id) on ``holder``, made on first use; it
    is closed with the holder.

    Example::

        poller = poller_for(holder, "session-1:sample:0", 0)
    """
    key = (sampling_session_id, cloned_sampler_id)
    with _POLLERS_LOCK:
        pollers = _POLLERS.get(holder)
        if pollers is None:
            pollers = _POLLERS[holder] = {}
            holder.runner.add_close_hook(lambda: _close_all(pollers))
        poller = pollers.get(key)
        if poller is None:
            poller = pollers[key] = SampleResultsPoller(
                holder, sampling_session_id, cloned_sampler_id, **kwargs
            )
        return poller


async def _close_all(pollers: dict[tuple[str, int], SampleResultsPoller]) -> None:
    with _POLLERS_LOCK:
        closing = list(pollers.values())
        pollers.clear()
    await asyncio.gather(*(p.aclose() for p in closing), return_exceptions=True)
