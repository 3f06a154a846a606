"""Telemetry to the server: session start and end, errors, exceptions; off when disabled; never
carrying the key or any prompt; never slowing training. And client-side metrics."""

from __future__ import annotations

import json
import time

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, datum, wait_for
from tests.fake_tinker import FakeTinker, faults

SECRET_TOKENS = [7301, 7302, 7303]  # a "prompt" that must never appear in telemetry


def test_session_start_and_end_reach_the_server(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server, telemetry_flush_interval=0.05)
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    assert wait_for(lambda: any(e["event"] == "SESSION_START" for e in server.telemetry))
    service.close()
    kinds = [e["event"] for e in server.telemetry]
    assert kinds[0] == "SESSION_START"
    assert kinds[-1] == "SESSION_END"
    batch = server.telemetry_batches[0]
    assert batch["session_id"].startswith("session-")
    assert batch["process_uuid"]
    assert [e["event_session_index"] for e in server.telemetry] == sorted(
        e["event_session_index"] for e in server.telemetry
    )


def test_telemetry_off_sends_nothing(
    server: FakeTinker, make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKER_TELEMETRY", "0")
    service = make_service(server, telemetry_flush_interval=0.05)
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    time.sleep(0.2)
    service.close()
    assert server.telemetry == []
    assert server.requests_to("telemetry") == []


def test_events_carry_no_key_and_no_data(server: FakeTinker, make_service: ServiceFactory) -> None:
    service = make_service(server, api_key="tml-very-secret-key", telemetry_flush_interval=0.05)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    server.inject(
        "forward_backward", faults.status(400, body={"detail": f"bad tokens {SECRET_TOKENS}"})
    )
    with pytest.raises(tinker.BadRequestError):
        training.forward_backward([datum([*SECRET_TOKENS, 1])], "cross_entropy").result(
            timeout=WAIT
        )
    with pytest.raises(RuntimeError), service:
        raise RuntimeError(f"user failure with {SECRET_TOKENS}")
    generic = [e for e in server.telemetry if e["event"] == "GENERIC_EVENT"]
    assert generic
    assert generic[0]["event_data"]["endpoint"] == "forward_backward_json"
    assert generic[0]["event_data"]["status_code"] == 400
    unhandled = [e for e in server.telemetry if e["event"] == "UNHANDLED_EXCEPTION"]
    assert unhandled[0]["error_type"] == "RuntimeError"
    text = json.dumps(server.telemetry_batches)
    assert "tml-very-secret-key" not in text
    for token in SECRET_TOKENS:
        assert str(token) not in text


def test_a_hanging_telemetry_endpoint_never_slows_training(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    server.inject("telemetry", faults.delay(20), times=50)
    service = make_service(server, telemetry_flush_interval=0.01)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    started = time.monotonic()
    for _ in range(5):
        training.forward_backward([datum([1, 2, 3])], "cross_entropy").result(timeout=WAIT)
        training.optim_step().result(timeout=WAIT)
    assert time.monotonic() - started < 10  # the telemetry delay is 20 s per batch
    closing = time.monotonic()
    service.close()
    assert time.monotonic() - closing < 15  # the drain is bounded


def test_metrics_are_readable_from_the_client(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    for _ in range(3):
        training.optim_step().result(timeout=WAIT)
    server.inject("optim_step", faults.status(503))
    training.optim_step().result(timeout=WAIT)
    stats = service.metrics.summary()["optim_step"]
    assert stats["calls"] == 4
    assert stats["retries"] == 1
    assert stats["errors"] == 0
    assert stats["p50"] is not None
    assert "retrieve_future" in service.metrics.summary()
