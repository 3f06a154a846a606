"""The telemetry reporter: batching, flushing, a bounded queue, retries, drain on close."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sdkgen.runtime import APIConnectionError, TelemetryReporter, telemetry_enabled
from tests.runtime._support import API_SPEC


class Sink:
    def __init__(self, failures: int = 0, delay: float = 0.0) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.failures = failures
        self.calls = 0
        self.delay = delay

    async def __call__(self, batch: list[dict[str, Any]]) -> None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            raise APIConnectionError("telemetry endpoint down")
        self.batches.append(batch)


def events(n: int) -> list[dict[str, Any]]:
    return [{"n": i} for i in range(n)]


async def test_batches_hold_at_most_max_batch_events() -> None:
    sink = Sink()
    reporter = TelemetryReporter(sink, max_batch=100, flush_interval=60)
    for e in events(250):
        reporter.record(e)
    await reporter.flush()
    assert [len(b) for b in sink.batches] == [100, 100, 50]
    assert [e["n"] for b in sink.batches for e in b] == list(range(250))
    assert reporter.sent == 250


async def test_flushes_on_its_interval() -> None:
    sink = Sink()
    reporter = TelemetryReporter(sink, flush_interval=0.02)
    reporter.start()
    reporter.record({"n": 1})
    for _ in range(100):
        if sink.batches:
            break
        await asyncio.sleep(0.01)
    assert sink.batches == [[{"n": 1}]]
    await reporter.aclose()


async def test_a_full_batch_is_sent_without_waiting_for_the_interval() -> None:
    sink = Sink()
    reporter = TelemetryReporter(sink, max_batch=10, flush_interval=3600)
    reporter.start()
    for e in events(10):
        reporter.record(e)
    for _ in range(100):
        if sink.batches:
            break
        await asyncio.sleep(0.01)
    assert len(sink.batches) == 1
    assert len(sink.batches[0]) == 10
    await reporter.aclose()


def test_a_full_queue_drops_the_oldest_and_counts_them() -> None:
    reporter = TelemetryReporter(Sink(), max_queue=5, flush_interval=3600)
    for e in events(8):
        reporter.record(e)
    assert reporter.dropped == 3
    assert reporter.pending == 5
    assert [e["n"] for e in reporter._take()] == [3, 4, 5, 6, 7]


async def test_failed_batches_are_retried_then_dropped() -> None:
    sink = Sink(failures=2)
    reporter = TelemetryReporter(sink, retries=3, backoff=0.001)
    reporter.record({"n": 1})
    await reporter.flush()
    assert sink.calls == 3
    assert sink.batches == [[{"n": 1}]]
    hopeless = Sink(failures=100)
    reporter = TelemetryReporter(hopeless, retries=3, backoff=0.001)
    reporter.record({"n": 1})
    await reporter.flush()
    assert hopeless.calls == 4  # the first try and 3 retries
    assert reporter.failed_batches == 1
    assert reporter.sent == 0


async def test_close_drains_what_is_left() -> None:
    sink = Sink()
    reporter = TelemetryReporter(sink, flush_interval=3600)
    reporter.start()
    for e in events(3):
        reporter.record(e)
    await reporter.aclose(timeout=2)
    assert [len(b) for b in sink.batches] == [3]


async def test_close_is_bounded_when_the_endpoint_hangs() -> None:
    sink = Sink(delay=30)
    reporter = TelemetryReporter(sink, flush_interval=3600)
    reporter.start()
    reporter.record({"n": 1})
    loop = asyncio.get_running_loop()
    started = loop.time()
    await reporter.aclose(timeout=0.2)
    assert loop.time() - started < 5  # bounded by the timeout, not the endpoint
    assert reporter.dropped == 1
    assert reporter.sent == 0


def test_record_never_fails_without_a_loop() -> None:
    reporter = TelemetryReporter(Sink(), max_batch=1)
    reporter.record({"n": 1})  # no loop started: queued, nothing raised
    assert reporter.pending == 1


@pytest.mark.parametrize(
    ("value", "enabled"), [("0", False), ("false", False), ("OFF", False), ("1", True), ("", True)]
)
def test_the_environment_switches_telemetry_off(value: str, enabled: bool) -> None:
    import dataclasses

    api = dataclasses.replace(API_SPEC, env={**API_SPEC.env, "telemetry": "SDK_TELEMETRY"})
    assert telemetry_enabled(api, {"SDK_TELEMETRY": value}) is enabled
    assert telemetry_enabled(API_SPEC, {"SDK_TELEMETRY": "0"}) is True  # no variable named


async def test_close_tries_each_batch_once_when_the_server_is_gone() -> None:
    sink = Sink(failures=100)
    reporter = TelemetryReporter(sink, retries=3, backoff=5.0, flush_interval=3600)
    reporter.start()
    reporter.record({"n": 1})
    loop = asyncio.get_running_loop()
    started = loop.time()
    await reporter.aclose(timeout=30)
    assert sink.calls == 1  # no 5 + 10 + 20 s of backoff on the way out
    assert loop.time() - started < 4.0
