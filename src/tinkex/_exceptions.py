"""Every exception tinkex raises, in one tree; each class is importable from ``tinkex``.

    SDKError (alias TinkerError)     base of everything the SDK raises
    ├── APIError                     a call to the API failed; names endpoint, method, path
    │   ├── APIStatusError           the server answered with an error status
    │   │   ├── BadRequestError               400
    │   │   ├── AuthenticationError           401
    │   │   ├── PaymentRequiredError          402 (alias BillingError)
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
    │   ├── CircuitOpenError         a circuit breaker is open: failed at once, nothing sent
    │   ├── RequestFailedError       a training or sampling request failed on the server
    │   ├── FutureExpiredError       the server no longer knows a request's result
    │   └── PaginationLoopError      a listing sent the same next cursor twice
    ├── FutureCancelledError         the request's result will not be waited for any more
    ├── ClientClosedError            the client was used after close()
    ├── ConfigError                  a setting is invalid (also a ValueError)
    ├── InvalidInputError            an argument refused before anything is sent (a ValueError)
    │   └── WireInputError           a datum the wire cannot carry: names the datum and field
    ├── InputTypeError               an argument of the wrong type (a TypeError and ValueError)
    ├── SampleResultsPollError       the session-wide poll of sample results failed for good
    ├── SampleResultTimeoutError     a sample's result was not announced within its deadline
    ├── RecoveryError                a broken run could not be recovered (tinkex.recovery)
    │   └── RecoveryExhaustedError   every recovery attempt of the policy failed
    ├── RegularizerError             a regularizer's value is unusable: names it (a ValueError)
    ├── RolloutError                 an item of a fan-out failed: its index, worker, traceback
    │   └── RolloutTimeoutError      the fan-out's deadline passed (also a TimeoutError)
    └── DownloadError                a checkpoint could not be downloaded; says which and why
        ├── InvalidTinkerPathError   the tinker:// path does not parse (also a ValueError)
        ├── OutputExistsError        the output directory exists and may not be replaced
        ├── CheckpointNotFoundError  the server has no such checkpoint
        ├── UnsafeArchiveError       the archive would write outside the output, or too much
        └── CorruptArchiveError      the archive fails its integrity check; nothing placed

Where the official SDK has the class, the name is its name. This module is also
``tinker._exceptions`` of the official SDK's layout: code written for it imports errors from
here (``from tinker._exceptions import RequestFailedError``).
"""

from sdkgen.runtime import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestFailedError,
    UnprocessableEntityError,
)

from ._compat import BillingError, TinkerError

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BillingError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestFailedError",
    "TinkerError",
    "UnprocessableEntityError",
]
