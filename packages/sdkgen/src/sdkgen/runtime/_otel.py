"""OpenTelemetry: a span per call (endpoint, method, status, attempts), when opentelemetry-api
is installed. Add it as a listener; it does nothing without a configured tracer provider.

W3C ``traceparent`` propagation is separate and opt-in (``propagate_trace=True`` on a client):
outgoing requests then carry the caller's current trace context.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import MutableMapping
from typing import Any

from ._telemetry import Event

__all__ = ["OpenTelemetryListener", "inject_trace_context"]


def _otel() -> Any:
    try:
        import opentelemetry.trace as trace
    except ImportError:
        raise ImportError(
            "OpenTelemetry support needs `opentelemetry-api`; install it with: pip install "
            "opentelemetry-api"
        ) from None
    return trace


class OpenTelemetryListener:
    """A listener that records each call as a span named ``<api> <endpoint>``.

    Example::

        client = MyAPI(listeners=[OpenTelemetryListener("my-sdk")])
    """

    def __init__(self, tracer_name: str = "sdk", *, only_if_imported: bool = False) -> None:
        """Args:
        tracer_name: the tracer's name, and the first word of each span's name.
        only_if_imported: import nothing now; record spans once the program itself has
            imported ``opentelemetry.trace`` (a tracer provider cannot be configured without
            it). An SDK can then attach this listener by default without loading OpenTelemetry
            (about 5 MiB) into programs that do not trace.
        """
        self._name = tracer_name
        self._spans: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._trace: Any = None
        self._tracer: Any = None
        if not only_if_imported:
            self._bind(_otel())

    def _bind(self, trace: Any) -> None:
        self._trace = trace
        self._tracer = trace.get_tracer(self._name)

    def _unconfigured(self) -> bool:
        if self._trace is None:
            trace = sys.modules.get("opentelemetry.trace")
            if trace is None:
                return True  # the program never imported OpenTelemetry: nothing to record to
            self._bind(trace)
        trace = self._trace
        return isinstance(self._tracer, trace.ProxyTracer) and isinstance(
            trace.get_tracer_provider(), trace.ProxyTracerProvider
        )

    def __call__(self, event: Event) -> None:
        if event.kind == "request_start" and event.attempt == 1:
            if self._unconfigured():
                return  # no provider configured (yet): every span would be a no-op
            span = self._tracer.start_span(
                f"{self._name} {event.endpoint}",
                kind=self._trace.SpanKind.CLIENT,
                attributes={
                    "sdk.endpoint": event.endpoint,
                    "http.request.method": event.method,
                    "url.path": event.path,
                },
            )
            with self._lock:
                self._spans[event.call_id] = span
            return
        with self._lock:
            span = self._spans.get(event.call_id)
        if span is None:
            return
        if event.kind == "retry":
            span.add_event(
                "retry",
                {
                    "attempt": event.attempt,
                    "wait": event.wait or 0.0,
                    "error.type": event.error_type or "",
                },
            )
        elif event.kind in ("request_end", "request_error"):
            with self._lock:
                self._spans.pop(event.call_id, None)
            span.set_attribute("sdk.attempts", event.attempt)
            if event.status_code is not None:
                span.set_attribute("http.response.status_code", event.status_code)
            if event.request_id:
                span.set_attribute("sdk.request_id", event.request_id)
            if event.kind == "request_error":
                span.set_attribute("error.type", event.error_type or "error")
                span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, event.error_type))
            span.end()


def inject_trace_context(headers: MutableMapping[str, str]) -> None:
    """Add the current W3C trace context (``traceparent``) to ``headers``, if OTel is present."""
    try:
        import opentelemetry.propagate as propagate
    except ImportError:
        return
    propagate.inject(headers)
