"""Metrics from request events: counts, errors, retries, latency percentiles, paused time."""

from __future__ import annotations

import time

import pytest
from pytest_httpx import HTTPXMock
from sdkgen.runtime import APIStatusError, Event, Metrics
from tests.runtime._support import SyncFactory, endpoint


def test_counts_and_latencies_from_real_calls(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    metrics = Metrics()
    client = make_client(listeners=[metrics])
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json={"id": "1"})
    httpx_mock.add_response(status_code=404, json={"detail": "no item"})
    client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    with pytest.raises(APIStatusError):
        client.request(endpoint("get_item"), dict, path_params={"item_id": "2"})
    stats = metrics.summary()["get_item"]
    assert stats["calls"] == 2
    assert stats["errors"] == 1
    assert stats["retries"] == 1
    assert stats["attempts"] == 3
    assert stats["p50"] is not None
    assert stats["p50"] >= 0


def test_percentiles() -> None:
    metrics = Metrics()
    for ms in range(1, 101):
        metrics(Event("request_end", "e", "GET", "/", elapsed=ms / 1000))
    e = metrics.endpoint("e")
    assert e.percentile(50) == pytest.approx(0.050, abs=0.002)
    assert e.percentile(99) == pytest.approx(0.099, abs=0.002)
    assert Metrics().endpoint("never").percentile(50) is None


def test_time_paused_in_queues() -> None:
    metrics = Metrics()
    metrics(Event("queue_state", "fb", "POST", "/r", request_id="r1", detail="paused_capacity"))
    time.sleep(0.05)
    metrics(Event("queue_state", "fb", "POST", "/r", request_id="r1", detail="active"))
    paused = metrics.summary()["fb"]["paused_seconds"]
    assert isinstance(paused, float)
    assert 0.04 <= paused < 5
    # still paused: counted up to now
    metrics(Event("queue_state", "fb", "POST", "/r", request_id="r2", detail="paused_rate_limit"))
    time.sleep(0.02)
    assert (metrics.summary()["fb"]["paused_seconds"] or 0) > paused
