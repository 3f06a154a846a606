"""Headers that say which public call a request was made for.

A high-level SDK method may send several requests (a submission, its polls, a lookup first); a
server that wants to know which method of the SDK sent them reads it from headers. The
decorator :func:`call_scope` puts a fixed set of headers into a context variable while the
decorated function runs, and :func:`build_request <._request.build_request>` adds them to every
request built in that context. Context variables follow the work: a coroutine handed to
:class:`~._loop.BackgroundLoop` runs in a copy of its submitter's context, and so does a task
it creates, so the requests made on behalf of a call carry its headers wherever they are sent.

Only the outermost call counts: a decorated function that calls another keeps its own
headers. Work that belongs to no call (heartbeats, refreshes, pollers serving many calls) must
not carry the headers of the call that happened to start it: start it with
:func:`detached_context`, or run its requests inside :func:`without_call_headers`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

if TYPE_CHECKING:
    from ._raw_response import _Capture

__all__ = [
    "call_scope",
    "claim_capture",
    "current_call_headers",
    "detached_context",
    "using_call_headers",
    "without_call_headers",
]

P = ParamSpec("P")
R = TypeVar("R")

# The headers of the public call running in this context (None: no call). The value is a
# read-only mapping made once per decorated function, so a call costs a get and a set.
_CALL_HEADERS: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "call_headers", default=None
)


# The raw-response capture of the with_raw_response / with_streaming_response wrapper running in
# this context (see ``_raw_response``). It lives here, not there, so that the client's call path
# can look for it without importing the raw-response module (loaded by the first wrapper).
_CAPTURE: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar(
    "raw_response_capture", default=None
)


def claim_capture() -> _Capture | None:
    """The raw-response capture of the wrapped method being run, for the first client call it
    makes (``None``: decode as usual)."""
    capture = _CAPTURE.get()
    if capture is None or capture.claimed:
        return None
    capture.claimed = True
    return capture


def current_call_headers() -> Mapping[str, str] | None:
    """The headers of the call running in this context, or ``None`` outside any call.

    Example::

        @call_scope({"x-method": "Client.get"})
        def get() -> None:
            assert current_call_headers() == {"x-method": "Client.get"}
    """
    return _CALL_HEADERS.get()


def call_scope(headers: Mapping[str, str]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function (sync or ``async``) so that requests made while it runs, and by the
    work it submits, carry ``headers``; inside another decorated call, the outer one's stay.

    The signature of the decorated function is kept (``ParamSpec``, ``functools.wraps``), and
    a coroutine function stays one.

    Example::

        class Client:
            @call_scope({"x-sdk-method": "Client.fetch"})
            def fetch(self, item: str) -> Future[Item]: ...
    """
    frozen: Mapping[str, str] = MappingProxyType(dict(headers))

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        var = _CALL_HEADERS
        if inspect.iscoroutinefunction(fn):
            coro_fn = cast(Callable[..., Any], fn)

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                if var.get() is not None:
                    return await coro_fn(*args, **kwargs)
                token = var.set(frozen)
                try:
                    return await coro_fn(*args, **kwargs)
                finally:
                    var.reset(token)

            return cast(Callable[P, R], run_async)

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if var.get() is not None:
                return fn(*args, **kwargs)
            token = var.set(frozen)
            try:
                return fn(*args, **kwargs)
            finally:
                var.reset(token)

        return run

    return decorate


@contextlib.contextmanager
def using_call_headers(headers: Mapping[str, str] | None) -> Iterator[None]:
    """Requests made inside the block carry ``headers`` (``None``: none), whatever call is
    running: for work a call prepared but that runs later (a stream opened when iterated),
    with the headers the call had, from :func:`current_call_headers`.

    Example::

        headers = current_call_headers()          # inside the call
        ...
        with using_call_headers(headers):         # later, when the work runs
            await client.stream(...)
    """
    token = _CALL_HEADERS.set(headers)
    try:
        yield
    finally:
        _CALL_HEADERS.reset(token)


def without_call_headers() -> contextlib.AbstractContextManager[None]:
    """Requests made inside the block (and tasks created there) carry no call headers: for
    work done on behalf of the client itself, such as opening a session on first use.

    Example::

        with without_call_headers():
            await api.sessions.create_session(...)
    """
    return using_call_headers(None)


def detached_context() -> contextvars.Context:
    """A copy of the current context without call headers, for a background task that serves
    no single call: ``loop.create_task(coro, context=detached_context())``, or
    ``detached_context().run(submit, coro)``.

    Example::

        task = loop.create_task(heartbeat(), context=detached_context())
    """
    context = contextvars.copy_context()
    context.run(_CALL_HEADERS.set, None)
    return context
