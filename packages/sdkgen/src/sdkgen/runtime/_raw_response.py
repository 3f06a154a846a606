"""``with_raw_response`` and ``with_streaming_response``: an endpoint method's answer as a
response object (status, headers, the request, timing, retries) whose ``parse()`` gives what the
method itself returns.

A generated resource wraps each of its methods (:func:`to_raw_response_wrapper` and friends).
The wrapper runs the method unchanged, with a *capture* set in a context variable; the first
client call the method makes claims it (:func:`claim_capture`) and, instead of decoding the
answer, hands the response and the decoding step to the capture (:meth:`_Capture.hold`). So the
arguments are validated, the request built, sent, retried and checked exactly as for the plain
method: an error status raises the same typed error, from the wrapper's call, and ``parse()``
runs the same decoding (the same validation errors). Later calls in the same context (a
future's polls, say) see a claimed capture and run as usual.

- raw (``with_raw_response``): the body is read as for the plain method (within the endpoint's
  ``max_response_bytes`` and the attempt's timeout) before the response object is returned.
- streaming (``with_streaming_response``): the call is made when the ``with`` block is entered
  and returns once the status and headers arrived; the body is read only when asked
  (``iter_bytes``, ``iter_lines``, ``read``, ``parse``), one chunk in memory at a time, counted
  against ``max_response_bytes`` like any body, each read waiting at most the attempt's
  timeout. Leaving the block closes the response (also on an exception), which releases the
  connection.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, ParamSpec, TypeVar, cast

import httpx

from ._call_context import _CAPTURE, claim_capture
from ._client_core import Call
from ._errors import APIError, ResponseTooLargeError
from ._response import transport_error

__all__ = [
    "APIResponse",
    "AsyncAPIResponse",
    "AsyncResponseContextManager",
    "ResponseContextManager",
    "async_to_raw_response_wrapper",
    "async_to_streamed_response_wrapper",
    "claim_capture",
    "to_raw_response_wrapper",
    "to_streamed_response_wrapper",
]

P = ParamSpec("P")
R = TypeVar("R")
Resp = TypeVar("Resp", bound="_BaseResponse[Any]")


class _Held:
    """What a claimed capture received: the call, its response and how to decode it."""

    __slots__ = ("call", "elapsed", "parse", "reads_body", "response")

    def __init__(
        self, call: Call, response: httpx.Response, parse: Callable[[], Any], reads_body: bool
    ) -> None:
        self.call = call
        self.response = response
        self.parse = parse
        self.reads_body = reads_body
        self.elapsed = call.state.elapsed()


class _Capture:
    """A pending raw-response request, set for the duration of one wrapped method call."""

    __slots__ = ("claimed", "held", "streaming")

    def __init__(self, *, streaming: bool) -> None:
        self.streaming = streaming  # send with the body left unread
        self.claimed = False
        self.held: _Held | None = None

    def hold(
        self,
        call: Call,
        response: httpx.Response,
        parse: Callable[[], Any],
        *,
        reads_body: bool = True,
    ) -> Any:
        """Keep the answer undecoded; the client method returns what this returns (ignored by
        the wrapper). ``reads_body=False``: ``parse`` works on the open body (an event stream)."""
        self.held = _Held(call, response, parse, reads_body)
        return None

    def take(self, method: Callable[..., Any]) -> _Held:
        if self.held is None:  # a method that never reached the client: not an endpoint method
            name = getattr(method, "__qualname__", repr(method))
            raise TypeError(f"{name} made no API call whose raw response could be returned")
        return self.held


def _body_error(held: _Held, exc: Exception) -> Exception:
    if isinstance(exc, ResponseTooLargeError | APIError):
        return exc
    # The status was a success: the body broke off while read, and nothing is resent mid-body.
    return transport_error(held.call.spec, held.call.path, exc, resend_ambiguous=True)


class _BaseResponse(Generic[R]):
    """What the twins share: the answer's status line, headers, request and timing."""

    def __init__(self, held: _Held) -> None:
        self._held = held
        self._parsed: list[R] = []  # parse() decodes once
        self.http_response: httpx.Response = held.response
        #: Attempts before the one that answered (0: the first attempt did).
        self.retries_taken: int = held.call.state.attempt - 1
        #: From the call's start until its answer arrived (read, for a raw response; its
        #: status and headers, for a streamed one), retries and waits between them included.
        self.elapsed = datetime.timedelta(seconds=held.elapsed)

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.http_response.headers

    @property
    def http_request(self) -> httpx.Request:
        """The request of the attempt that answered (its URL, method and headers)."""
        return self.http_response.request

    @property
    def url(self) -> httpx.URL:
        return self.http_request.url

    @property
    def method(self) -> str:
        return self.http_request.method

    @property
    def endpoint(self) -> str:
        """The id of the endpoint called."""
        return self._held.call.spec.id

    @property
    def is_closed(self) -> bool:
        return self.http_response.is_closed

    def _decoded(self) -> R:
        if not self._parsed:
            self._parsed.append(cast(R, self._held.parse()))
        return self._parsed[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} {self.url} [{self.status_code}]>"


class APIResponse(_BaseResponse[R]):
    """An answer of a synchronous endpoint method, not yet decoded.

    Example::

        raw = api.notes.with_raw_response.get_note("n1")
        print(raw.status_code, raw.headers["x-request-id"], raw.retries_taken)
        note = raw.parse()  # what api.notes.get_note("n1") returns
    """

    def parse(self) -> R:
        """What the method returns (the same validation and errors); the body is read first
        unless the method returns an open stream."""
        if self._held.reads_body:
            self.read()
        return self._decoded()

    def read(self) -> bytes:
        """The whole body (within the endpoint's ``max_response_bytes``)."""
        try:
            return self.http_response.read()
        except httpx.HTTPError as exc:
            raise _body_error(self._held, exc) from exc

    @property
    def content(self) -> bytes:
        return self.read()

    @property
    def text(self) -> str:
        self.read()
        return self.http_response.text

    def json(self) -> Any:
        """The body parsed as JSON, unvalidated."""
        return json.loads(self.read())

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body's decoded bytes in chunks (as they arrive when ``chunk_size`` is None);
        the response is closed once they ran out (or the iteration stopped)."""
        try:
            yield from self.http_response.iter_bytes(chunk_size)
        except httpx.HTTPError as exc:
            raise _body_error(self._held, exc) from exc
        finally:
            self.http_response.close()

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        try:
            yield from self.http_response.iter_text(chunk_size)
        except httpx.HTTPError as exc:
            raise _body_error(self._held, exc) from exc
        finally:
            self.http_response.close()

    def iter_lines(self) -> Iterator[str]:
        """The body's lines, without their line endings."""
        try:
            yield from self.http_response.iter_lines()
        except httpx.HTTPError as exc:
            raise _body_error(self._held, exc) from exc
        finally:
            self.http_response.close()

    def close(self) -> None:
        """Hang up: release the connection without reading the rest of the body."""
        self.http_response.close()


class AsyncAPIResponse(_BaseResponse[R]):
    """The asyncio twin of :class:`APIResponse`; reading the body is awaited.

    Example::

        raw = await api.notes.with_raw_response.get_note("n1")
        note = await raw.parse()
    """

    async def parse(self) -> R:
        """What the method returns (the same validation and errors); the body is read first
        unless the method returns an open stream."""
        if self._held.reads_body:
            await self.read()
        return self._decoded()

    async def read(self) -> bytes:
        """The whole body (within the endpoint's ``max_response_bytes``)."""
        try:
            return await self.http_response.aread()
        except httpx.HTTPError as exc:
            raise _body_error(self._held, exc) from exc

    async def text(self) -> str:
        await self.read()
        return self.http_response.text

    async def json(self) -> Any:
        """The body parsed as JSON, unvalidated."""
        return json.loads(await self.read())

    async def iter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body's decoded bytes in chunks; the response is closed once they ran out."""
        try:
            async for chunk in self.http_response.aiter_bytes(chunk_size):
                yield chunk
        except httpx.HTTPError as exc:
            raise _body_error(self._held, exc) from exc
        finally:
            await self.http_response.aclose()

    async def iter_text(self, chunk_size: int | None = None) -> AsyncIterator[str]:
        try:
            async for text in self.http_response.aiter_text(chunk_size):
                yield text
        except httpx.HTTPError as exc:
            raise _body_error(self._held, exc) from exc
        finally:
            await self.http_response.aclose()

    async def iter_lines(self) -> AsyncIterator[str]:
        """The body's lines, without their line endings."""
        try:
            async for line in self.http_response.aiter_lines():
                yield line
        except httpx.HTTPError as exc:
            raise _body_error(self._held, exc) from exc
        finally:
            await self.http_response.aclose()

    async def close(self) -> None:
        """Hang up: release the connection without reading the rest of the body."""
        await self.http_response.aclose()


class ResponseContextManager(Generic[Resp]):
    """``with`` makes the call and gives its :class:`APIResponse`; leaving closes it."""

    def __init__(self, make: Callable[[], Resp]) -> None:
        self._make = make
        self._response: Resp | None = None

    def __enter__(self) -> Resp:
        self._response = self._make()
        return self._response

    def __exit__(self, *exc: object) -> None:
        if self._response is not None:
            cast(APIResponse[Any], self._response).close()


class AsyncResponseContextManager(Generic[Resp]):
    """``async with`` makes the call and gives its :class:`AsyncAPIResponse`; leaving closes it."""

    def __init__(self, make: Callable[[], Awaitable[Resp]]) -> None:
        self._make = make
        self._response: Resp | None = None

    async def __aenter__(self) -> Resp:
        self._response = await self._make()
        return self._response

    async def __aexit__(self, *exc: object) -> None:
        if self._response is not None:
            await cast(AsyncAPIResponse[Any], self._response).close()


def _run(method: Callable[..., Any], args: Any, kwargs: Any, *, streaming: bool) -> _Held:
    capture = _Capture(streaming=streaming)
    token = _CAPTURE.set(capture)
    try:
        method(*args, **kwargs)
    finally:
        _CAPTURE.reset(token)
    return capture.take(method)


async def _arun(
    method: Callable[..., Awaitable[Any]], args: Any, kwargs: Any, *, streaming: bool
) -> _Held:
    capture = _Capture(streaming=streaming)
    token = _CAPTURE.set(capture)
    try:
        await method(*args, **kwargs)
    finally:
        _CAPTURE.reset(token)
    return capture.take(method)


def to_raw_response_wrapper(method: Callable[P, R]) -> Callable[P, APIResponse[R]]:
    """``method`` returning its answer as an :class:`APIResponse` (the body read)."""

    @functools.wraps(method)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> APIResponse[R]:
        return APIResponse(_run(method, args, kwargs, streaming=False))

    return wrapped


def async_to_raw_response_wrapper(
    method: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[AsyncAPIResponse[R]]]:
    """``method`` returning its answer as an :class:`AsyncAPIResponse` (the body read)."""

    @functools.wraps(method)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> AsyncAPIResponse[R]:
        return AsyncAPIResponse(await _arun(method, args, kwargs, streaming=False))

    return wrapped


def to_streamed_response_wrapper(
    method: Callable[P, R],
) -> Callable[P, ResponseContextManager[APIResponse[R]]]:
    """``method`` as a context manager giving its answer once status and headers arrived."""

    @functools.wraps(method)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseContextManager[APIResponse[R]]:
        return ResponseContextManager(
            lambda: APIResponse[R](_run(method, args, kwargs, streaming=True))
        )

    return wrapped


def async_to_streamed_response_wrapper(
    method: Callable[P, Awaitable[R]],
) -> Callable[P, AsyncResponseContextManager[AsyncAPIResponse[R]]]:
    """The asyncio twin of :func:`to_streamed_response_wrapper` (``async with``)."""

    @functools.wraps(method)
    def wrapped(
        *args: P.args, **kwargs: P.kwargs
    ) -> AsyncResponseContextManager[AsyncAPIResponse[R]]:
        async def make() -> AsyncAPIResponse[R]:
            return AsyncAPIResponse(await _arun(method, args, kwargs, streaming=True))

        return AsyncResponseContextManager(make)

    return wrapped
