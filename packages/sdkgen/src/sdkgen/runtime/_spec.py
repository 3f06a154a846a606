"""Static descriptions of an API and its endpoints, emitted by the generator from a manifest.

These are plain frozen dataclasses: the generated package builds them once at import time and the
runtime only reads them. Nothing here knows which API it describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

__all__ = [
    "DEFAULT_LOGGER",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "APISpec",
    "AuthSpec",
    "BackpressureSpec",
    "CircuitBreakerPolicy",
    "EndpointSpec",
    "ErrorSchemas",
    "ErrorShape",
    "FuturesSpec",
    "PaginateSpec",
    "PoolSpec",
    "Record",
    "RetryPolicy",
]


# Far above any answer a JSON API sends (a training batch's results are a few MB), far below
# what would exhaust a machine's memory.
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
#: The logger of an API whose spec names none (generated specs name their package's).
DEFAULT_LOGGER = "sdkgen"


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


class Record:
    """Value equality, hashing and ``repr`` for the runtime's frozen dataclasses, written once
    (each is ``@dataclass(frozen=True, slots=True, eq=False, repr=False)`` and subclasses this).

    ``@dataclass`` compiles an ``__eq__``, ``__hash__`` and ``__repr__`` of its own for every
    class: for the spec classes of this module, with their dozens of fields, that was a good
    part of an SDK's import time. These behave as the generated ones (equal when of the same
    class with equal compared fields, hashed by them, ``Name(field=value, ...)``).
    """

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Any]]

    def _values(self) -> tuple[Any, ...]:
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = tuple(f.name for f in fields(self) if f.compare)
            _FIELD_NAMES[type(self)] = names
        return tuple(getattr(self, name) for name in names)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"{type(self).__qualname__}({shown})"


def status_matches(status: int, patterns: tuple[int | str, ...]) -> bool:
    """True when ``status`` is listed in ``patterns`` (ints, or families such as ``"5xx"``)."""
    for pattern in patterns:
        if isinstance(pattern, int):
            if pattern == status:
                return True
        elif len(pattern) == 3 and pattern.endswith("xx") and str(status)[0] == pattern[0]:
            return True
    return False


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class RetryPolicy(Record):
    """How one call is retried. ``max_retries + 1`` attempts at most, all within ``deadline``;
    while the client has never had an answer from its server, failures to reach it (a name
    that does not resolve, a refused connection) are retried for ``first_contact_deadline``
    seconds at most (``None``: as long as any other failure)."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 10.0
    jitter: float = 0.25
    deadline: float | None = 300.0
    retry_after_cap: float = 60.0
    retry_statuses: tuple[int | str, ...] = (408, 409, 429, "5xx")
    retry_connection_errors: bool = True
    first_contact_deadline: float | None = None

    def should_retry_status(self, status: int) -> bool:
        return status_matches(status, self.retry_statuses)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class BackpressureSpec(Record):
    """An endpoint's "not now, send it again" statuses (see ``_backpressure``): after one,
    every call to the endpoint in the process waits out a shared window of ``window`` seconds
    (``large_window`` after a body of more than ``large_body`` bytes), then the refused request
    is sent again unchanged. None of this counts against the retry policy."""

    statuses: tuple[int | str, ...] = (429,)
    window: float = 1.0
    large_window: float | None = None
    large_body: int | None = None

    def window_after(self, body_bytes: int) -> float:
        """The seconds to wait after a refusal of a body of ``body_bytes`` bytes.

        Example: ``BackpressureSpec(window=1, large_window=5, large_body=100).window_after(200)``
        is ``5``.
        """
        large = self.large_body is not None and body_bytes > self.large_body
        return self.large_window if large and self.large_window is not None else self.window

    def refuses(self, status: int) -> bool:
        """True when ``status`` is one of this rule's "send it again" statuses."""
        return status_matches(status, self.statuses)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class CircuitBreakerPolicy(Record):
    """A circuit breaker shared by a group of endpoints (see ``_breaker``): it opens after
    ``failure_threshold`` failed attempts in a row, fails calls at once for ``reset_timeout``
    seconds, then lets ``half_open_trials`` trial attempts through; all of them succeeding
    closes it. ``failure_statuses`` are the answers that count as failures."""

    failure_threshold: int = 5
    reset_timeout: float = 30.0
    half_open_trials: int = 1
    failure_statuses: tuple[int | str, ...] = ("5xx",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class PoolSpec(Record):
    """A connection pool: one shared httpx client per pool name."""

    max_connections: int = 100
    max_keepalive: int = 20
    timeout: float | None = None
    # Follow redirects (say, to signed storage URLs). Such a pool always sends with httpx's own
    # transport, whatever the client's http_backend, as the reference SDK does for them.
    follow_redirects: bool = False
    # What http_backend="auto" picks for this pool: pyqwest's lower cost per request shows at
    # high concurrency; httpx sends large bodies to few peers at least as fast.
    auto_backend: Literal["pyqwest", "httpx"] = "pyqwest"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class AuthSpec(Record):
    """One credential, read from ``env`` (see ``_auth``). ``raw`` sends it as ``header``,
    ``bearer`` as ``header: Bearer <it>``, ``basic`` as ``Authorization: Basic`` with the
    password from ``password_env``, ``query`` as the query parameter ``query``."""

    header: str | None
    env: str
    scheme: Literal["raw", "bearer", "basic", "query"] = "raw"
    query: str | None = None
    password_env: str | None = None
    # Whether a client may be made without it: ``False`` (it is left off), ``True`` (a
    # ``ConfigError`` before any request), ``"remote"`` (required unless the base URL is a
    # loopback address: a server on the same machine, which runs without keys).
    required: bool | Literal["remote"] = False
    # Appended to the missing-credential error: how to obtain one (a login command, a page).
    missing_help: str | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ErrorShape(Record):
    """The declared shape of an error body: the type it is validated into (a model class, or
    any type pydantic validates) and the dotted path of the field holding its message."""

    type: Any
    message_field: str | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ErrorSchemas(Record):
    """Error body shapes by status: an exact status (``404``), a family (``"4xx"``) or
    ``"default"``; :meth:`find` tries them in that order."""

    by_status: Mapping[int | str, ErrorShape] = field(default_factory=dict)

    def find(self, status: int) -> ErrorShape | None:
        """The shape declared for ``status``, or None.

        Example: ``ErrorSchemas({404: missing, "default": other}).find(404) is missing``
        """
        for key in (status, f"{status // 100}xx", "default"):
            if key in self.by_status:
                return self.by_status[key]
        return None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class FuturesSpec(Record):
    """How a future-returning endpoint's handle is polled until its result is ready.

    Field names (``pending_field``, ``failed_field``, ``message_field``, ``category_field``, the
    queue-state, metadata and ``poll_after_field`` ones) are dotted paths into the reply:
    ``status.state`` reads ``{"status": {"state": ...}}``.
    """

    poll_endpoint: str
    request_id_field: str = "request_id"
    pending_field: str = "type"
    # One value, or several, that mean "not yet".
    pending_value: str | tuple[str, ...] = "try_again"
    failed_field: str = "error"
    # The values of ``failed_field`` that mean "failed"; empty: any reply that has the field.
    failed_values: tuple[str, ...] = ()
    message_field: str = "error"
    category_field: str = "category"
    queue_state_field: str | None = None
    queue_state_reason_field: str | None = None
    queue_state_active: str | None = None
    retry_statuses: tuple[int | str, ...] = (408, "5xx")
    backoff_statuses: tuple[int | str, ...] = (429,)
    expired_statuses: tuple[int | str, ...] = (410,)
    bad_request_statuses: tuple[int | str, ...] = ()
    bad_request_budget: int = 3
    pause_statuses: tuple[int | str, ...] = ()
    pause_interval: float = 5.0
    pause_cap: float = 3600.0
    # The wait after the first "not yet" reply; it doubles with each further one (the retry
    # policy's backoff) up to ``max_poll_interval``.
    poll_interval: float = 0.5
    max_backoff: float = 30.0
    poll_fields: Mapping[str, Any] = field(default_factory=dict)
    metadata_field: str | None = None
    metadata_value: Any = None
    metadata_then: Mapping[str, Any] = field(default_factory=dict)
    iteration_header: str | None = None
    max_poll_interval: float = 5.0
    # A "not yet" reply may say when to poll again: its Retry-After / retry-after-ms header
    # (when ``retry_after_header``) or a body field in seconds or milliseconds. Such a hint
    # replaces the interval, cut to ``poll_after_cap`` and to the wait's deadline.
    retry_after_header: bool = True
    poll_after_field: str | None = None
    poll_after_unit: Literal["s", "ms"] = "s"
    poll_after_cap: float = 60.0


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class APISpec(Record):
    """Everything API-wide that the runtime needs: identity, auth, defaults and policies."""

    name: str
    title: str
    version: str
    base_url: str
    auth: AuthSpec | None
    env: Mapping[str, str] = field(default_factory=dict)
    default_headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    connect_timeout: float = 5.0
    idempotency_header: str | None = None
    retry_count_header: str | None = None
    request_id_headers: tuple[str, ...] = ()
    retry_policies: Mapping[str, RetryPolicy] = field(default_factory=dict)
    pools: Mapping[str, PoolSpec] = field(default_factory=dict)
    # Named circuit breakers; an endpoint joins one with ``EndpointSpec.breaker``.
    circuit_breakers: Mapping[str, CircuitBreakerPolicy] = field(default_factory=dict)
    futures: FuturesSpec | None = None
    telemetry_endpoint: str | None = None
    user_agent: str = "sdk"
    # The module of compiled protobuf messages, imported on first use (not at import time).
    protobuf_module: str | None = None
    # The largest decoded response body read into memory (a streamed endpoint: per event);
    # an endpoint may set its own. Enforced while reading and while decompressing.
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    # Credentials sent along with ``auth`` (a key header plus a bearer token, say).
    extra_auth: tuple[AuthSpec, ...] = ()
    # The logger the runtime writes to for this API (generated code passes its top-level
    # package, so that an SDK's users configure one logger: the SDK's own).
    logger: str = DEFAULT_LOGGER
    # The shapes of error bodies, for every endpoint (an endpoint's own are looked at first).
    errors: ErrorSchemas | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class PaginateSpec(Record):
    """How a listing pages (see ``_pagination``): ``items`` and ``total``/``next`` are dotted
    paths in the body; ``limit``, ``offset``, ``page`` and ``cursor`` name query parameters."""

    items: str
    limit: str | None = None
    offset: str | None = None
    total: str | None = None
    style: Literal["offset", "page", "cursor", "link"] = "offset"
    page: str | None = None
    cursor: str | None = None
    next: str | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class EndpointSpec(Record):
    """One endpoint: its route and every flag the manifest gives it."""

    id: str
    method: str
    path: str
    path_params: tuple[str, ...] = ()
    slash_params: tuple[str, ...] = ()
    body: Literal["json", "form", "multipart", "raw", "protobuf", "none"] = "none"
    content_type: str = "application/json"
    message: str | None = None  # the protobuf message of a ``protobuf`` body
    result_message: str | None = None  # the protobuf message a future's result may come as
    poll_pool: str | None = None  # the pool a future's polls use (None: the poll endpoint's)
    accept: str | None = None
    future: bool = False
    stream: Literal["sse"] | None = None
    compress: Literal["zstd", "gzip"] | None = None
    idempotent: bool = False
    retry: str = "default"
    # The retry policy by which the caller resubmits a failed call as a new request (the
    # runtime never does; it only says how): None when the caller does not.
    resubmit: str | None = None
    backpressure: BackpressureSpec | None = None
    timeout: float | None = None
    pool: str = "default"
    breaker: str | None = None  # the API's circuit breaker this endpoint's attempts go through
    headers: Mapping[str, str] = field(default_factory=dict)
    secret_headers: tuple[str, ...] = ()
    deprecated: str | None = None
    paginate: PaginateSpec | None = None
    max_response_bytes: int | None = None  # None: the API's ``max_response_bytes``
    # A ``multipart`` body's fields (wire names) that are files, not text parts.
    file_fields: tuple[str, ...] = ()
    # This endpoint's error body shapes, looked at before the API's.
    errors: ErrorSchemas | None = None
