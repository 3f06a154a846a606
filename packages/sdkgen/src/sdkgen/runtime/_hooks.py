"""Per-attempt middleware: request and response hooks, run once per attempt inside the retry
loop.

Order within an attempt:

1. the request is built: default headers, auth (every credential), the endpoint's headers,
   idempotency and retry-count headers, per-call ``extra_headers``; then ``traceparent``
   when trace propagation is on;
2. the client's request hooks, then the call's (``RequestOptions.request_hooks``), in order:
   each may change ``request.headers`` (a signature over the final request, a trace header)
   and observe the rest; what they change is what is logged and sent;
3. the request is sent; once the status line and headers arrive, before the body is read, the
   client's response hooks, then the call's, see the ``httpx.Response`` (status, headers);
4. the status decides: an error is raised, or retried, and a retry starts again at 1 with a
   freshly built request, so every hook runs again on every attempt.

A response hook sees error statuses too (a 503 that is retried, a 401 that is not); an attempt
that gets no response (a connection refused, a timeout) runs no response hook. An exception
raised by a hook propagates as it is: it is not retried and not wrapped. Hooks are plain
(synchronous) callables for the async client too: they run on the event loop, so they must not
block. Auth runs before the hooks, so a hook sees (and may sign) the credentials, which are
redacted from logs whatever the hook does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import httpx

__all__ = ["RequestHook", "ResponseHook", "checked_hooks", "run_hooks"]

RequestHook = Callable[[httpx.Request], None]
ResponseHook = Callable[[httpx.Response], None]
H = TypeVar("H", bound=Callable[..., Any])
T = TypeVar("T")


def checked_hooks(hooks: Iterable[H] | None, name: str) -> tuple[H, ...]:
    """``hooks`` as a tuple, or a ``TypeError`` naming ``name`` when one is not callable (a
    mistake better found when the client is made than at its first request).

    Example::

        checked_hooks([sign_request], "request_hooks")
    """
    out = tuple(hooks or ())
    for index, hook in enumerate(out):
        if not callable(hook):
            raise TypeError(
                f"{name}[{index}] is a {type(hook).__name__}, not a callable: a hook is a "
                "function taking the request (or the response) and returning None"
            )
    return out


def run_hooks(
    first: Sequence[Callable[[T], None]], then: Sequence[Callable[[T], None]], target: T
) -> None:
    """Call the client's hooks, then the call's, on ``target``; an exception propagates as is.

    Example::

        run_hooks(config.request_hooks, args.request_hooks, request)
    """
    for hook in first:
        hook(target)
    for hook in then:
        hook(target)
