"""The call pipeline: build -> send with retries -> decode, with telemetry around each stage.

``SyncAPIClient`` and ``AsyncAPIClient`` are twins: everything that does not do I/O lives in
``_ClientCore`` and the modules it calls, so each twin is only the loop that sends.

Every answer is read streamed, status first: the status line and headers, then the body through
``_body_limit`` (decoded in bounded pieces, at most the endpoint's ``max_response_bytes``; per
event for a stream). An answer that is not a stream must arrive in full within the attempt's
timeout, itself within what is left of the call's deadline: the asyncio client holds the whole
exchange to it; the synchronous one checks it after every chunk of the body and bounds each
read by it (a server that trickles the head itself is bounded per read only there).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Self, TypeVar

import httpx
import stamina
from pydantic import BaseModel

from ._body_limit import LimitedBody, limit_body
from ._codec import WireCodecs
from ._config import ClientConfig, HTTPBackend, WireMode
from ._errors import APIError, ResponseLostError, ResponseTooLargeError
from ._futures import AsyncFutureHandle, FutureHandle, QueueStateObserver
from ._options import NotGiven, RequestOptions
from ._otel import inject_trace_context
from ._request import CallArgs, build_request, encode_json_body, new_idempotency_key, render_path
from ._response import (
    cut_off_error,
    decode_response,
    recover_submission,
    request_id_of,
    status_error,
    too_large_error,
    transport_error,
)
from ._retry import RetryInfo, RetryState
from ._spec import APISpec, EndpointSpec, RetryPolicy
from ._sse import AsyncStream, Stream
from ._telemetry import Event, Listener, Telemetry, logger
from ._transport import AsyncPools, SyncPools

__all__ = ["AsyncAPIClient", "SyncAPIClient"]

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E")


_CALL_IDS = itertools.count(1)


class _Call:
    """One call in flight: its spec, fixed arguments, policy and retry state."""

    __slots__ = (
        "args",
        "budget",
        "call_id",
        "ends_at",
        "path",
        "policy",
        "pool",
        "spec",
        "state",
        "timeout",
    )

    def __init__(
        self,
        spec: EndpointSpec,
        args: CallArgs,
        policy: RetryPolicy,
        state: RetryState,
        timeout: float,
        path: str,
        call_id: int,
        pool: str,
    ) -> None:
        self.pool = pool
        self.call_id = call_id
        self.spec = spec
        self.args = args
        self.policy = policy
        self.state = state
        self.timeout = timeout
        self.path = path
        # The current attempt's wall-clock allowance (its timeout within the call's deadline)
        # and when it ends: enforced while the answer's bytes arrive, not only between reads.
        self.budget = timeout
        self.ends_at = 0.0


class _ClientCore:
    api: ClassVar[APISpec]
    endpoints: ClassVar[Mapping[str, EndpointSpec]] = {}

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        listeners: Iterable[Listener] = (),
        on_retry: Callable[[RetryInfo], None] | None = None,
        resend_ambiguous: bool = False,
        propagate_trace: bool = False,
        wire: WireMode = "auto",
        config: ClientConfig | None = None,
    ) -> None:
        self.config = config or ClientConfig.resolve(
            self.api,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            deadline=deadline,
            default_headers=default_headers,
            resend_ambiguous=resend_ambiguous,
            propagate_trace=propagate_trace,
            wire=wire,
        )
        self.codecs = WireCodecs(self.api, self.config.wire)
        self.telemetry = Telemetry(listeners)
        self._on_retry = on_retry

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"

    # -- per-call resolution -------------------------------------------------------------

    def _policy(self, spec: EndpointSpec, options: RequestOptions) -> RetryPolicy:
        policy = self.api.retry_policies.get(spec.retry) or RetryPolicy()
        changes: dict[str, Any] = {}
        if not isinstance(options.max_retries, NotGiven):
            changes["max_retries"] = options.max_retries
        elif self.config.max_retries is not None and policy.max_retries > 0:
            # A client-wide setting tunes retrying endpoints; it never adds retries to an
            # endpoint whose policy is not to retry.
            changes["max_retries"] = self.config.max_retries
        if not isinstance(options.deadline, NotGiven):
            changes["deadline"] = options.deadline
        elif self.config.deadline is not None:
            changes["deadline"] = self.config.deadline
        if not changes:
            return policy
        return dataclasses.replace(policy, **changes)

    def _attempt_timeout(self, spec: EndpointSpec, options: RequestOptions) -> float:
        if not isinstance(options.timeout, NotGiven) and options.timeout is not None:
            return options.timeout
        pool = self.api.pools.get(spec.pool)
        if spec.timeout is not None:
            return spec.timeout
        if pool is not None and pool.timeout is not None:
            return pool.timeout
        return self.config.timeout

    def _start(
        self,
        spec: EndpointSpec,
        *,
        path_params: Mapping[str, Any] | None,
        query: Mapping[str, Any] | None,
        body: BaseModel | Mapping[str, Any] | None,
        content: bytes | None,
        secret_headers: Mapping[str, str | None] | None,
        options: RequestOptions | None,
    ) -> _Call:
        options = options or RequestOptions()
        if spec.deprecated:
            warnings.warn(
                f"{spec.id} is deprecated: {spec.deprecated}", DeprecationWarning, stacklevel=4
            )
        if content is None and body is not None:
            content = encode_json_body(body)
        key = options.idempotency_key
        if key is None and spec.method != "GET":
            key = new_idempotency_key()
        args = CallArgs(
            path_params=path_params,
            query=query,
            content=content,
            secret_headers=secret_headers,
            extra_headers=options.extra_headers,
            idempotency_key=key,
            compress=options.compress is not False,
        )
        policy = self._policy(spec, options)
        path = render_path(spec, args.path_params)
        call_id = next(_CALL_IDS)
        state = RetryState(
            policy,
            endpoint=spec.id,
            deadline=policy.deadline,
            report=self._report_retry(spec, path, call_id),
        )
        timeout = self._attempt_timeout(spec, options)
        return _Call(spec, args, policy, state, timeout, path, call_id, options.pool or spec.pool)

    def _report_retry(
        self, spec: EndpointSpec, path: str, call_id: int
    ) -> Callable[[RetryInfo], None]:
        def report(info: RetryInfo) -> None:
            cause = info.cause
            self.telemetry.emit(
                Event(
                    "retry",
                    spec.id,
                    spec.method,
                    path,
                    attempt=info.attempt,
                    status_code=getattr(cause, "status_code", None),
                    elapsed=info.elapsed,
                    wait=info.wait,
                    error=str(cause),
                    error_type=type(cause).__name__,
                    call_id=call_id,
                )
            )
            if self._on_retry is not None:
                try:
                    self._on_retry(info)
                except Exception:
                    logger.exception("on_retry hook %r failed; the call goes on", self._on_retry)

        return report

    def _request_for_attempt(self, call: _Call) -> httpx.Request:
        attempt = call.state.next_attempt()
        timeout = call.timeout
        remaining = call.state.remaining()
        if remaining is not None:
            timeout = max(min(timeout, remaining), 0.001)
        call.budget = timeout
        call.ends_at = time.monotonic() + timeout
        request = build_request(
            self.api,
            self.config,
            call.spec,
            call.args,
            retries_taken=attempt - 1,
            timeout=httpx.Timeout(timeout, connect=min(self.config.connect_timeout, timeout)),
        )
        if self.config.propagate_trace:
            inject_trace_context(request.headers)
        self.telemetry.emit(
            Event(
                "request_start",
                call.spec.id,
                call.spec.method,
                call.path,
                attempt=attempt,
                call_id=call.call_id,
            )
        )
        self.telemetry.log_request(call.spec.id, attempt, request, self._secret_names(call.spec))
        return request

    def _limit(self, call: _Call, response: httpx.Response, stream: bool) -> LimitedBody:
        """Bound the body about to be read: its size (per event for a stream that opened),
        and, unless it is a stream, the time it may take to arrive."""
        spec = call.spec
        limit = spec.max_response_bytes or self.api.max_response_bytes
        per_event = stream and response.status_code < 400

        def too_large(size: int) -> ResponseTooLargeError:
            return too_large_error(self.api, spec, response, call.path, size, per_event=per_event)

        deadline_at = None if per_event else call.ends_at
        return limit_body(
            response, limit=limit, too_large=too_large, per_event=per_event, deadline_at=deadline_at
        )

    def _lost(
        self,
        call: _Call,
        request: httpx.Request,
        response: httpx.Response | None,
        body: LimitedBody | None,
        exc: httpx.HTTPError | ResponseTooLargeError,
    ) -> APIError:
        """The error for an attempt whose answer did not arrive in full. Once the status line
        has arrived it decides (status first): an error status is that status's error; a
        success status means a state-changing request was applied."""
        resend = self.config.resend_ambiguous
        if response is None:
            return transport_error(call.spec, call.path, exc, resend_ambiguous=resend)
        head = bytes(body.head) if body is not None else b""
        return cut_off_error(
            self.api, call.spec, response, call.path, exc, head=head, resend_ambiguous=resend
        )

    def _secret_names(self, spec: EndpointSpec) -> tuple[str, ...]:
        auth = (self.api.auth.header,) if self.api.auth is not None else ()
        return (*auth, *spec.secret_headers)

    def _check(self, call: _Call, response: httpx.Response) -> None:
        """Raise the typed error for an error status (the body must be read)."""
        if response.status_code >= 400:
            raise status_error(self.api, self.config, call.spec, response, call.path)
        self.telemetry.emit(
            Event(
                "request_end",
                call.spec.id,
                call.spec.method,
                call.path,
                attempt=call.state.attempt,
                status_code=response.status_code,
                elapsed=call.state.elapsed(),
                request_id=request_id_of(self.api, response),
                call_id=call.call_id,
            )
        )

    def _failed(self, call: _Call, err: APIError) -> APIError:
        err.attempts = call.state.attempt
        err.elapsed = call.state.elapsed()
        self.telemetry.emit(
            Event(
                "request_error",
                call.spec.id,
                call.spec.method,
                call.path,
                attempt=call.state.attempt,
                status_code=err.status_code,
                elapsed=err.elapsed,
                error=str(err),
                error_type=type(err).__name__,
                request_id=err.request_id,
                call_id=call.call_id,
            )
        )
        return err

    def _endpoint(self, endpoint_id: str) -> EndpointSpec:
        try:
            return self.endpoints[endpoint_id]
        except KeyError:
            raise LookupError(f"no endpoint {endpoint_id!r} in {type(self).__name__}") from None


def _retry_context(call: _Call) -> Any:
    return stamina.retry_context(
        on=call.state.wait_for, attempts=call.state.max_attempts, timeout=None
    )


class SyncAPIClient(_ClientCore):
    """A synchronous client for the API described by the class attribute ``api``.

    Example::

        with MyAPI(base_url="http://127.0.0.1:8000") as api:
            item = api.items.get(item_id="42")
    """

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._pools = SyncPools(
            self.api.pools,
            user_client=http_client,
            transport=transport,
            timeout=httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout),
            http_backend=self.config.http_backend,
        )

    @property
    def closed(self) -> bool:
        return self._pools.closed

    def http_client(self, pool: str = "default") -> httpx.Client:
        """The httpx client behind one of the API's connection pools, for a request the
        manifest does not describe (such as following a presigned download URL). It stays
        the SDK's: use it, do not close it."""
        return self._pools.get(pool)

    def close(self) -> None:
        """Close every connection pool this client opened (a user-supplied client is left open)."""
        self._pools.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: _Call, *, stream: bool = False) -> httpx.Response:
        client = self._pools.get(call.pool)
        try:
            try:  # the first attempt runs without the retry machinery (most calls need no more)
                return self._attempt(client, call, stream)
            except APIError as err:
                if call.state.max_attempts == 1:
                    raise
                first: APIError | None = err
            for attempt in _retry_context(call):
                with attempt:
                    first, failed = None, first
                    if failed is not None:
                        raise failed  # stamina decides on it: wait and retry, or give up
                    response = self._attempt(client, call, stream)
        except APIError as err:
            raise self._failed(call, err) from err.__cause__
        return response

    def _attempt(self, client: httpx.Client, call: _Call, stream: bool) -> httpx.Response:
        request = self._request_for_attempt(call)
        response: httpx.Response | None = None
        body: LimitedBody | None = None
        try:
            # Always streamed: the status is known before the body is read (a body cut off
            # after it is still that status's answer), and the body is read within limits.
            response = client.send(request, stream=True)
            body = self._limit(call, response, stream)
            if not stream or response.status_code >= 400:
                response.read()
        except (httpx.TransportError, httpx.DecodingError, ResponseTooLargeError) as exc:
            if response is not None:
                response.close()
            if isinstance(exc, ResponseTooLargeError) and not _error_status(response):
                raise
            raise self._lost(call, request, response, body, exc) from exc
        except BaseException:
            if response is not None:
                response.close()
            raise
        self._check(call, response)
        return response

    def request(
        self,
        spec: EndpointSpec,
        response_type: type[T],
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: BaseModel | Mapping[str, Any] | None = None,
        content: bytes | None = None,
        secret_headers: Mapping[str, str | None] | None = None,
        options: RequestOptions | None = None,
    ) -> T:
        """Send one call with retries and return its decoded response."""
        call = self._start(
            spec,
            path_params=path_params,
            query=query,
            body=body,
            content=content,
            secret_headers=secret_headers,
            options=options,
        )
        response = self._send(call)
        return decode_response(self.api, self.config, spec, response, response_type, call.path)

    def submit(
        self,
        spec: EndpointSpec,
        response_type: type[T],
        result_type: type[R],
        *,
        on_queue_state: QueueStateObserver | None = None,
        **kwargs: Any,
    ) -> FutureHandle[T, R]:
        """Send a future-returning call; the handle polls for the result of type ``result_type``.

        When the answer was cut off after a success status but the future's id arrived, the
        handle is built from that id (the result is then polled for as usual)."""
        try:
            submission = self.request(spec, response_type, **kwargs)
        except ResponseLostError as err:
            submission = recover_submission(self.api, spec, response_type, err)
        return FutureHandle(self, spec, submission, result_type, on_queue_state=on_queue_state)

    def stream(self, spec: EndpointSpec, event_type: type[E], **kwargs: Any) -> Stream[E]:
        """Open a server-sent-event stream; iterate it for typed events, close it to hang up."""
        call = self._start(spec, **_call_kwargs(kwargs))
        response = self._send(call, stream=True)
        try:
            return Stream(response, event_type, spec=spec, path=call.path)
        except BaseException:
            response.close()  # e.g. not an event stream: nobody else holds the response
            raise

    def paginate(self, spec: EndpointSpec, response_type: type[T], **kwargs: Any) -> Iterator[Any]:
        """Iterate over every item of an offset-paginated listing, one page at a time."""
        page_spec = spec.paginate
        if page_spec is None:
            raise ValueError(f"{spec.id} is not paginated")
        query = dict(kwargs.pop("query", None) or {})
        offset = int(_given(query.get(page_spec.offset), 0))
        while True:
            query[page_spec.offset] = offset
            page = self.request(spec, response_type, query=query, **kwargs)
            items = list(getattr(page, page_spec.items))
            yield from items
            offset += len(items)
            total = _dotted(page, page_spec.total)
            if not items or (total is not None and offset >= total):
                return

    def poll_once(
        self,
        spec: EndpointSpec,
        *,
        timeout: float,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        pool: str | None = None,
    ) -> httpx.Response:
        """One poll of a future, no retries: the future's own contract decides what happens next."""
        call = self._start(
            spec,
            path_params=path_params,
            query=query,
            body=body,
            content=None,
            secret_headers=None,
            options=RequestOptions(
                max_retries=0, timeout=timeout, deadline=None, extra_headers=headers, pool=pool
            ),
        )
        return self._send(call)


class AsyncAPIClient(_ClientCore):
    """The asyncio twin of :class:`SyncAPIClient`; every call is awaited."""

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._pools = AsyncPools(
            self.api.pools,
            user_client=http_client,
            transport=transport,
            timeout=httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout),
            http_backend=self.config.http_backend,
        )

    @property
    def closed(self) -> bool:
        return self._pools.closed

    def http_client(self, pool: str = "default") -> httpx.AsyncClient:
        """The httpx client behind one of the API's connection pools on the running event loop,
        for a request the manifest does not describe (such as following a presigned download
        URL). It stays the SDK's: use it, do not close it."""
        return self._pools.get(pool)

    def use_http_backend(self, backend: HTTPBackend) -> None:
        """Send with ``backend`` from the pools not built yet on (those already built keep
        theirs: their connections may be in use).

        Example::

            api.use_http_backend("httpx")  # e.g. once the server's settings say so
        """
        self._pools.use_http_backend(backend)

    async def close(self) -> None:
        """Close every connection pool this client opened (a user-supplied client is left open)."""
        await self._pools.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _send(self, call: _Call, *, stream: bool = False) -> httpx.Response:
        client = self._pools.get(call.pool)
        try:
            try:  # the first attempt runs without the retry machinery (most calls need no more)
                return await self._attempt(client, call, stream)
            except APIError as err:
                if call.state.max_attempts == 1:
                    raise
                first: APIError | None = err
            async for attempt in _retry_context(call):
                with attempt:
                    first, failed = None, first
                    if failed is not None:
                        raise failed  # stamina decides on it: wait and retry, or give up
                    response = await self._attempt(client, call, stream)
        except APIError as err:
            raise self._failed(call, err) from err.__cause__
        return response

    async def _attempt(
        self, client: httpx.AsyncClient, call: _Call, stream: bool
    ) -> httpx.Response:
        request = self._request_for_attempt(call)
        response: httpx.Response | None = None
        body: LimitedBody | None = None
        try:
            # The whole exchange within the attempt's wall clock (a stream: until it opens),
            # however slowly the bytes arrive. Always streamed: the status is known before the
            # body is read (a body cut off after it is still that status's answer), and the
            # body is read within limits.
            async with asyncio.timeout(call.budget):
                response = await client.send(request, stream=True)
                body = self._limit(call, response, stream)
                if not stream or response.status_code >= 400:
                    await response.aread()
        except (
            httpx.TransportError,
            httpx.DecodingError,
            ResponseTooLargeError,
            TimeoutError,
        ) as exc:
            if response is not None:
                await response.aclose()
            if isinstance(exc, ResponseTooLargeError) and not _error_status(response):
                raise
            cause = _as_read_timeout(exc, call, request)
            raise self._lost(call, request, response, body, cause) from cause
        except BaseException:
            if response is not None:
                await response.aclose()
            raise
        self._check(call, response)
        return response

    async def request(
        self,
        spec: EndpointSpec,
        response_type: type[T],
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: BaseModel | Mapping[str, Any] | None = None,
        content: bytes | None = None,
        secret_headers: Mapping[str, str | None] | None = None,
        options: RequestOptions | None = None,
    ) -> T:
        """Send one call with retries and return its decoded response."""
        call = self._start(
            spec,
            path_params=path_params,
            query=query,
            body=body,
            content=content,
            secret_headers=secret_headers,
            options=options,
        )
        response = await self._send(call)
        return decode_response(self.api, self.config, spec, response, response_type, call.path)

    async def submit(
        self,
        spec: EndpointSpec,
        response_type: type[T],
        result_type: type[R],
        *,
        on_queue_state: QueueStateObserver | None = None,
        **kwargs: Any,
    ) -> AsyncFutureHandle[T, R]:
        """Send a future-returning call; the handle polls for the result of type ``result_type``.

        When the answer was cut off after a success status but the future's id arrived, the
        handle is built from that id (the result is then polled for as usual)."""
        try:
            submission = await self.request(spec, response_type, **kwargs)
        except ResponseLostError as err:
            submission = recover_submission(self.api, spec, response_type, err)
        return AsyncFutureHandle(self, spec, submission, result_type, on_queue_state=on_queue_state)

    async def stream(
        self, spec: EndpointSpec, event_type: type[E], **kwargs: Any
    ) -> AsyncStream[E]:
        """Open a server-sent-event stream; iterate it for typed events, close it to hang up."""
        call = self._start(spec, **_call_kwargs(kwargs))
        response = await self._send(call, stream=True)
        try:
            return AsyncStream(response, event_type, spec=spec, path=call.path)
        except BaseException:
            await response.aclose()  # e.g. not an event stream: nobody else holds the response
            raise

    async def paginate(
        self, spec: EndpointSpec, response_type: type[T], **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Iterate over every item of an offset-paginated listing, one page at a time."""
        page_spec = spec.paginate
        if page_spec is None:
            raise ValueError(f"{spec.id} is not paginated")
        query = dict(kwargs.pop("query", None) or {})
        offset = int(_given(query.get(page_spec.offset), 0))
        while True:
            query[page_spec.offset] = offset
            page = await self.request(spec, response_type, query=query, **kwargs)
            items = list(getattr(page, page_spec.items))
            for item in items:
                yield item
            offset += len(items)
            total = _dotted(page, page_spec.total)
            if not items or (total is not None and offset >= total):
                return

    async def poll_once(
        self,
        spec: EndpointSpec,
        *,
        timeout: float,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        pool: str | None = None,
    ) -> httpx.Response:
        """One poll of a future, no retries: the future's own contract decides what happens next."""
        call = self._start(
            spec,
            path_params=path_params,
            query=query,
            body=body,
            content=None,
            secret_headers=None,
            options=RequestOptions(
                max_retries=0, timeout=timeout, deadline=None, extra_headers=headers, pool=pool
            ),
        )
        return await self._send(call)


def _as_read_timeout(
    exc: Exception, call: _Call, request: httpx.Request
) -> httpx.HTTPError | ResponseTooLargeError:
    if isinstance(exc, httpx.HTTPError | ResponseTooLargeError):
        return exc
    # The attempt's wall clock ran out (asyncio): a read timeout, however the bytes trickled.
    return httpx.ReadTimeout(
        f"no complete answer within {call.budget:g}s (the attempt's timeout, within the "
        "call's deadline)",
        request=request,
    )


def _error_status(response: httpx.Response | None) -> bool:
    return response is not None and response.status_code >= 400


def _call_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    names = ("path_params", "query", "body", "content", "secret_headers", "options")
    unknown = set(kwargs) - set(names)
    if unknown:
        raise TypeError(f"unexpected arguments: {sorted(unknown)}")
    return {name: kwargs.get(name) for name in names}


def _given(value: Any, default: Any) -> Any:
    return default if value is None or isinstance(value, NotGiven) else value


def _dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None) if not isinstance(obj, dict) else obj.get(part)
    return obj
