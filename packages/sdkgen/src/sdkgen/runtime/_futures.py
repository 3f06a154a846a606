"""Handles for long-running requests: submit returns a handle, the handle polls for the result.

The polling contract is data (``APISpec.futures``, read by :mod:`._poll_contract`): which
endpoint to poll, which replies mean "not yet" (and carry a queue state, and perhaps a hint of
when to poll again), which mean "failed", which statuses mean poll again soon, after a backoff,
or that the future has expired. Every wait has a deadline: ``result``
takes a ``timeout`` and raises :class:`FutureTimeoutError` when it runs out, leaving the handle
usable so the caller may wait again.

A busy server and a dead one are told apart: while the server answers (queue states, "try
again", error statuses it is meant to retry), a wait goes on up to its timeout. While it cannot
be reached at all (connection refused or reset, DNS, connect timeout), the wait ends with
:class:`ServerUnreachableError` (an ``APIConnectionError``) once that has lasted the client's
``unreachable_timeout`` (default 60 s), or for more polls in a row than its ``max_retries``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

import httpx

from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    FutureExpiredError,
    RequestFailedError,
    SDKError,
)
from ._liveness import Reachability
from ._poll_contract import MISSING, lookup, poll_contract
from ._response import decode_response, validate_data
from ._spec import EndpointSpec, FuturesSpec, status_matches
from ._telemetry import Event
from ._wire import wire_field

if TYPE_CHECKING:
    from ._client import AsyncAPIClient, SyncAPIClient

__all__ = [
    "AsyncFutureHandle",
    "FutureCancelledError",
    "FutureHandle",
    "FutureTimeoutError",
    "QueueStateObserver",
]

T = TypeVar("T")
R = TypeVar("R")
R2 = TypeVar("R2")

_DEFAULT_POLL_TIMEOUT = 45.0
# Replies other than the result ("not yet", failed, metadata only) are far smaller than this.
_SMALL_REPLY = 64 * 1024


class QueueStateObserver(Protocol):
    def __call__(self, state: str, reason: str | None, /) -> None: ...


class FutureTimeoutError(APITimeoutError, TimeoutError):
    """``result(timeout=...)`` ran out before the result was ready. The handle stays usable."""


class FutureCancelledError(SDKError):
    """The handle was cancelled; it will not poll again."""


class _FutureCore(Generic[T, R]):
    def __init__(
        self,
        client: SyncAPIClient | AsyncAPIClient,
        spec: EndpointSpec,
        submission: T,
        result_type: type[R],
        *,
        on_queue_state: QueueStateObserver | None,
    ) -> None:
        futures = client.api.futures
        if futures is None:
            raise TypeError(f"{spec.id} returns a future but the API declares no futures contract")
        self._client = client
        self._futures: FuturesSpec = futures
        self.spec = spec
        self.submission = submission
        self.result_type = result_type
        self.request_id: str = _field(submission, futures.request_id_field)
        self.poll_spec = client._endpoint(futures.poll_endpoint)
        self._on_queue_state = on_queue_state
        self.queue_state: str | None = None
        self._result: R | None = None
        self._done = False
        self._backoffs = 0
        self._pending_replies = 0
        self._bad_requests = 0
        self._paused_since: float | None = None
        self._poll_fields: dict[str, Any] = dict(futures.poll_fields)
        self._contract = poll_contract(futures)
        self._accept = client.codecs.accept(spec)
        self.polls = 0
        config = client.config
        self._reach = Reachability(config.unreachable_timeout, config.max_retries)

    def __repr__(self) -> str:
        state = "done" if self._done else "pending"
        return f"<{type(self).__name__} {self.spec.id} request_id={self.request_id!r} {state}>"

    def done(self) -> bool:
        return self._done

    def _decode_as(self, result_type: type[Any]) -> None:
        """Decode the result as ``result_type`` (a subclass of the declared type) from now on."""
        declared = self.result_type
        if isinstance(declared, type) and not (
            isinstance(result_type, type) and issubclass(result_type, declared)
        ):
            raise TypeError(
                f"{self.spec.id}: result_as({result_type!r}) needs a subclass of the declared "
                f"result type {declared.__qualname__}"
            )
        if self._done:
            raise RuntimeError(
                f"{self.spec.id}: result_as() must be called before the result is read "
                f"(request {self.request_id} already has its result)"
            )
        self.result_type = result_type

    def _poll_call(self) -> dict[str, Any]:
        """Where the poll carries the id: a path parameter, a query parameter, or the body."""
        field, spec = self._futures.request_id_field, self.poll_spec
        call: dict[str, Any] = {"path_params": None, "query": None, "body": None}
        if field in spec.path_params:
            call["path_params"] = {field: self.request_id}
        elif spec.body == "none":
            call["query"] = {field: self.request_id, **self._poll_fields}
        else:
            call["body"] = {field: self.request_id, **self._poll_fields}
        headers: dict[str, str] = {}
        if self._futures.iteration_header:
            headers[self._futures.iteration_header] = str(self.polls - 1)
        if self._accept is not None:
            headers["Accept"] = self._accept
        call["headers"] = headers or None
        call["pool"] = self.spec.poll_pool
        return call

    def _poll_timeout(self, remaining: float | None) -> float:
        limit = self.poll_spec.timeout or _DEFAULT_POLL_TIMEOUT
        return limit if remaining is None else max(min(limit, remaining), 0.001)

    def _observe(self, data: Any) -> None:
        contract = self._contract
        state = contract.text(data, contract.queue_state)
        if state is not None:
            self._set_queue_state(state, contract.text(data, contract.queue_reason))

    def _set_queue_state(self, state: str, reason: str | None) -> None:
        if state == self.queue_state:
            return
        self.queue_state = state
        self._client.telemetry.emit(
            Event(
                "queue_state",
                self.spec.id,
                self.poll_spec.method,
                self.poll_spec.path,
                request_id=self.request_id,
                detail=state,
            )
        )
        if self._on_queue_state is not None:
            self._on_queue_state(state, reason)

    def _backoff(self) -> float:
        wait = self._contract.error_wait(self._backoffs)
        self._backoffs += 1
        return wait

    def _hint(self, err: APIStatusError) -> float | None:
        headers = err.response.headers if err.response is not None else None
        return self._contract.hint(headers, err.body)

    def _after_error(self, err: APIError) -> float:
        """What to do after a failed poll: the seconds to wait before polling again, or raise."""
        futures = self._futures
        # Raises once the server has been unreachable for too long: a dead server must not
        # hold a wait until its (possibly hour-long) timeout.
        self._reach.failed(
            err, what=f"request {self.request_id} ({self.spec.id})", request_id=self.request_id
        )
        if isinstance(err, APITimeoutError):
            return 0.0  # a long poll ran out (or a connect timed out: it took its time); ask again
        if isinstance(err, APIConnectionError):
            wait = self._backoff()
            left = self._reach.remaining()
            # Poll again at the end of the budget, not a long backoff past it.
            return wait if left is None else min(wait, left)
        if not isinstance(err, APIStatusError):
            raise err
        self._reach.answered()
        status = err.status_code or 0
        if status_matches(status, futures.expired_statuses):
            raise self._expired(err) from err
        if status_matches(status, futures.retry_statuses):
            self._observe(err.body)
            self._bad_requests = 0
            hint = self._hint(err)
            return futures.poll_interval if hint is None else hint
        if status_matches(status, futures.backoff_statuses):
            hint = self._hint(err)
            return self._backoff() if hint is None else hint
        if status_matches(status, futures.bad_request_statuses):
            self._bad_requests += 1
            if self._bad_requests <= futures.bad_request_budget:
                return futures.poll_interval
        if status_matches(status, futures.pause_statuses):
            now = time.monotonic()
            self._paused_since = self._paused_since or now
            if now - self._paused_since < futures.pause_cap:
                return futures.pause_interval
        raise err

    def _expired(self, err: APIStatusError) -> FutureExpiredError:
        return FutureExpiredError(
            f"the server no longer holds request {self.request_id} ({self.spec.id})",
            endpoint=self.spec.id,
            method=self.poll_spec.method,
            path=self.poll_spec.path,
            status_code=err.status_code,
            request_id=self.request_id,
        )

    def _timed_out(self, timeout: float | None) -> FutureTimeoutError:
        return FutureTimeoutError(
            f"no result for request {self.request_id} within {timeout}s "
            f"(last queue state: {self.queue_state or 'unknown'}); wait again or cancel",
            endpoint=self.spec.id,
            method=self.poll_spec.method,
            path=self.poll_spec.path,
            request_id=self.request_id,
        )

    def _after_reply(self, response: httpx.Response) -> float | None:
        """Interpret a 2xx poll reply: ``None`` when the result is known, else the wait."""
        self._reach.answered()
        self._backoffs = 0
        self._bad_requests = 0
        self._paused_since = None
        client = self._client
        if client.codecs.is_protobuf(response):
            # Only a result travels as protobuf; "not yet" and failures are always JSON.
            self._result = client.codecs.decode(self.spec, response, self.result_type)
            self._resolved()
            return None
        content = response.content
        if len(content) > _SMALL_REPLY or (
            b"\\u" not in content and not any(m in content for m in self._contract.markers)
        ):
            # No "not yet", "failed" or metadata marker anywhere (those replies are small, so
            # a large one is not searched): the reply can only be the result, so validate the
            # bytes straight into its type (one pass, not two).
            try:
                self._result = decode_response(
                    client.api, client.config, self.spec, response, self.result_type, self.spec.path
                )
            except APIError:
                pass  # the slow path below says what is wrong with it
            else:
                self._resolved()
                return None
        data: Any = decode_response(
            client.api, client.config, self.poll_spec, response, object, self.poll_spec.path
        )
        contract = self._contract
        if isinstance(data, Mapping):
            if contract.is_pending(data):
                self._observe(data)
                hint = contract.hint(response.headers, data)
                wait = contract.pending_wait(self._pending_replies) if hint is None else hint
                self._pending_replies += 1
                return wait
            if contract.is_metadata(data):
                self._poll_fields.update(self._futures.metadata_then)
                return 0.0
            if contract.is_failed(data):
                category = lookup(data, contract.category)
                message = lookup(data, contract.message)
                raise RequestFailedError(
                    str(message if message is not MISSING and message else "the request failed"),
                    category=category if isinstance(category, str) else "unknown",
                    endpoint=self.spec.id,
                    method=self.spec.method,
                    path=self.spec.path,
                    request_id=self.request_id,
                )
        self._result = validate_data(
            client.api, client.config, self.spec, response, data, self.result_type, self.spec.path
        )
        self._resolved()
        return None

    def _resolved(self) -> None:
        self._done = True
        futures = self._futures
        active = futures.queue_state_active
        if active and futures.queue_state_field and self.queue_state not in (None, active):
            self._set_queue_state(active, None)


def _field(obj: Any, name: str) -> str:
    value = wire_field(obj, name)
    if not isinstance(value, str) or not value:
        raise TypeError(f"the submission reply has no `{name}` to poll with: {obj!r}")
    return value


def _remaining(deadline_at: float | None) -> float | None:
    return None if deadline_at is None else deadline_at - time.monotonic()


class FutureHandle(_FutureCore[T, R]):
    """A submitted request whose result is polled for. Thread-safe to wait on and to cancel.

    Example::

        handle = api.jobs.create(spec="...")
        result = handle.result(timeout=600)
    """

    _client: SyncAPIClient

    def result_as(self, result_type: type[R2]) -> FutureHandle[T, R2]:
        """This handle, its result decoded as ``result_type``: a subclass of the declared result
        type (for example a richer hand-written type). Call it before reading the result.

        Args:
            result_type: The class to decode into; a subclass of the declared result type.

        Example::

            handle = api.jobs.create(spec="...").result_as(RenderedFrame)
            frame: RenderedFrame = handle.result(timeout=600)
        """
        self._decode_as(result_type)
        return cast("FutureHandle[T, R2]", self)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cancelled = threading.Event()
        self._lock = threading.Lock()

    def cancel(self) -> None:
        """Stop polling; waiters raise :class:`FutureCancelledError`."""
        self._cancelled.set()

    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def _sleep(self, seconds: float, deadline_at: float | None) -> None:
        remaining = _remaining(deadline_at)
        if remaining is not None:
            seconds = min(seconds, max(remaining, 0.0))
        if seconds > 0:
            self._cancelled.wait(seconds)

    @contextlib.contextmanager
    def _locked(self, timeout: float | None) -> Iterator[None]:
        # Another thread may be polling this handle: waiting for it counts against the timeout
        # (once the result is known, the lock is only ever held for a moment).
        wait = -1 if timeout is None or self._done else max(timeout, 0.0)
        if not self._lock.acquire(timeout=wait):
            raise self._timed_out(timeout)
        try:
            yield
        finally:
            self._lock.release()

    def result(self, timeout: float | None = None) -> R:
        """Wait for the result, polling; at most ``timeout`` seconds (``None``: no limit)."""
        deadline_at = None if timeout is None else time.monotonic() + timeout
        with self._locked(timeout):
            while not self._done:
                if self._cancelled.is_set():
                    raise FutureCancelledError(f"request {self.request_id} was cancelled")
                remaining = _remaining(deadline_at)
                if remaining is not None and remaining <= 0:
                    raise self._timed_out(timeout)
                self.polls += 1
                try:
                    response = self._client.poll_once(
                        self.poll_spec, timeout=self._poll_timeout(remaining), **self._poll_call()
                    )
                except APIError as err:
                    wait: float | None = self._after_error(err)
                else:
                    wait = self._after_reply(response)
                if wait is not None:
                    self._sleep(wait, deadline_at)
        return self._result  # type: ignore[return-value]


class AsyncFutureHandle(_FutureCore[T, R]):
    """The asyncio twin of :class:`FutureHandle`: ``await handle.result(timeout=...)``."""

    _client: AsyncAPIClient

    def result_as(self, result_type: type[R2]) -> AsyncFutureHandle[T, R2]:
        """This handle, its result decoded as ``result_type``: a subclass of the declared result
        type (for example a richer hand-written type). Call it before reading the result.

        Args:
            result_type: The class to decode into; a subclass of the declared result type.

        Example::

            handle = (await api.jobs.create(spec="...")).result_as(RenderedFrame)
            frame: RenderedFrame = await handle.result(timeout=600)
        """
        self._decode_as(result_type)
        return cast("AsyncFutureHandle[T, R2]", self)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cancelled = asyncio.Event()
        self._lock = asyncio.Lock()

    def cancel(self) -> None:
        """Stop polling (call it on the handle's event loop); waiters raise at once."""
        self._cancelled.set()

    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    async def _sleep(self, seconds: float, deadline_at: float | None) -> None:
        remaining = _remaining(deadline_at)
        if remaining is not None:
            seconds = min(seconds, max(remaining, 0.0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._cancelled.wait(), max(seconds, 0.0))

    @contextlib.asynccontextmanager
    async def _locked(self, timeout: float | None) -> AsyncIterator[None]:
        # Another task may be polling this handle: waiting for it counts against the timeout
        # (once the result is known, the lock is only ever held for a moment).
        try:
            await asyncio.wait_for(self._lock.acquire(), None if self._done else timeout)
        except TimeoutError:
            raise self._timed_out(timeout) from None
        try:
            yield
        finally:
            self._lock.release()

    async def result(self, timeout: float | None = None) -> R:
        """Wait for the result, polling; at most ``timeout`` seconds (``None``: no limit)."""
        deadline_at = None if timeout is None else time.monotonic() + timeout
        async with self._locked(timeout):
            while not self._done:
                if self._cancelled.is_set():
                    raise FutureCancelledError(f"request {self.request_id} was cancelled")
                remaining = _remaining(deadline_at)
                if remaining is not None and remaining <= 0:
                    raise self._timed_out(timeout)
                self.polls += 1
                try:
                    response = await self._client.poll_once(
                        self.poll_spec, timeout=self._poll_timeout(remaining), **self._poll_call()
                    )
                except APIError as err:
                    wait: float | None = self._after_error(err)
                else:
                    wait = self._after_reply(response)
                if wait is not None:
                    await self._sleep(wait, deadline_at)
        return self._result  # type: ignore[return-value]
