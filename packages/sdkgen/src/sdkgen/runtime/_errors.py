"""The runtime's exceptions, one tree for every failure a call can end in.

    SDKError                         base of everything raised by the SDK
    ├── APIError                     a call to the API failed; names endpoint, method, path
    │   ├── APIStatusError           the server answered with an error status
    │   │   ├── BadRequestError               400
    │   │   ├── AuthenticationError           401
    │   │   ├── PaymentRequiredError          402
    │   │   ├── PermissionDeniedError         403
    │   │   ├── NotFoundError                 404
    │   │   ├── RequestTimeoutError           408
    │   │   ├── ConflictError                 409
    │   │   ├── GoneError                     410
    │   │   ├── UnprocessableEntityError      422
    │   │   ├── RateLimitError                429
    │   │   └── InternalServerError           5xx
    │   ├── APIConnectionError       no usable answer: connect, read or write failed
    │   │   ├── APITimeoutError      an attempt or the call's deadline ran out
    │   │   │   └── FutureTimeoutError  result(timeout=...) ran out (also a TimeoutError)
    │   │   ├── ServerUnreachableError  a wait gave up: the server could not be reached
    │   │   └── AmbiguousOutcomeError  sent, then the answer was lost: applied or not, unknown
    │   │       └── ResponseLostError  a success status arrived (applied), its body did not
    │   ├── APIResponseValidationError  the answer was not the JSON or the shape promised
    │   ├── ResponseTooLargeError    the decoded answer exceeded the endpoint's size limit
    │   ├── CircuitOpenError         the endpoint's circuit breaker is open: failed at once, unsent
    │   ├── RequestFailedError       a polled future completed with a failure (has a category)
    │   ├── FutureExpiredError       the server no longer knows a polled future
    │   └── PaginationLoopError      a listing sent the same next cursor or link twice
    ├── FutureCancelledError         the future's handle was cancelled; it polls no more
    ├── ClientClosedError            the client was used after close()
    └── ConfigError                  a setting is invalid (also a ValueError)

Every ``APIError`` carries ``endpoint``, ``method``, ``path``, ``status_code`` (or ``None``),
``request_id`` (when the server sent one), ``attempts`` and ``elapsed`` (seconds over all attempts),
``retryable``, ``body`` (the decoded JSON of an error status's body, else ``None``) and
``parsed``: that body validated against the error schema the manifest declares for the status
(``errors:``, the endpoint's before the API's), or ``None`` when none is declared or the body
does not match it (the message is then found as without a declaration). With a declared
``message_field``, the message is the text at that field. When retries run out, the raised error says how many attempts over how long and
chains the last cause with ``raise ... from``.

No credential ever shows in an error: messages, ``str``, ``repr``, ``args``, ``body`` and
``request_id`` pass through the redaction of every key the SDK was given (``_redact``).
"""

from __future__ import annotations

from typing import Any

import httpx

from ._redact import redact, redact_value

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AmbiguousOutcomeError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ClientClosedError",
    "ConflictError",
    "FutureExpiredError",
    "GoneError",
    "InternalServerError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestFailedError",
    "RequestTimeoutError",
    "ResponseLostError",
    "ResponseTooLargeError",
    "SDKError",
    "ServerUnreachableError",
    "UnprocessableEntityError",
    "status_error_class",
]


class SDKError(Exception):
    """Base of every exception the SDK raises. Its text never holds a credential."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))

    def __str__(self) -> str:
        return redact(super().__str__())


class ClientClosedError(SDKError):
    """The client (or a resource of it) was used after ``close()``."""


class APIError(SDKError):
    """A call to the API failed. The message names the endpoint, status and request id."""

    retryable: bool = False
    parsed: Any = None  # the declared error schema's view of the body (set per instance)

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        request: httpx.Request | None = None,
        body: Any = None,
        parsed: Any = None,
    ) -> None:
        message = redact(message)
        self.detail = message
        self.endpoint = endpoint
        self.method = method
        self.path = path
        self.status_code = status_code
        # A hostile or buggy server may echo the key anywhere, headers included.
        self.request_id = None if request_id is None else redact(request_id)
        self.request = request
        self.body = redact_value(body)
        # The body as the declared error schema (validated from the redacted body), or None.
        self.parsed = parsed
        self.attempts = 1
        self.elapsed = 0.0
        super().__init__(message)

    @property
    def message(self) -> str:
        """What went wrong, without the endpoint and request id that ``str(err)`` adds."""
        return self.detail

    def __str__(self) -> str:
        where = []
        if self.endpoint:
            where.append(self.endpoint)
        if self.method and self.path:
            where.append(f"{self.method} {self.path}")
        if self.status_code is not None:
            where.append(f"status {self.status_code}")
        if self.request_id:
            where.append(f"request id {self.request_id}")
        text = self.detail
        if where:
            text = f"{text} [{', '.join(where)}]"
        if self.attempts > 1:
            text = f"{text} (gave up after {self.attempts} attempts over {self.elapsed:.1f}s)"
        return redact(text)

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (worker pools); keep what identifies the failure.
        state = {k: v for k, v in self.__dict__.items() if k not in ("request", "response")}
        return (_rebuild_error, (type(self), self.detail, state))


def _rebuild_error(cls: type[APIError], message: str, state: dict[str, Any]) -> APIError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    err.request = None
    if isinstance(err, APIStatusError):
        err.response = None
    return err


class APIStatusError(APIError):
    """The server answered with a status of 400 or above."""

    response: httpx.Response | None

    def __init__(self, message: str, *, response: httpx.Response, **kwargs: Any) -> None:
        kwargs.setdefault("status_code", response.status_code)
        super().__init__(message, **kwargs)
        self.response = response
        self.retryable = self.status_code in (408, 409, 429) or (self.status_code or 0) >= 500


class BadRequestError(APIStatusError):
    """400: the request was malformed or rejected by validation on the server."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, malformed or unknown."""


class PaymentRequiredError(APIStatusError):
    """402: the account cannot be billed for this request."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but may not do this."""


class NotFoundError(APIStatusError):
    """404: no such resource, or the server does not serve this endpoint."""


class RequestTimeoutError(APIStatusError):
    """408: the server timed the request out."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's current state."""


class GoneError(APIStatusError):
    """410: the resource existed but is gone."""


class UnprocessableEntityError(APIStatusError):
    """422: the body was well-formed but semantically invalid."""


class RateLimitError(APIStatusError):
    """429: too many requests; retried after the server's retry-after."""


class InternalServerError(APIStatusError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    410: GoneError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The exception class for an error status."""
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, APIStatusError)


class APIConnectionError(APIError):
    """The request got no usable answer (connection refused, reset, or cut off)."""

    retryable = True


class APITimeoutError(APIConnectionError):
    """An attempt's timeout or the whole call's deadline ran out."""


class ServerUnreachableError(APIConnectionError):
    """A wait for a result gave up because the server could not be reached at all (connection
    refused or reset, name not resolved, connect timeout) for longer than the client's
    ``unreachable_timeout``, or more times in a row than its ``max_retries``. A server that
    answers, even "not yet", never causes it. Not retried: the request may still be running
    on the server, and its result may be fetched once the server is back.
    """

    retryable = False


class AmbiguousOutcomeError(APIConnectionError):
    """A request that changes state was sent, then its answer was lost (connection dropped,
    response cut off, or no answer before the timeout). The server may or may not have applied
    it, so it was not resent: resending could apply it twice on a server that does not
    deduplicate. Find out (e.g. from the server's state) before you retry.
    """

    retryable = False


class ResponseLostError(AmbiguousOutcomeError):
    """The server answered a state-changing request with a success status, so it applied it,
    but the body of the answer was cut off (or did not arrive within the time allowed). It was
    not resent: that would apply it again. ``applied`` is ``True``; ``future_id`` is the id of
    the result to poll for, when it arrived before the cut (the runtime then polls by itself).
    """

    applied = True

    def __init__(self, message: str, *, future_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.future_id = future_id


class APIResponseValidationError(APIError):
    """The server's answer was not valid JSON, or did not match the endpoint's response schema."""


class ResponseTooLargeError(APIError):
    """The answer's body, decoded, was larger than the endpoint's limit (``limit`` bytes; per
    event for a stream). Reading stopped there. Not retried: the server would send it again."""

    def __init__(self, message: str, *, limit: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.limit = limit


class CircuitOpenError(APIError):
    """The endpoint's circuit breaker is open (see ``_breaker``): the call failed at once and
    nothing was sent. ``circuit`` names the breaker; ``retry_in`` is how many seconds until it
    lets a trial call through (0 while other callers' trials are in flight). Never retried by
    the runtime: a caller that wants to wait sleeps ``retry_in`` and calls again."""

    retryable = False

    def __init__(
        self, message: str, *, circuit: str, retry_in: float, endpoint: str, method: str, path: str
    ) -> None:
        super().__init__(message, endpoint=endpoint, method=method, path=path)
        self.circuit = circuit
        self.retry_in = retry_in


class RequestFailedError(APIError):
    """A long-running request completed, and it failed. ``category`` says whose fault it was."""

    def __init__(self, message: str, *, category: str = "unknown", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.category = category


class FutureExpiredError(APIError):
    """The server no longer holds the result of a polled future (it expired or was lost)."""
