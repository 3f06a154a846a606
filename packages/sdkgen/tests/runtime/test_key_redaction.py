"""The API key never leaks: stripped and checked on the way in, redacted on every way out.

A canary key is given with surrounding whitespace, with a newline, with a non-ASCII character
and with a space inside; a server on 127.0.0.1 echoes it (in the body, in headers, upper-cased).
The exception's str / repr / args / body / request id, every log line of every logger at DEBUG,
the telemetry events and the OpenTelemetry spans are searched for the key and its 8-character
prefix.
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest
import sdkgen.runtime
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sdkgen.runtime import (
    APIConnectionError,
    APIStatusError,
    ConfigError,
    InternalServerError,
    OpenTelemetryListener,
    RequestOptions,
)
from sdkgen.runtime._redact import redact, redact_value
from sdkgen.runtime._telemetry import Telemetry
from tests.runtime._support import API_KEY_ENV, SyncFactory, endpoint

CANARY = "cnry-Q7w9Zx3LmKp2Vb8Tn4Rd"
PREFIX = CANARY[:8]


def _leaks(text: str) -> list[str]:
    """The canary's forms found in ``text`` (case-insensitive: a server may change the case)."""
    low = text.lower()
    return [form for form in (CANARY, PREFIX) if form.lower() in low]


class _Echo(BaseHTTPRequestHandler):
    """Answers 500 and echoes the key it got: in the body, the request id and another header."""

    seen: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        key = self.headers.get("X-API-Key", "")
        _Echo.seen.append(key)
        body = json.dumps({"detail": f"key {key} refused", "echo": [key.upper(), key[:10]]})
        raw = body.encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("x-request-id", key)
        self.send_header("x-echo-key", key.lower())
        self.end_headers()
        self.wfile.write(raw)


@pytest.mark.parametrize("given", [f"  {CANARY}  ", f"{CANARY}\n", f"\t{CANARY}\r\n"])
def test_an_echoed_key_is_redacted_everywhere(
    given: str,
    make_client: SyncFactory,
    http_server: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = http_server(_Echo)
    _Echo.seen.clear()
    events: list[Any] = []
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel = OpenTelemetryListener("keytest")
    otel._tracer = provider.get_tracer("keytest")  # a provider of the test's own
    caplog.set_level(logging.DEBUG)  # the root: every logger, httpx's and httpcore's included
    client = make_client(base_url=server.base_url, api_key=given, listeners=[events.append, otel])
    with pytest.raises(InternalServerError) as info:
        client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})

    # The key went out stripped (a key read from a file ends in a newline), on every attempt.
    assert _Echo.seen
    assert set(_Echo.seen) == {CANARY}
    err = info.value
    assert err.attempts > 1  # retried: the retry log lines are searched too
    assert isinstance(err, APIStatusError)
    where = {
        "str": str(err),
        "repr": repr(err),
        "args": repr(err.args),
        "body": json.dumps(err.body),
        "request_id": repr(err.request_id),
        "detail": err.detail,
        "logs": "\n".join(r.getMessage() for r in caplog.records),
        "telemetry": "\n".join(repr(e) for e in events),
        "spans": "\n".join(
            json.dumps(
                {"attributes": dict(s.attributes or {}), "events": [e.name for e in s.events]},
                default=str,
            )
            + repr(s.status)
            for s in exporter.get_finished_spans()
        ),
    }
    leaks = {name: found for name, text in where.items() if (found := _leaks(text))}
    assert not leaks, f"the key leaked into {sorted(leaks)}"
    # ... and the searches did look at something: the echo was there, redacted.
    assert "<redacted>" in where["body"]
    assert "<redacted>" in where["str"]
    assert any(
        "<redacted>" in r.getMessage() for r in caplog.records if r.name == "httpcore.http11"
    )
    assert exporter.get_finished_spans()


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        (f"{CANARY[:12]}\n{CANARY[12:]}", "control character"),
        (f"{CANARY[:12]}\u00e4{CANARY[12:]}", "non-ASCII"),
        (f"{CANARY[:12]} {CANARY[12:]}", "a space"),
    ],
)
def test_a_malformed_key_is_refused_naming_its_source_not_the_key(
    bad: str, what: str, make_client: SyncFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError) as info:
        make_client(api_key=bad)
    text = f"{info.value} {info.value!r} {info.value.args!r}"
    assert "the api_key argument" in text
    assert what in text
    assert not _leaks(text)

    monkeypatch.setenv(API_KEY_ENV, f" {bad}\n")
    with pytest.raises(ConfigError) as info:
        make_client(api_key=None)
    text = f"{info.value} {info.value!r}"
    assert f"${API_KEY_ENV}" in text
    assert not _leaks(text)


def test_a_key_from_the_environment_is_stripped(
    make_client: SyncFactory, http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http_server(_Echo)
    _Echo.seen.clear()
    monkeypatch.setenv(API_KEY_ENV, f"{CANARY}\n")
    client = make_client(base_url=server.base_url, api_key=None, max_retries=0)
    with pytest.raises(InternalServerError):
        client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert _Echo.seen == [CANARY]


def test_an_illegal_default_header_is_refused_before_anything_is_sent(
    make_client: SyncFactory,
) -> None:
    # Left to the HTTP library, it is an "illegal header value" quoting the value, retried as a
    # connection error on every attempt.
    with pytest.raises(ConfigError) as info:
        make_client(default_headers={"Authorization": f"Bearer {CANARY}\n"})
    assert "default_headers['Authorization']" in str(info.value)
    assert not _leaks(repr(info.value))


def test_an_illegal_header_value_in_a_call_is_not_retried(
    make_client: SyncFactory, http_server: Any
) -> None:
    server = http_server(_Echo)
    _Echo.seen.clear()
    client = make_client(base_url=server.base_url)
    options = RequestOptions(extra_headers={"X-Trace": "a\nb"})
    with pytest.raises(APIConnectionError) as info:
        client.request(endpoint("get_item"), dict, path_params={"item_id": "1"}, options=options)
    # Refused locally: once, not retried as if the server were unreachable.
    assert info.value.attempts == 1
    assert not info.value.retryable
    assert _Echo.seen == []


def test_redact_covers_prefixes_and_case_variants() -> None:
    sdkgen.runtime.Secret(CANARY)  # registers it, as every client's key is
    text = f"a {CANARY} b {CANARY.upper()} c {PREFIX.lower()}xyz d {CANARY[:7]}"
    clean = redact(text)
    assert not _leaks(clean)
    assert clean == "a <redacted> b <redacted> c <redacted>xyz d " + CANARY[:7]
    assert redact_value({"k": [CANARY, b"x" + CANARY.encode()]}) == {
        "k": ["<redacted>", b"x<redacted>"]
    }


def test_an_sdks_own_logger_is_redacted_once_a_client_names_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Generated specs name their package's logger (APISpec.logger); the client's telemetry
    # registers it, so a key quoted there is redacted as in the runtime's own logger.
    name = "an_sdk_of_its_own"
    with caplog.at_level(logging.INFO, logger=name):
        Telemetry(logger_name=name)
        sdkgen.runtime.Secret(CANARY)
        logging.getLogger(name).info("sending with key %s", CANARY)
    (record,) = [r for r in caplog.records if r.name == name]
    assert not _leaks(record.getMessage())
    assert "<redacted>" in record.getMessage()
