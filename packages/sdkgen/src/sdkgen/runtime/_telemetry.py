"""Request telemetry: typed events delivered to pluggable listeners, and redacted logging.

Every call emits ``request_start``, then ``retry`` for each retry, then ``request_end`` or
``request_error``; a circuit breaker that changes state emits ``circuit_state`` (no endpoint). Listeners are plain callables; one that raises is logged and skipped, never
allowed to break the call. Nothing here ever sees the API key: headers are redacted before an
event or a log line is built, and an event's free text (``error``, ``detail``, ``request_id``)
is redacted of every key the SDK was given before any listener sees it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

from ._redact import redact, watch_logger
from ._spec import DEFAULT_LOGGER, APISpec, Record

__all__ = [
    "Event",
    "EventKind",
    "Listener",
    "Telemetry",
    "apply_log_env",
    "redact_headers",
]


EventKind = Literal[
    "request_start", "request_end", "request_error", "retry", "queue_state", "circuit_state"
]
Listener = Callable[["Event"], None]

REDACTED = "<redacted>"
_ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


@dataclass(frozen=True, slots=True, eq=False, repr=False)  # eq, hash, repr: Record
class Event(Record):
    """One thing that happened to a call. ``attempt`` counts from 1."""

    kind: EventKind
    endpoint: str
    method: str
    path: str
    attempt: int = 1
    status_code: int | None = None
    elapsed: float = 0.0
    wait: float | None = None
    error: str | None = None
    error_type: str | None = None
    request_id: str | None = None
    detail: str | None = None
    call_id: int = 0  # the same for every event of one call (its attempts and retries)
    # A ``circuit_state`` event: the breaker's name (``detail``: "<state>: <why>").
    circuit: str | None = None


def redact_headers(headers: Mapping[str, str], secret_names: Iterable[str]) -> dict[str, str]:
    """A copy of ``headers`` with credentials and secret headers replaced by ``<redacted>``."""
    secret = _ALWAYS_SECRET | {name.lower() for name in secret_names}
    return {k: (REDACTED if k.lower() in secret else v) for k, v in headers.items()}


class Telemetry:
    """Fans events out to listeners and to the API's logger (``APISpec.logger``)."""

    def __init__(
        self, listeners: Iterable[Listener] = (), *, logger_name: str = DEFAULT_LOGGER
    ) -> None:
        self._listeners: list[Listener] = list(listeners)
        self.logger = logging.getLogger(logger_name)
        watch_logger(logger_name)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def log_request(
        self, endpoint: str, attempt: int, request: httpx.Request, secret_names: Iterable[str]
    ) -> None:
        """At DEBUG, log an outgoing request with credentials and secret headers redacted."""
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(
                "%s attempt %d: %s %s headers=%s",
                endpoint,
                attempt,
                request.method,
                request.url,
                redact_headers(request.headers, secret_names),
            )

    def emit(self, event: Event) -> None:
        event = _redacted(event)
        if event.kind == "retry":
            self.logger.info(
                "retrying %s (attempt %d failed: %s); next attempt in %.2fs",
                event.endpoint,
                event.attempt,
                event.error,
                event.wait or 0.0,
            )
        elif event.kind == "request_error":
            self.logger.debug("%s %s failed: %s", event.method, event.path, event.error)
        elif self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(
                "%s %s %s status=%s", event.kind, event.method, event.path, event.status_code
            )
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                self.logger.exception(
                    "telemetry listener %r failed; event dropped for it", listener
                )


def _redacted(event: Event) -> Event:
    """``event`` with its free text redacted (the same object when there was nothing to hide)."""
    if event.error is None and event.detail is None and event.request_id is None:
        return event  # most events (every request_start) carry no text
    error, detail, request_id = (
        None if text is None else redact(text)
        for text in (event.error, event.detail, event.request_id)
    )
    if (error, detail, request_id) == (event.error, event.detail, event.request_id):
        return event
    return dataclasses.replace(event, error=error, detail=detail, request_id=request_id)


_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
# The reference SDKs' format, given to the handler added when the program configured none.
_LOG_FORMAT = "[%(asctime)s - %(name)s:%(lineno)d - %(levelname)s] %(message)s"
_log_env_lock = threading.Lock()
_log_env_applied: set[str] = set()  # logger names: the variable is read once per process


def apply_log_env(api: APISpec, environ: Mapping[str, str] | None = None) -> None:
    """Honour the API's log-level variable (the manifest's ``env.log``, e.g. ``MYAPI_LOG=info``):
    set the API's logger and httpx's to that level, with a handler on the root logger (as
    ``logging.basicConfig`` adds it) when the program has configured none. Read once per
    process and logger; unset or empty leaves logging alone; an unknown value is reported and
    ignored. Levels: debug, info, warning, error, critical.

    Args:
        api: The API whose ``env["log"]`` names the variable and whose ``logger`` is set.
        environ: Where to read it (default: ``os.environ``).

    Example::

        apply_log_env(API_SPEC)  # MYAPI_LOG=debug: every request and retry is logged
    """
    name = api.env.get("log")
    if not name:
        return
    with _log_env_lock:
        if api.logger in _log_env_applied:
            return
        _log_env_applied.add(api.logger)
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return
    logger = logging.getLogger(api.logger)
    level = _LOG_LEVELS.get(raw.lower())
    if level is None:
        logger.warning(
            "%s=%r is not a log level (use one of %s); logging is left as it is",
            name,
            raw,
            ", ".join(_LOG_LEVELS),
        )
        return
    if not logging.getLogger().handlers and not logger.handlers:
        logging.basicConfig(format=_LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
    logger.setLevel(level)
    logging.getLogger("httpx").setLevel(level)
