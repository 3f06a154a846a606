"""The generic runtime behind every generated SDK: config, transport, retries, futures, streams,
compression, telemetry and errors. It knows nothing of any particular API; a manifest does.
"""

from ._api_future import APIFuture, ClientFuture
from ._binary import AsyncBinaryStream, BinaryStream, open_binary, read_binary
from ._body import build_body, validate_params
from ._client import AsyncAPIClient, SyncAPIClient
from ._codec import WireCodecs
from ._config import ClientConfig, ConfigError, Secret, WireMode
from ._errors import (
    AmbiguousOutcomeError,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    FutureExpiredError,
    GoneError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RequestFailedError,
    RequestTimeoutError,
    ResponseLostError,
    ResponseTooLargeError,
    SDKError,
    ServerUnreachableError,
    UnprocessableEntityError,
)
from ._futures import (
    AsyncFutureHandle,
    FutureCancelledError,
    FutureHandle,
    FutureTimeoutError,
    QueueStateObserver,
)
from ._loop import BackgroundLoop
from ._metrics import EndpointMetrics, Metrics
from ._multipart import FileContent, FileInput, MultipartBody, encode_multipart_body
from ._options import NOT_GIVEN, NotGiven, RequestOptions
from ._otel import OpenTelemetryListener, inject_trace_context
from ._pagination import PaginationLoopError
from ._reporter import TelemetryReporter, telemetry_enabled
from ._request import param_headers
from ._resource import AsyncAPIResource, SyncAPIResource
from ._retry import RetryInfo, backoff_delay, retry_after_seconds
from ._spec import (
    DEFAULT_MAX_RESPONSE_BYTES,
    APISpec,
    AuthSpec,
    EndpointSpec,
    ErrorSchemas,
    ErrorShape,
    FuturesSpec,
    PaginateSpec,
    PoolSpec,
    RetryPolicy,
)
from ._sse import AsyncStream, EventRoutes, ServerEvent, Stream
from ._telemetry import Event, EventKind, Listener, Telemetry, redact_headers

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APIFuture",
    "APIResponseValidationError",
    "APISpec",
    "APIStatusError",
    "APITimeoutError",
    "AmbiguousOutcomeError",
    "AsyncAPIClient",
    "AsyncAPIResource",
    "AsyncBinaryStream",
    "AsyncFutureHandle",
    "AsyncStream",
    "AuthSpec",
    "AuthenticationError",
    "BackgroundLoop",
    "BadRequestError",
    "BinaryStream",
    "ClientClosedError",
    "ClientConfig",
    "ClientFuture",
    "ConfigError",
    "ConflictError",
    "EndpointMetrics",
    "EndpointSpec",
    "ErrorSchemas",
    "ErrorShape",
    "Event",
    "EventKind",
    "EventRoutes",
    "FileContent",
    "FileInput",
    "FutureCancelledError",
    "FutureExpiredError",
    "FutureHandle",
    "FutureTimeoutError",
    "FuturesSpec",
    "GoneError",
    "InternalServerError",
    "Listener",
    "Metrics",
    "MultipartBody",
    "NotFoundError",
    "NotGiven",
    "OpenTelemetryListener",
    "PaginateSpec",
    "PaginationLoopError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PoolSpec",
    "QueueStateObserver",
    "RateLimitError",
    "RequestFailedError",
    "RequestOptions",
    "RequestTimeoutError",
    "ResponseLostError",
    "ResponseTooLargeError",
    "RetryInfo",
    "RetryPolicy",
    "SDKError",
    "Secret",
    "ServerEvent",
    "ServerUnreachableError",
    "Stream",
    "SyncAPIClient",
    "SyncAPIResource",
    "Telemetry",
    "TelemetryReporter",
    "UnprocessableEntityError",
    "WireCodecs",
    "WireMode",
    "backoff_delay",
    "build_body",
    "encode_multipart_body",
    "inject_trace_context",
    "open_binary",
    "param_headers",
    "read_binary",
    "redact_headers",
    "retry_after_seconds",
    "telemetry_enabled",
    "validate_params",
]
