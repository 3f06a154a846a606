"""OpenTelemetry: one span per call with its endpoint, status and attempts; opt-in traceparent."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pytest_httpx import HTTPXMock

from tests.runtime._support import SyncFactory, endpoint
from tinkex.runtime import NotFoundError, OpenTelemetryListener

EXPORTER = InMemorySpanExporter()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))


@pytest.fixture(autouse=True)
def _spans() -> None:
    EXPORTER.clear()


def listener() -> OpenTelemetryListener:
    otel = OpenTelemetryListener("testsdk")
    otel._tracer = PROVIDER.get_tracer("testsdk")  # a provider of the test's own
    return otel


def test_a_span_per_call_with_status_and_attempts(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client(listeners=[listener()])
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json={"id": "1"}, headers={"x-request-id": "req-9"})
    client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    (span,) = EXPORTER.get_finished_spans()
    assert span.name == "testsdk get_item"
    assert span.kind == trace.SpanKind.CLIENT
    assert span.attributes["sdk.attempts"] == 2
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["sdk.request_id"] == "req-9"
    assert [e.name for e in span.events] == ["retry"]


def test_a_failed_call_is_an_error_span(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client(listeners=[listener()])
    httpx_mock.add_response(status_code=404, json={"detail": "gone"})
    with pytest.raises(NotFoundError):
        client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    (span,) = EXPORTER.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.attributes["error.type"] == "NotFoundError"


def test_traceparent_is_sent_only_when_asked(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    tracer = PROVIDER.get_tracer("user")
    httpx_mock.add_response(json={"id": "1"}, is_reusable=True)
    with tracer.start_as_current_span("user work") as span:
        make_client().request(endpoint("get_item"), dict, path_params={"item_id": "1"})
        make_client(propagate_trace=True).request(
            endpoint("get_item"), dict, path_params={"item_id": "1"}
        )
        trace_id = format(span.get_span_context().trace_id, "032x")
    plain, propagated = httpx_mock.get_requests()
    assert "traceparent" not in plain.headers
    assert propagated.headers["traceparent"].split("-")[1] == trace_id
