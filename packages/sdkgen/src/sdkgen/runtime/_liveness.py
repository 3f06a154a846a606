"""Telling a server that is gone from one that is busy, for waits that may otherwise go on.

A wait for a long-running result (polling a future, a client's own retry loop) may rightly go
on for as long as the server keeps answering, even if only "not yet" or "try again". It must
not go on while the server cannot be reached at all: :class:`Reachability` counts the failures
to reach the server since it last answered and raises :class:`ServerUnreachableError` once they
have gone on for ``unreachable_timeout`` seconds (or, when the caller set ``max_retries``, once
there were more of them in a row than that).

"Cannot be reached" is a connection refused or reset, a name that does not resolve, a connect
timeout, or a connection closed before any answer. A read timeout is not: a server holding a
long poll open is busy, not gone.

A client that has never had an answer from its server is more likely pointed at the wrong place
than riding out a restart: :func:`first_contact_error` is the one-line error a call gives up
with then (the retry policy's ``first_contact_deadline`` says when, see ``_retry``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Literal

import httpx

from ._errors import APIConnectionError, APIError, ServerUnreachableError

__all__ = [
    "DEFAULT_UNREACHABLE_TIMEOUT",
    "Reachability",
    "first_contact_error",
    "is_unreachable",
    "unreachable_reason",
]

#: How long, by default, a wait goes on while the server cannot be reached (seconds).
DEFAULT_UNREACHABLE_TIMEOUT = 60.0

_UNREACHABLE = (httpx.NetworkError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


def is_unreachable(err: BaseException) -> bool:
    """Whether ``err`` says the server could not be reached (not that it is slow or refused).

    Example::

        if is_unreachable(err):
            ...  # count it against the unreachable budget
    """
    if isinstance(err, ServerUnreachableError):
        return True
    if not isinstance(err, APIConnectionError):
        return False
    cause: BaseException | None = err.__cause__ or err.__context__
    for _ in range(8):  # the transport's error is the cause, at most a few levels down
        if cause is None:
            return False
        if isinstance(cause, _UNREACHABLE):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


UnreachableReason = Literal["dns", "refused", "timeout", "other"]

# What went wrong, and what to check ("{source}": where the URL comes from).
_WHAT_TO_CHECK: dict[UnreachableReason, tuple[str, str]] = {
    "dns": ("the host name does not resolve (DNS)", "check the host name in {source}"),
    "refused": (
        "connection refused",
        "check that the server is running, and the port in {source}",
    ),
    "timeout": (
        "the connection timed out",
        "check the address in {source}, the network and any firewall or proxy",
    ),
    "other": ("the connection failed", "check {source}, the network and the server"),
}


def unreachable_reason(err: BaseException) -> UnreachableReason:
    """Why ``err`` could not reach the server: ``"dns"`` (the name does not resolve),
    ``"refused"`` (nothing listens there), ``"timeout"`` (no answer to the connect) or
    ``"other"``, from the transport's error in its chain of causes.

    Example::

        unreachable_reason(err)  # "refused" for a closed port on 127.0.0.1
    """
    cause: BaseException | None = err
    for _ in range(10):  # the OS's error is a few causes down (httpx, httpcore, anyio)
        if cause is None:
            break
        if isinstance(cause, socket.gaierror):
            return "dns"
        if isinstance(cause, ConnectionRefusedError):
            return "refused"
        if isinstance(cause, httpx.ConnectTimeout):
            return "timeout"
        # A transport that reports only text (pyqwest: reqwest's "dns error", "Connection
        # refused (os error 111)").
        text = str(cause).lower()
        if "dns error" in text or "name or service not known" in text:
            return "dns"
        if "connection refused" in text:
            return "refused"
        cause = cause.__cause__ or cause.__context__
    return "other"


def first_contact_error(
    err: APIError, *, base_url: str, limit: float, base_url_env: str | None = None
) -> ServerUnreachableError:
    """The error a call gives up with when its client never reached ``base_url``: one line
    naming the URL, DNS or refused, and what to check (``base_url_env``: the environment
    variable the URL may come from). ``err`` is the last attempt's error.

    Example::

        raise first_contact_error(err, base_url="http://127.0.0.1:9", limit=10) from err
    """
    what, check = _WHAT_TO_CHECK[unreachable_reason(err)]
    source = f"base_url= or ${base_url_env}" if base_url_env else "base_url="
    return ServerUnreachableError(
        f"could not reach {base_url}: {what}; {check.format(source=source)} (it has never "
        f"answered this client: first_contact_deadline={limit:g}s). Last error: {err.detail}",
        endpoint=err.endpoint,
        method=err.method,
        path=err.path,
    )


class Reachability:
    """Failures to reach the server since it last answered, against a time and count budget.

    ``timeout``: seconds of failures (from the first one) after which :meth:`failed` raises.
    ``max_failures``: when not ``None``, :meth:`failed` also raises at the failure after that
    many in a row (a client's ``max_retries``). Not thread-safe: one per wait.

    Example::

        reach = Reachability(60.0)
        try:
            reply = await poll()
        except APIError as err:
            reach.failed(err, what="request req-1")  # raises once the budget is spent
        else:
            reach.answered()
    """

    def __init__(
        self,
        timeout: float = DEFAULT_UNREACHABLE_TIMEOUT,
        max_failures: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.max_failures = max_failures
        self._clock = clock
        self.since: float | None = None
        self.failures = 0

    def answered(self) -> None:
        """The server answered (anything, an error status included): it is reachable."""
        self.since = None
        self.failures = 0

    def remaining(self) -> float | None:
        """Seconds left of the budget while the server is unreachable (``None``: it is not)."""
        if self.since is None:
            return None
        return max(self.timeout - (self._clock() - self.since), 0.0)

    def failed(self, err: APIError, *, what: str, request_id: str | None = None) -> None:
        """Count ``err`` if it is a failure to reach the server; raise
        :class:`ServerUnreachableError` (naming ``what`` was waited for, and the request whose
        result it was, ``request_id``) once over budget."""
        if isinstance(err, ServerUnreachableError):
            raise err
        if not is_unreachable(err):
            return
        now = self._clock()
        if self.since is None:
            self.since = now
        self.failures += 1
        silent = now - self.since
        over_count = self.max_failures is not None and self.failures > self.max_failures
        if silent < self.timeout and not over_count:
            return
        limit = (
            f"max_retries={self.max_failures}"
            if over_count
            else f"unreachable_timeout={self.timeout:g}s"
        )
        raise ServerUnreachableError(
            f"gave up waiting for {what}: the server could not be reached "
            f"({self.failures} failure(s) in a row over {silent:.1f}s; {limit}). The request "
            f"may still run on the server; its result can be fetched when the server is back. "
            f"Last error: {err.detail}",
            endpoint=err.endpoint,
            method=err.method,
            path=err.path,
            request_id=request_id or err.request_id,
        ) from err
