"""The retry policy, in one place: what is retried, how long to wait, and when to give up.

The loop itself is stamina's; this module supplies its backoff hook. The hook sees each failure,
decides whether another attempt is allowed (status, ``x-should-retry``, the attempt budget and the
call's deadline) and returns the exact wait: the server's ``retry-after-ms`` / ``retry-after`` when
given and not above the cap, else exponential backoff with jitter. Every retry is reported before
the wait begins (a telemetry event and an INFO line on the API's logger), so stamina's own
WARNING line for it ("stamina.retry_scheduled", no endpoint, no cause) is dropped: only for
the runtime's loops (:func:`runtime_retry_loop`), never for a program's own use of stamina.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

from ._errors import APIConnectionError, APIError, APIStatusError
from ._liveness import is_unreachable
from ._spec import Record, RetryPolicy

__all__ = [
    "RetryInfo",
    "RetryState",
    "backoff_delay",
    "retry_after_seconds",
    "runtime_retry_loop",
]

# Set while a runtime retry loop runs in this thread or task (stamina calls its hooks there).
_IN_RUNTIME_LOOP: ContextVar[bool] = ContextVar("sdkgen_runtime_retry_loop", default=False)


class _RuntimeRetriesFilter(logging.Filter):
    """Drops the records stamina logs for the runtime's own retries (reported already)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _IN_RUNTIME_LOOP.get()


logging.getLogger("stamina").addFilter(_RuntimeRetriesFilter())


@contextlib.contextmanager
def runtime_retry_loop() -> Iterator[None]:
    """Mark the retry loop run inside as the runtime's: stamina's log lines for its retries
    are dropped (the runtime reports them itself). Works in threads and asyncio tasks alike.

    Example::

        with runtime_retry_loop():
            for attempt in stamina.retry_context(on=state.wait_for, attempts=3):
                with attempt:
                    send()
    """
    token = _IN_RUNTIME_LOOP.set(True)
    try:
        yield
    finally:
        _IN_RUNTIME_LOOP.reset(token)


@dataclass(frozen=True, slots=True, eq=False, repr=False)  # eq, hash, repr: Record
class RetryInfo(Record):
    """What the ``on_retry`` hook receives: which attempt failed, why, and the wait before the next."""

    endpoint: str
    attempt: int
    wait: float
    cause: BaseException
    elapsed: float


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> float | None:
    """The server's requested wait: ``retry-after-ms``, else ``retry-after`` (seconds or HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=datetime.UTC)
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def backoff_delay(policy: RetryPolicy, retries_taken: int, rand: float | None = None) -> float:
    """Exponential backoff ``initial * 2**n`` capped at ``max_delay``, minus up to ``jitter`` of it."""
    base: float = min(policy.initial_delay * (2.0**retries_taken), policy.max_delay)
    r = random.random() if rand is None else rand
    return base * (1.0 - policy.jitter * r)


def _should_retry_header(exc: APIError) -> bool | None:
    if not isinstance(exc, APIStatusError) or exc.response is None:
        return None
    value = exc.response.headers.get("x-should-retry", "").strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return None


class RetryState:
    """Per-call bookkeeping for stamina's backoff hook."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        endpoint: str,
        deadline: float | None,
        report: Callable[[RetryInfo], None],
        reached: Callable[[], bool] = lambda: True,
    ) -> None:
        self.policy = policy
        self.endpoint = endpoint
        self.started = time.monotonic()
        self.deadline_at = None if deadline is None else self.started + deadline
        self.attempt = 0
        self._report = report
        # Whether the client has ever had an answer from the server (read at each failure: an
        # answer to another call counts), and whether this call gave up for never having one.
        self._reached = reached
        self.first_contact_failed = False

    @property
    def max_attempts(self) -> int:
        return self.policy.max_retries + 1

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float | None:
        if self.deadline_at is None:
            return None
        return self.deadline_at - time.monotonic()

    def next_attempt(self) -> int:
        self.attempt += 1
        return self.attempt

    def _retryable(self, exc: Exception) -> bool:
        if not isinstance(exc, APIError):
            return False
        override = _should_retry_header(exc)
        if override is not None:
            return override
        if isinstance(exc, APIStatusError):
            return self.policy.should_retry_status(exc.status_code or 0)
        if isinstance(exc, APIConnectionError):
            return exc.retryable and self.policy.retry_connection_errors
        return False

    def _first_contact_left(self, exc: Exception) -> float | None:
        """Seconds left of ``first_contact_deadline`` when ``exc`` failed to reach a server
        the client never had an answer from, else ``None`` (the policy's budgets alone)."""
        limit = self.policy.first_contact_deadline
        if limit is None or not is_unreachable(exc) or self._reached():
            return None
        return limit - self.elapsed()

    def wait_for(self, exc: Exception) -> float | bool:
        """stamina's hook: ``False`` to give up, else the seconds to wait before the next attempt."""
        if self.attempt >= self.max_attempts or not self._retryable(exc):
            return False
        wait = backoff_delay(self.policy, self.attempt - 1)
        if isinstance(exc, APIStatusError) and exc.response is not None:
            asked = retry_after_seconds(exc.response.headers)
            if asked is not None and asked <= self.policy.retry_after_cap:
                wait = asked
        remaining = self.remaining()
        if remaining is not None and wait >= remaining:
            return False
        first_contact_left = self._first_contact_left(exc)
        if first_contact_left is not None and wait >= first_contact_left:
            self.first_contact_failed = True  # (as for the deadline: no wait past it)
            return False
        self._report(
            RetryInfo(
                endpoint=self.endpoint,
                attempt=self.attempt,
                wait=wait,
                cause=exc,
                elapsed=self.elapsed(),
            )
        )
        return wait
