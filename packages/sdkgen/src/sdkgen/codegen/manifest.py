"""The manifest format as a typed model (see docs/manifest-format.md). Unknown keys are errors."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "Backpressure",
    "Endpoint",
    "ErrorEntry",
    "ErrorMap",
    "Manifest",
    "Param",
    "Resource",
    "StatusPattern",
]

StatusPattern = int | str


def _statuses(*patterns: StatusPattern) -> list[StatusPattern]:
    """A fresh list of status patterns (a typed default for the fields below)."""
    return list(patterns)


_STATUS = re.compile(r"^[1-5]xx$")
# A field of a poll reply: names joined by dots (`status.state`), none empty, no whitespace.
_FIELD_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")


class _Strict(BaseModel):
    # No infinity or NaN (from strings such as "1e999"): they would be emitted as `inf`/`nan`,
    # names the generated code does not have.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


def _check_statuses(values: list[StatusPattern]) -> list[StatusPattern]:
    for value in values:
        if isinstance(value, bool) or (isinstance(value, int) and not 100 <= value <= 599):
            raise ValueError(f"{value!r} is not an HTTP status (100-599)")
        if isinstance(value, str) and not _STATUS.match(value):
            raise ValueError(f"{value!r} is not a status family such as '5xx'")
    return values


class Auth(_Strict):
    """One credential: where it travels (``scheme``) and the environment variable(s) it is read
    from. ``raw``/``bearer`` need ``header``; ``basic`` needs ``password_env`` (``env`` holds the
    user) and sends ``Authorization: Basic``; ``query`` needs ``query`` (the parameter name)."""

    header: str | None = None
    env: str
    scheme: Literal["raw", "bearer", "basic", "query"] = "raw"
    query: str | None = None
    password_env: str | None = None
    # false: sent when given; true: a client is refused without it; remote: refused without it
    # unless the base URL is a loopback address (a server on the same machine).
    required: bool | Literal["remote"] = False
    # Appended to the error a client without this credential gets: how to obtain one.
    missing_help: str | None = None

    @model_validator(mode="after")
    def _fits_scheme(self) -> Auth:
        if self.scheme in ("raw", "bearer") and not self.header:
            raise ValueError(f"scheme `{self.scheme}` needs `header` (say, Authorization)")
        if self.scheme in ("basic", "query") and self.header:
            raise ValueError(
                f"scheme `{self.scheme}` takes no `header` (basic always sends Authorization; "
                "query sends a query parameter): remove it"
            )
        if (self.scheme == "basic") != (self.password_env is not None):
            raise ValueError("`password_env` is for scheme `basic` only, and basic needs it")
        if (self.scheme == "query") != (self.query is not None):
            raise ValueError("`query` (the parameter name) is for scheme `query`, which needs it")
        return self


class EnvNames(_Strict):
    base_url: str | None = None
    timeout: str | None = None
    max_retries: str | None = None
    log: str | None = None
    telemetry: str | None = None


class RetryPolicy(_Strict):
    max_retries: int = Field(default=2, ge=0)
    initial_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=10.0, ge=0)
    jitter: float = Field(default=0.25, ge=0, le=1)
    deadline: float | None = Field(default=300.0, gt=0)
    retry_after_cap: float = Field(default=60.0, ge=0)
    retry_statuses: list[StatusPattern] = Field(
        default_factory=lambda: _statuses(408, 409, 429, "5xx")
    )
    retry_connection_errors: bool = True
    # Seconds a call may go on failing to reach a server its client has never had an answer
    # from (a wrong URL fails fast; a server that answered once is waited for as long as any).
    first_contact_deadline: float | None = Field(default=None, gt=0)

    _statuses = field_validator("retry_statuses")(_check_statuses)


class CircuitBreaker(_Strict):
    """A circuit breaker that endpoints join with `breaker: <name>` (see the runtime's
    `_breaker`): open after `failure_threshold` failed attempts in a row, fail at once for
    `reset_timeout` seconds, then let `half_open_trials` trial attempts through."""

    failure_threshold: int = Field(default=5, ge=1)
    reset_timeout: float = Field(default=30.0, gt=0)
    half_open_trials: int = Field(default=1, ge=1)
    failure_statuses: list[StatusPattern] = Field(default_factory=lambda: _statuses("5xx"))

    _statuses = field_validator("failure_statuses")(_check_statuses)


class Backpressure(_Strict):
    """A status that means "not now, send it again": every call to the endpoint in the process
    waits out a shared window of `window` seconds (`large_window` after a body of more than
    `large_body` bytes), then the refused request is sent again unchanged."""

    statuses: list[StatusPattern] = Field(default_factory=lambda: _statuses(429), min_length=1)
    window: float = Field(gt=0)
    large_window: float | None = Field(default=None, gt=0)
    large_body: int | None = Field(default=None, ge=1)

    _statuses = field_validator("statuses")(_check_statuses)

    @model_validator(mode="after")
    def _large_pair(self) -> Backpressure:
        if (self.large_window is None) != (self.large_body is None):
            raise ValueError(
                "`large_window` and `large_body` go together: the window after a body of more "
                "than `large_body` bytes"
            )
        return self


class Pool(_Strict):
    max_connections: int = Field(default=100, ge=1)
    max_keepalive: int = Field(default=20, ge=0)
    timeout: float | None = Field(default=None, gt=0)
    # Follow redirects (to signed storage URLs, say); such a pool always sends with httpx.
    follow_redirects: bool = False
    # What http_backend="auto" picks for this pool (a forced backend still wins).
    auto_backend: Literal["pyqwest", "httpx"] = "pyqwest"


def _check_path(value: str | None) -> str | None:
    if value is not None and not _FIELD_PATH.match(value):
        raise ValueError(
            f"{value!r} is not a field path: field names joined by dots, such as `status.state` "
            "(no empty names, no spaces)"
        )
    return value


def _check_values(value: Any) -> Any:
    """Runs before the type check, so that a wrong type gets one message, not one per type."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("`equals` is a string or a list of strings, such as `[queued, running]`")
    if not value:
        raise ValueError("an empty list matches no reply: list at least one value")
    if len(set(value)) != len(value):
        raise ValueError("a value is listed twice: list each value once")
    return value


class Pending(_Strict):
    """A poll reply that means "not yet": the value at `field` is `equals` (or one of them)."""

    field: str
    equals: str | list[str]

    _path = field_validator("field")(_check_path)
    _values = field_validator("equals", mode="before")(_check_values)


class Failed(_Strict):
    """A poll reply that means failed: `field` is present (and, with `equals`, one of them)."""

    field: str
    equals: str | list[str] | None = None

    _path = field_validator("field")(_check_path)
    _values = field_validator("equals", mode="before")(_check_values)


class PollHint(_Strict):
    """Where a "not yet" reply may say when to poll again."""

    header: bool = True  # Retry-After (seconds or HTTP date) / retry-after-ms
    field: str | None = None  # a body field holding the wait
    unit: Literal["s", "ms"] = "s"
    cap: float = Field(default=60.0, ge=0)

    _path = field_validator("field")(_check_path)


class MetadataReply(_Strict):
    field: str
    equals: Any
    then: dict[str, Any] = Field(default_factory=dict)

    _path = field_validator("field")(_check_path)


class Futures(_Strict):
    poll_endpoint: str
    request_id_field: str = "request_id"
    pending: Pending
    failed: Failed
    message_field: str = "error"
    category_field: str = "category"
    queue_state_field: str | None = None
    queue_state_reason_field: str | None = None
    queue_state_active: str | None = None
    retry_statuses: list[StatusPattern] = Field(default_factory=lambda: _statuses(408, "5xx"))
    backoff_statuses: list[StatusPattern] = Field(default_factory=lambda: _statuses(429))
    expired_statuses: list[StatusPattern] = Field(default_factory=lambda: _statuses(410))
    bad_request_statuses: list[StatusPattern] = Field(default_factory=list)
    bad_request_budget: int = Field(default=3, ge=0)
    pause_statuses: list[StatusPattern] = Field(default_factory=list)
    pause_interval: float = Field(default=5.0, gt=0)
    pause_cap: float = Field(default=3600.0, ge=0)
    poll_interval: float = Field(default=0.5, ge=0)
    max_poll_interval: float = Field(default=5.0, ge=0)
    poll_hint: PollHint = Field(default_factory=PollHint)
    max_backoff: float = Field(default=30.0, gt=0)
    poll_fields: dict[str, Any] = Field(default_factory=dict)
    metadata_reply: MetadataReply | None = None
    iteration_header: str | None = None

    _statuses = field_validator(
        "retry_statuses",
        "backoff_statuses",
        "expired_statuses",
        "bad_request_statuses",
        "pause_statuses",
    )(_check_statuses)
    _paths = field_validator(
        "message_field", "category_field", "queue_state_field", "queue_state_reason_field"
    )(_check_path)


class ErrorEntry(_Strict):
    """One declared error body: its schema and, optionally, where its message is."""

    schema_: str = Field(alias="schema")
    message_field: str | None = None

    _path = field_validator("message_field")(_check_path)


# `errors:` of the API or an endpoint: `default`, a status (`404`) or a family (`4xx`) -> a
# schema name or an ErrorEntry; and `message_field` -> the entries' message path (see
# error_shapes.py, which checks the keys and names with file:line).
ErrorMap = dict[str, str | ErrorEntry]


class Telemetry(_Strict):
    endpoint: str


class Protobuf(_Strict):
    """The API's protobuf schema: a ``.proto`` file, relative to the manifest."""

    file: str = Field(pattern=r"\.proto$")


def auth_list(auth: Auth | list[Auth] | None) -> list[Auth]:
    """``api.auth`` as a list, whichever form the manifest used."""
    if auth is None:
        return []
    return auth if isinstance(auth, list) else [auth]


class Api(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    client_class: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")
    version: str
    base_url: str = Field(pattern=r"^https?://")
    user_agent: str | None = None
    # One credential, or several sent together (a key header plus a bearer token, say).
    auth: Auth | list[Auth] | None = None
    env: EnvNames = Field(default_factory=EnvNames)
    default_headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=60.0, gt=0)
    connect_timeout: float = Field(default=5.0, gt=0)
    idempotency_header: str | None = None
    retry_count_header: str | None = None
    request_id_headers: list[str] = Field(default_factory=list)
    retry_policies: dict[str, RetryPolicy] = Field(default_factory=dict)
    pools: dict[str, Pool] = Field(default_factory=dict)
    circuit_breakers: dict[str, CircuitBreaker] = Field(default_factory=dict)
    futures: Futures | None = None
    telemetry: Telemetry | None = None
    protobuf: Protobuf | None = None
    # The largest decoded response body (a streamed endpoint: per event), in bytes.
    max_response_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    errors: ErrorMap = Field(default_factory=dict)  # error body shapes of every endpoint


class Param(_Strict):
    schema_: dict[str, Any] = Field(alias="schema")
    description: str = ""
    required: bool = False
    allow_slash: bool = False
    # Where a `query:` entry travels: the query string (default), a header or a cookie.
    in_: Literal["query", "header", "cookie"] | None = Field(default=None, alias="in")
    # The Python argument name when the wire name is not one (`if-version` -> `if_version`).
    name: str | None = None

    @property
    def location(self) -> str:
        return self.in_ or "query"


class FutureFlag(_Strict):
    result: str | None = None
    # The protobuf message the result may come as (asked for with Accept); decoded by a
    # converter the client registers, else field by field into the `result` schema.
    protobuf: str | None = None
    # The pool this future's polls go over (default: the poll endpoint's own).
    poll_pool: str | None = None


class StreamFlag(_Strict):
    format: Literal["sse"]
    # The data schema of unnamed events (SSE's default name, `message`).
    event: str | None = None
    # Named events and the schema of their data; `end` names end the stream, `ignore` ones are
    # skipped, and `unknown` says what a name listed nowhere is (default: `data` when `event`
    # is set, as before these keys existed, else `ignore`).
    events: dict[str, str] = Field(default_factory=dict)
    end: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    unknown: Literal["data", "ignore", "error"] | None = None

    def schemas(self) -> list[str]:
        """Every schema the stream's events carry, the unnamed events' first, without repeats."""
        names = [self.event] if self.event else []
        return names + [s for s in dict.fromkeys(self.events.values()) if s not in names]

    @property
    def unknown_policy(self) -> str:
        return self.unknown or ("data" if self.event else "ignore")


class Paginate(_Strict):
    # No `style`: the offset listing of before styles existed (items iterator only).
    style: Literal["offset", "page", "cursor", "link"] | None = None
    items: str  # dotted path in the response to the page's items
    limit: str | None = None  # query parameter: the page size
    offset: str | None = None  # query parameter (offset): items to skip
    total: str | None = None  # dotted path (offset, page): items in the whole listing
    page: str | None = None  # query parameter (page): the page number
    cursor: str | None = None  # query parameter (cursor): where the next page starts
    next: str | None = None  # dotted path (cursor): the cursor of the next page

    @property
    def kind(self) -> str:
        return self.style or "offset"


class Endpoint(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(pattern=r"^/")
    description: str = ""
    path_params: dict[str, Param] = Field(default_factory=dict)
    query: dict[str, Param] = Field(default_factory=dict)
    request: str | None = None
    # form: x-www-form-urlencoded; multipart: multipart/form-data (files streamed)
    body: Literal["json", "form", "multipart", "raw", "protobuf"] = "json"
    message: str | None = None  # the protobuf message of a `body: protobuf` endpoint
    content_type: str | None = None
    accept: str | None = None
    response: str | None = None
    future: FutureFlag | None = None
    stream: StreamFlag | None = None
    compress: Literal["zstd", "gzip"] | None = None
    idempotent: bool = False
    retry: str = "default"
    # The policy by which the caller resubmits a failed call as a new request (the runtime
    # never does: the new request differs, a fresh sequence number say).
    resubmit: str | None = None
    backpressure: Backpressure | None = None
    timeout: float | None = Field(default=None, gt=0)
    pool: str = "default"
    breaker: str | None = None  # a name in `api.circuit_breakers`
    headers: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, str] = Field(default_factory=dict)
    deprecated: bool | str = False
    paginate: Paginate | None = None
    max_response_bytes: int | None = Field(default=None, ge=1)
    errors: ErrorMap = Field(default_factory=dict)  # this endpoint's, before the API's


class Resource(_Strict):
    description: str = ""
    endpoints: dict[str, Endpoint]


class Manifest(_Strict):
    manifest_version: Literal[1]
    api: Api
    resources: dict[str, Resource]
    schemas: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Schemas defined when ``models`` is imported (and those they use); the others on first use.
    # Empty: every schema at import.
    eager_schemas: list[str] = Field(default_factory=list)
