"""Tinker's telemetry events: session start and end, unhandled exceptions, request errors.

Events carry no API key, no prompt, no completion and no server message (which could echo
either): only event names, endpoint ids, status codes, error types and durations.
"""

from __future__ import annotations

import datetime
import itertools
import os
import platform
import uuid
from typing import TYPE_CHECKING, Any

from sdkgen.runtime import Event, TelemetryReporter, telemetry_enabled

from ._generated import AsyncTinkerAPI

if TYPE_CHECKING:
    from ._holder import Holder

__all__ = ["SessionTelemetry"]

PROCESS_UUID = str(uuid.uuid4())
# Calls whose 404 only means "this server lacks an optional feature"; the SDK copes.
_OPTIONAL = frozenset(
    {
        "get_checkpoint_archive_url",  # the legacy archive route, probed before the export route
        "get_client_config",
        "get_dynamic_config",
        "finish_session",
        "get_sampler",
        "get_server_capabilities",
    }
)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


class SessionTelemetry:
    """Builds events for one holder's session and hands them to a reporter (when telemetry is
    on). Made while the holder is (re)built: it reads the holder's parts only when sending."""

    def __init__(self, holder: Holder, *, flush_interval: float = 10.0) -> None:
        self.holder = holder
        spec = AsyncTinkerAPI.api
        self.enabled = telemetry_enabled(spec, os.environ)
        self.reporter = TelemetryReporter(
            self._send, flush_interval=flush_interval, logger_name=spec.logger
        )
        self._index = itertools.count()
        self._started_at: datetime.datetime | None = None
        self._sessionless = f"sessionless-{uuid.uuid4()}"

    def _event(self, kind: str, severity: str, **fields: Any) -> None:
        if not self.enabled:
            return
        self.reporter.record(
            {
                "event": kind,
                "event_id": str(uuid.uuid4()),
                "event_session_index": next(self._index),
                "severity": severity,
                "timestamp": _now(),
                **fields,
            }
        )

    async def _send(self, batch: list[dict[str, Any]]) -> None:
        holder = self.holder
        await holder.api.service.telemetry(
            events=batch,  # type: ignore[arg-type]  # validated into the event models
            platform=platform.system(),
            sdk_version=holder.version,
            session_id=holder.session.known_id or self._sessionless,
            process_uuid=PROCESS_UUID,
            max_retries=0,  # the reporter retries batches itself
        )

    # -- what happens ------------------------------------------------------------------------

    def session_started(self) -> None:
        """Called on the loop when the session exists: starts the reporter."""
        self._started_at = datetime.datetime.now(datetime.UTC)
        if self.enabled:
            self.reporter.start()
        self._event("SESSION_START", "INFO")

    def session_ended(self) -> None:
        if self._started_at is None:
            return
        duration = datetime.datetime.now(datetime.UTC) - self._started_at
        self._event("SESSION_END", "INFO", duration=str(duration))

    def unhandled_exception(self, exc: BaseException) -> None:
        # The type only: a message may quote data (prompts, paths) that must not leave.
        self._event(
            "UNHANDLED_EXCEPTION",
            "ERROR",
            error_type=type(exc).__name__,
            error_message=type(exc).__name__,
        )

    def listener(self, event: Event) -> None:
        """A runtime listener: failed requests become generic events."""
        if event.kind != "request_error" or event.endpoint == "telemetry":
            return
        if event.status_code == 404 and event.endpoint in _OPTIONAL:
            return
        self._event(
            "GENERIC_EVENT",
            "WARNING",
            event_name="request_error",
            event_data={
                "endpoint": event.endpoint,
                "status_code": event.status_code,
                "error_type": event.error_type,
                "attempts": event.attempt,
            },
        )

    async def aclose(self, timeout: float) -> None:
        if self.enabled:
            await self.reporter.aclose(timeout)
