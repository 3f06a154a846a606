"""The call pipeline: build -> send with retries -> decode, with telemetry around each stage.

``SyncAPIClient`` and ``AsyncAPIClient`` are twins: everything that does not do I/O lives in
``ClientCore`` and the modules it calls, so each twin is only the loop that sends.

Every answer is read streamed, status first: the status line and headers, then the body through
``_body_limit`` (decoded in bounded pieces, at most the endpoint's ``max_response_bytes``; per
event for a stream). An answer that is not a stream must arrive in full within the attempt's
timeout, itself within what is left of the call's deadline: the asyncio client holds the whole
exchange to it; the synchronous one checks it after every chunk of the body and bounds each
read by it (a server that trickles the head itself is bounded per read only there).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import httpx
from pydantic import BaseModel

from ._body_limit import LimitedBody
from ._call_context import claim_capture
from ._client_core import Call, ClientCore
from ._config import HTTPBackend
from ._errors import APIError, ResponseLostError, ResponseTooLargeError
from ._futures import AsyncFutureHandle, FutureHandle, QueueStateObserver
from ._options import RequestOptions
from ._response import decode_response, recover_submission
from ._retry import runtime_retry_loop
from ._spec import EndpointSpec
from ._transport import AsyncPools, SyncPools, send_streamed

if TYPE_CHECKING:
    # Event streams and page walks load with the first call that needs them: most programs
    # never stream or page, and importing them is part of every SDK's import time.
    from ._sse import AsyncStream, Stream

__all__ = ["AsyncAPIClient", "SyncAPIClient"]

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E")


def _retry_context(call: Call) -> Any:
    # Imported on the first retry: most calls never need it, and stamina with tenacity is a
    # good part of the import time of a client.
    import stamina

    return stamina.retry_context(
        on=call.state.wait_for, attempts=call.state.max_attempts, timeout=None
    )


class SyncAPIClient(ClientCore):
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

    def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        window = self._window(call)
        if window is None:
            return self._send_retrying(call, stream)
        while True:  # the endpoint's backpressure: wait out the window, send the same again
            window.wait_sync()
            try:
                return self._send_retrying(call, stream)
            except APIError as err:
                if not self._refused(call, err, window):
                    raise

    def _send_retrying(self, call: Call, stream: bool) -> httpx.Response:
        client = self._pools.get(call.pool)
        try:
            try:  # the first attempt runs without the retry machinery (most calls need no more)
                return self._attempt(client, call, stream)
            except APIError as err:
                if call.state.max_attempts == 1:
                    raise
                first: APIError | None = err
            with runtime_retry_loop():  # reported by telemetry, not by stamina's own log
                for attempt in _retry_context(call):
                    with attempt:
                        first, failed = None, first
                        if failed is not None:
                            raise failed  # stamina decides on it: wait and retry, or give up
                        response = self._attempt(client, call, stream)
        except APIError as err:
            raise self._failed(call, err) from err.__cause__
        return response

    def _attempt(self, client: httpx.Client, call: Call, stream: bool) -> httpx.Response:
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
        capture = claim_capture()  # a with_raw_response / with_streaming_response wrapper's
        call = self._start(
            spec,
            path_params=path_params,
            query=query,
            body=body,
            content=content,
            secret_headers=secret_headers,
            options=options,
        )
        response = self._send(call, stream=capture is not None and capture.streaming)

        def parse() -> T:
            return decode_response(self.api, self.config, spec, response, response_type, call.path)

        return parse() if capture is None else capture.hold(call, response, parse)

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
        capture = claim_capture()
        if capture is not None:  # the raw answer, whose parse() builds the handle
            call = self._start(spec, **_call_kwargs(kwargs))
            response = self._send(call, stream=capture.streaming)

            def handle() -> FutureHandle[T, R]:
                sub = decode_response(
                    self.api, self.config, spec, response, response_type, call.path
                )
                return FutureHandle(self, spec, sub, result_type, on_queue_state=on_queue_state)

            return cast(FutureHandle[T, R], capture.hold(call, response, handle))
        try:
            submission = self.request(spec, response_type, **kwargs)
        except ResponseLostError as err:
            submission = recover_submission(self.api, spec, response_type, err)
        return FutureHandle(self, spec, submission, result_type, on_queue_state=on_queue_state)

    def stream(self, spec: EndpointSpec, event_type: type[E], **kwargs: Any) -> Stream[E]:
        """Open a server-sent-event stream; iterate it for typed events, close it to hang up."""
        from ._sse import Stream

        capture = claim_capture()
        call = self._start(spec, **_call_kwargs(kwargs))
        response = self._send(call, stream=True)
        if capture is not None:  # parse() opens the stream on the unread body

            def open_stream() -> Stream[E]:
                return Stream(response, event_type, spec=spec, path=call.path)

            return cast(Stream[E], capture.hold(call, response, open_stream, reads_body=False))
        try:
            return Stream(response, event_type, spec=spec, path=call.path)
        except BaseException:
            response.close()  # e.g. not an event stream: nobody else holds the response
            raise

    def paginate_pages(
        self, spec: EndpointSpec, response_type: type[T], **kwargs: Any
    ) -> Iterator[T]:
        """Iterate over the decoded pages of a paginated listing (its style: ``spec.paginate``)."""
        from ._pagination import PageWalk

        walk = PageWalk(spec, kwargs.pop("query", None))
        while (query := walk.query()) is not None:
            call = self._start(spec, **_call_kwargs({**kwargs, "query": query}))
            response = self._send(call)
            page = decode_response(self.api, self.config, spec, response, response_type, call.path)
            walk.advance(page, response.headers)
            yield page

    def paginate(self, spec: EndpointSpec, response_type: type[T], **kwargs: Any) -> Iterator[Any]:
        """Iterate over every item of a paginated listing, one page at a time."""
        from ._pagination import PageWalk

        walk = PageWalk(spec, None)  # only reads items: the pages' own walk sends the queries
        for page in self.paginate_pages(spec, response_type, **kwargs):
            yield from walk.items(page)

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


class AsyncAPIClient(ClientCore):
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

    async def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        window = self._window(call)
        if window is None:
            return await self._send_retrying(call, stream)
        while True:  # the endpoint's backpressure: wait out the window, send the same again
            await window.wait()
            try:
                return await self._send_retrying(call, stream)
            except APIError as err:
                if not self._refused(call, err, window):
                    raise

    async def _send_retrying(self, call: Call, stream: bool) -> httpx.Response:
        client = self._pools.get(call.pool)
        try:
            try:  # the first attempt runs without the retry machinery (most calls need no more)
                return await self._attempt(client, call, stream)
            except APIError as err:
                if call.state.max_attempts == 1:
                    raise
                first: APIError | None = err
            with runtime_retry_loop():  # reported by telemetry, not by stamina's own log
                async for attempt in _retry_context(call):
                    with attempt:
                        first, failed = None, first
                        if failed is not None:
                            raise failed  # stamina decides on it: wait and retry, or give up
                        response = await self._attempt(client, call, stream)
        except APIError as err:
            raise self._failed(call, err) from err.__cause__
        return response

    async def _attempt(self, client: httpx.AsyncClient, call: Call, stream: bool) -> httpx.Response:
        request = self._request_for_attempt(call)
        response: httpx.Response | None = None
        body: LimitedBody | None = None
        try:
            # The whole exchange within the attempt's wall clock (a stream: until it opens),
            # however slowly the bytes arrive. Always streamed: the status is known before the
            # body is read (a body cut off after it is still that status's answer), and the
            # body is read within limits.
            async with asyncio.timeout(call.budget):
                response = await send_streamed(client, request)
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
        capture = claim_capture()  # a with_raw_response / with_streaming_response wrapper's
        call = self._start(
            spec,
            path_params=path_params,
            query=query,
            body=body,
            content=content,
            secret_headers=secret_headers,
            options=options,
        )
        response = await self._send(call, stream=capture is not None and capture.streaming)

        def parse() -> T:
            return decode_response(self.api, self.config, spec, response, response_type, call.path)

        return parse() if capture is None else capture.hold(call, response, parse)

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
        capture = claim_capture()
        if capture is not None:  # the raw answer, whose parse() builds the handle
            call = self._start(spec, **_call_kwargs(kwargs))
            response = await self._send(call, stream=capture.streaming)

            def handle() -> AsyncFutureHandle[T, R]:
                sub = decode_response(
                    self.api, self.config, spec, response, response_type, call.path
                )
                return AsyncFutureHandle(
                    self, spec, sub, result_type, on_queue_state=on_queue_state
                )

            return cast(AsyncFutureHandle[T, R], capture.hold(call, response, handle))
        try:
            submission = await self.request(spec, response_type, **kwargs)
        except ResponseLostError as err:
            submission = recover_submission(self.api, spec, response_type, err)
        return AsyncFutureHandle(self, spec, submission, result_type, on_queue_state=on_queue_state)

    async def stream(
        self, spec: EndpointSpec, event_type: type[E], **kwargs: Any
    ) -> AsyncStream[E]:
        """Open a server-sent-event stream; iterate it for typed events, close it to hang up."""
        from ._sse import AsyncStream

        capture = claim_capture()
        call = self._start(spec, **_call_kwargs(kwargs))
        response = await self._send(call, stream=True)
        if capture is not None:  # parse() opens the stream on the unread body

            def open_stream() -> AsyncStream[E]:
                return AsyncStream(response, event_type, spec=spec, path=call.path)

            return cast(AsyncStream[E], capture.hold(call, response, open_stream, reads_body=False))
        try:
            return AsyncStream(response, event_type, spec=spec, path=call.path)
        except BaseException:
            await response.aclose()  # e.g. not an event stream: nobody else holds the response
            raise

    async def paginate_pages(
        self, spec: EndpointSpec, response_type: type[T], **kwargs: Any
    ) -> AsyncIterator[T]:
        """Iterate over the decoded pages of a paginated listing (its style: ``spec.paginate``)."""
        from ._pagination import PageWalk

        walk = PageWalk(spec, kwargs.pop("query", None))
        while (query := walk.query()) is not None:
            call = self._start(spec, **_call_kwargs({**kwargs, "query": query}))
            response = await self._send(call)
            page = decode_response(self.api, self.config, spec, response, response_type, call.path)
            walk.advance(page, response.headers)
            yield page

    async def paginate(
        self, spec: EndpointSpec, response_type: type[T], **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Iterate over every item of a paginated listing, one page at a time."""
        from ._pagination import PageWalk

        walk = PageWalk(spec, None)  # only reads items: the pages' own walk sends the queries
        async for page in self.paginate_pages(spec, response_type, **kwargs):
            for item in walk.items(page):
                yield item

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
    exc: Exception, call: Call, request: httpx.Request
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
