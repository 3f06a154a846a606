"""The dynamic config (``/client/dynamic_config``): fetched at session start, refreshed in the
background keeping the last good answer, optional (404: the defaults); and the cancellation of
abandoned samples on the server, which it enables."""

from __future__ import annotations

import asyncio
import time

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, wait_for
from tests.fake_tinker import FakeTinker, faults
from tinkex import types

PARAMS = types.SamplingParams(max_tokens=2)


@pytest.fixture
def fast_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinkex import _server_features

    monkeypatch.setattr(_server_features, "DYNAMIC_CONFIG_MIN_REFRESH", 0.02)


def _endpoints(server: FakeTinker) -> list[str]:
    return [r.endpoint for r in server.requests if r.endpoint != "session_heartbeat"]


def test_fetched_at_session_start(server: FakeTinker, service: tinker.ServiceClient) -> None:
    server.dynamic_config = {"refresh_interval_sec": 300, "sample_cancel_enabled": True}
    service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    order = _endpoints(server)
    assert order.index("get_dynamic_config") < order.index("create_session")
    assert service.holder.features.known_dynamic_config is not None
    assert service.holder.features.known_dynamic_config.sample_cancel_enabled is True


def test_a_server_without_it_gets_the_defaults_and_is_not_asked_again(
    server: FakeTinker, service: tinker.ServiceClient, fast_refresh: None
) -> None:
    assert server.dynamic_config is None  # the fake answers 404
    service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    time.sleep(0.2)  # ten refresh periods
    assert len(server.requests_to("get_dynamic_config")) == 1
    flags = service.holder.features.known_dynamic_config
    assert flags is not None
    assert flags.sample_cancel_enabled is False
    assert flags.refresh_interval_sec == 300


def test_refreshed_in_the_background_keeping_the_last_good_answer(
    server: FakeTinker, service: tinker.ServiceClient, fast_refresh: None
) -> None:
    server.dynamic_config = {"refresh_interval_sec": 0, "sample_cancel_enabled": False}
    service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    holder = service.holder
    server.dynamic_config = {"refresh_interval_sec": 0, "sample_cancel_enabled": True}
    assert wait_for(lambda: holder.features.known_dynamic_config.sample_cancel_enabled)  # type: ignore[union-attr]
    server.inject("get_dynamic_config", faults.status(500), times=5)
    asked = len(server.requests_to("get_dynamic_config"))
    assert wait_for(lambda: len(server.requests_to("get_dynamic_config")) >= asked + 6)
    assert holder.features.known_dynamic_config is not None
    assert (
        holder.features.known_dynamic_config.sample_cancel_enabled is True
    )  # kept through the failures


def test_the_refresh_stops_with_the_client(
    server: FakeTinker, make_service: ServiceFactory, fast_refresh: None
) -> None:
    server.dynamic_config = {"refresh_interval_sec": 0}
    service = make_service(server)
    service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    service.close()
    asked = len(server.requests_to("get_dynamic_config"))
    time.sleep(0.2)
    assert len(server.requests_to("get_dynamic_config")) == asked


def _never_ready(server: FakeTinker) -> None:
    server.try_agains_by_endpoint["asample"] = 10**9


def _asample_id(server: FakeTinker) -> str:
    assert wait_for(lambda: bool(server.requests_to("retrieve_future")))
    ids = [fid for fid, fut in server.futures.items() if fut.endpoint == "asample"]
    assert len(ids) == 1
    return ids[0]


def test_a_cancelled_sample_is_cancelled_on_the_server(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    server.dynamic_config = {"sample_cancel_enabled": True}
    _never_ready(server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    future = sampler.sample(types.ModelInput.from_ints([1, 2]), 1, PARAMS)
    request_id = _asample_id(server)
    assert future.cancel()
    assert wait_for(lambda: server.cancelled_futures == [request_id])


def test_a_cancelled_sample_async_is_cancelled_on_the_server(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    server.dynamic_config = {"sample_cancel_enabled": True}
    _never_ready(server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)

    async def abandon() -> None:
        task = asyncio.create_task(sampler.sample_async(types.ModelInput.from_ints([3]), 1, PARAMS))
        polled = await asyncio.to_thread(
            wait_for, lambda: bool(server.requests_to("retrieve_future"))
        )
        assert polled
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(abandon(), WAIT))
    request_id = _asample_id(server)
    assert wait_for(lambda: server.cancelled_futures == [request_id])


def test_no_cancellation_is_sent_unless_the_server_enables_it(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    _never_ready(server)  # dynamic config: 404, so sample_cancel_enabled is False
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    future = sampler.sample(types.ModelInput.from_ints([1, 2]), 1, PARAMS)
    _asample_id(server)
    assert future.cancel()
    # The drain ran (it asked for the flags, already known) and sent nothing.
    assert wait_for(lambda: not service.holder.cancels.draining)
    time.sleep(0.1)
    assert server.requests_to("cancel_future") == []


def test_a_404_on_refresh_keeps_the_last_good_answer(
    server: FakeTinker, service: tinker.ServiceClient, fast_refresh: None
) -> None:
    server.dynamic_config = {"refresh_interval_sec": 0, "sample_cancel_enabled": True}
    service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    server.dynamic_config = None  # the endpoint is gone for a while (a redeploy)
    asked = len(server.requests_to("get_dynamic_config"))
    assert wait_for(lambda: len(server.requests_to("get_dynamic_config")) >= asked + 3)
    flags = service.holder.features.known_dynamic_config
    assert flags is not None
    assert flags.sample_cancel_enabled is True  # kept, and still refreshed
    server.dynamic_config = {"refresh_interval_sec": 0, "sample_cancel_enabled": False}
    assert wait_for(lambda: not service.holder.features.known_dynamic_config.sample_cancel_enabled)  # type: ignore[union-attr]
