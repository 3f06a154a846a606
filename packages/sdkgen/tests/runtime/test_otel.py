"""OpenTelemetry: one span per call with its endpoint, status and attempts; opt-in traceparent."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pytest_httpx import HTTPXMock
from sdkgen.runtime import NotFoundError, OpenTelemetryListener
from tests.runtime._support import SyncFactory, endpoint

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


LAZY = """
import sys
from sdkgen.runtime import Event, OpenTelemetryListener

listener = OpenTelemetryListener("lazy", only_if_imported=True)
start = Event(kind="request_start", endpoint="get_item", method="GET", path="/items/1", attempt=1,
              call_id=1)
end = Event(kind="request_end", endpoint="get_item", method="GET", path="/items/1", attempt=1,
            call_id=1, status_code=200)
listener(start)
listener(end)
assert "opentelemetry" not in sys.modules, "the listener imported OpenTelemetry"

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
listener(start)
listener(end)
print([span.name for span in exporter.get_finished_spans()])
"""


def test_a_listener_that_waits_for_the_program_to_import_opentelemetry() -> None:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LAZY)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['lazy get_item']"
