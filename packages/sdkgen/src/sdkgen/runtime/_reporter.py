"""A telemetry reporter: events batched to the API's telemetry endpoint in the background.

``record`` never blocks and never fails: it appends to a bounded queue (when full, the oldest
events are dropped and counted). A task on the client's event loop sends batches of at most
``max_batch`` events every ``flush_interval`` seconds, or as soon as a batch fills. A batch
that fails is retried a few times with backoff, then dropped and counted. ``aclose`` drains
what is left within a time bound. What an event holds, and how a batch becomes a request body,
is the caller's business: the reporter only moves dictionaries.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._errors import SDKError
from ._redact import redact_value
from ._retry import backoff_delay
from ._spec import DEFAULT_LOGGER, APISpec, RetryPolicy

__all__ = ["TelemetryReporter", "telemetry_enabled"]

Send = Callable[[list[dict[str, Any]]], Awaitable[None]]

_OFF = frozenset({"0", "false", "no", "off"})


def telemetry_enabled(api: APISpec, environ: Mapping[str, str]) -> bool:
    """Off when the API's telemetry environment variable says 0/false/no/off."""
    name = api.env.get("telemetry")
    return not (name and environ.get(name, "").strip().lower() in _OFF)


class TelemetryReporter:
    def __init__(
        self,
        send: Send,
        *,
        max_batch: int = 100,
        flush_interval: float = 10.0,
        max_queue: int = 10_000,
        retries: int = 3,
        backoff: float = 0.5,
        logger_name: str = DEFAULT_LOGGER,
    ) -> None:
        self._send = send
        self._logger = logging.getLogger(logger_name)
        self.max_batch = max_batch
        self.flush_interval = flush_interval
        self.retries = retries
        self.backoff = backoff
        # The runtime's one backoff: ``backoff * 2**attempt``, capped, with its jitter.
        self._backoff = RetryPolicy(initial_delay=backoff, max_delay=max(backoff, 30.0))
        self._queue: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_queue)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._stop: asyncio.Event | None = None  # set on close; cuts a backoff short
        self.sent = 0
        self.dropped = 0
        self.failed_batches = 0

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def record(self, event: dict[str, Any]) -> None:
        """Queue an event (from any thread). Never blocks; drops the oldest when full. Its
        text is redacted of every key the SDK was given (events leave the machine)."""
        event = redact_value(event)
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(event)
            full = len(self._queue) >= self.max_batch
        if full and self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._wake.set)

    def start(self) -> None:
        """Start the flush task on the running loop (call it from the loop)."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._stop = asyncio.Event()
            self._task = self._loop.create_task(self._run(), name="telemetry-reporter")

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            count = min(self.max_batch, len(self._queue))
            return [self._queue.popleft() for _ in range(count)]

    async def _send_batch(self, batch: list[dict[str, Any]], retries: int | None = None) -> None:
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                await self._send(batch)
            except asyncio.CancelledError:
                self.dropped += len(batch)  # cut off by close's time bound
                raise
            except (SDKError, OSError) as err:
                # Closing: no more tries (a server that is gone must not hold close() up).
                if attempt == retries or self._closing:
                    self.failed_batches += 1
                    self._logger.debug("telemetry batch of %d dropped: %s", len(batch), err)
                    return
                await self._pause(backoff_delay(self._backoff, attempt))
            else:
                self.sent += len(batch)
                return

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds`` between tries of a batch, cut short when the reporter closes."""
        if self._stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def flush(self, retries: int | None = None) -> None:
        """Send everything queued now, batch by batch."""
        while batch := self._take():
            await self._send_batch(batch, retries)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            await self.flush()

    async def aclose(self, timeout: float = 5.0) -> None:
        """Stop the background task and send what is left, for at most ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            try:  # let a batch in flight finish rather than lose it
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            # Closing: one try per batch; a server that is gone must not hold the exit up.
            await asyncio.wait_for(self.flush(retries=0), max(deadline - loop.time(), 0.0))
        with self._lock:
            if self._queue:
                self.dropped += len(self._queue)
                self._logger.debug(
                    "telemetry not drained within %gs; %d dropped", timeout, len(self._queue)
                )
                self._queue.clear()
