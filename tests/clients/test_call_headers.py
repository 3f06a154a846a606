"""``x-sdk-version`` / ``x-sdk-method``: requests made for a public call name it (the outermost
call wins); background work and the opening of the session name none."""

from __future__ import annotations

import asyncio

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, datum, wait_for
from tests.fake_tinker import FakeTinker
from tests.fake_tinker.server import RecordedRequest
from tinkex import types

VERSION = "0.38.0"  # the protocol version tinkex reports as its sdk_version
PARAMS = types.SamplingParams(max_tokens=2)


def _method(request: RecordedRequest) -> str | None:
    return request.headers.get("x-sdk-method")


def _methods(server: FakeTinker, endpoint: str) -> set[str | None]:
    return {_method(r) for r in server.requests_to(endpoint)}


def test_training_calls_name_their_method(server: FakeTinker, make_service: ServiceFactory) -> None:
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    training.forward_backward([datum([1, 2, 3])], "cross_entropy").result(timeout=WAIT)
    training.optim_step(types.AdamParams(learning_rate=1e-3)).result(timeout=WAIT)
    training.forward([datum([1, 2, 3])], "cross_entropy").result(timeout=WAIT)

    (create,) = server.requests_to("create_model")
    assert _method(create) == "ServiceClient.create_lora_training_client"
    assert create.headers["x-sdk-version"] == VERSION
    assert _methods(server, "get_info") == {"ServiceClient.create_lora_training_client"}
    (fwdbwd,) = server.requests_to("forward_backward")
    assert _method(fwdbwd) == "TrainingClient.forward_backward"
    assert fwdbwd.headers["x-sdk-version"] == VERSION
    (step,) = server.requests_to("optim_step")
    assert _method(step) == "TrainingClient.optim_step"
    # forward is sent to forward_backward (forward_only) or to forward, by server
    forward = [r for r in server.requests if _method(r) == "TrainingClient.forward"]
    assert any(r.endpoint in ("forward", "forward_backward") for r in forward)
    # The polls for a call's result are made for that call: they carry its name too.
    polls = _methods(server, "retrieve_future")
    assert {"TrainingClient.forward_backward", "TrainingClient.optim_step"} <= polls
    assert None not in polls


def test_opening_the_session_and_background_work_carry_no_call_headers(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    server.client_config = True
    server.dynamic_config = {"refresh_interval_sec": 10}
    # The session is opened lazily, inside the first public call: the heartbeat and telemetry
    # tasks it starts must not inherit that call's headers.
    service = make_service(server, telemetry_flush_interval=0.05)
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    training.optim_step(types.AdamParams()).result(timeout=WAIT)
    assert wait_for(lambda: len(server.requests_to("session_heartbeat")) >= 3)
    assert wait_for(lambda: len(server.requests_to("telemetry")) >= 1)
    for endpoint in (
        "get_client_config",
        "get_dynamic_config",
        "create_session",
        "session_heartbeat",
        "telemetry",
    ):
        sent = server.requests_to(endpoint)
        assert sent, endpoint
        assert all("x-sdk-method" not in r.headers for r in sent), endpoint
        assert all("x-sdk-version" not in r.headers for r in sent), endpoint
    assert _methods(server, "create_model") == {"ServiceClient.create_lora_training_client"}


def test_sampling_calls_name_their_method_and_the_outermost_wins(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    assert _methods(server, "create_sampling_session") == {"ServiceClient.create_sampling_client"}

    sampler.sample(types.ModelInput.from_ints([1, 2]), 1, PARAMS).result(timeout=WAIT)
    assert _methods(server, "asample") == {"SamplingClient.sample"}
    # compute_logprobs calls sample(): the request names the outer call.
    sampler.compute_logprobs(types.ModelInput.from_ints([1, 2, 3])).result(timeout=WAIT)
    assert _method(server.requests_to("asample")[-1]) == "SamplingClient.compute_logprobs"

    async def main() -> None:
        await sampler.sample_async(types.ModelInput.from_ints([4]), 1, PARAMS)
        await sampler.compute_logprobs_async(types.ModelInput.from_ints([4, 5]))

    asyncio.run(main())
    last_two = [_method(r) for r in server.requests_to("asample")[-2:]]
    assert last_two == ["SamplingClient.sample_async", "SamplingClient.compute_logprobs_async"]
    assert all(r.headers.get("x-sdk-version") == VERSION for r in server.requests_to("asample"))


def test_rest_calls_name_their_method(server: FakeTinker, make_service: ServiceFactory) -> None:
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    rest = service.create_rest_client()
    rest.list_checkpoints(training.model_id).result(timeout=WAIT)
    rest.get_training_run(training.model_id).result(timeout=WAIT)
    assert _methods(server, "list_checkpoints") == {"RestClient.list_checkpoints"}
    assert _methods(server, "get_training_run") == {"RestClient.get_training_run"}
    # Methods written in a part of the client's class are named as users call them.
    training.save_state("named").result(timeout=WAIT)
    assert _methods(server, "save_weights") == {"TrainingClient.save_state"}


def test_a_public_call_made_inside_a_background_thread_has_its_own_name(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    """Headers belong to a call, not to a thread: calls from worker threads are named too, and
    nothing leaks from one call into a later unrelated request."""
    import concurrent.futures

    service = make_service(server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(
                lambda i=i: sampler.sample(types.ModelInput.from_ints([i + 1]), 1, PARAMS).result(
                    timeout=WAIT
                )
            )
            for i in range(8)
        ]
        for f in futures:
            f.result(timeout=WAIT)
    assert _methods(server, "asample") == {"SamplingClient.sample"}
    assert isinstance(service, tinker.ServiceClient)


def test_a_stream_opened_later_still_names_the_call_that_made_it(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    server.client_config = True
    server.config_flags = {"sample_streaming": True}
    service = make_service(server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    stream = sampler.sample_stream(types.ModelInput.from_ints([1, 2]), 1, PARAMS)
    assert server.requests_to("sample_stream") == []  # opened on first iteration
    with stream:
        chunks = list(stream)
    assert chunks
    assert _methods(server, "sample_stream") == {"SamplingClient.sample_stream"}


def test_the_config_refresh_and_cancellations_carry_no_call_headers(
    server: FakeTinker, make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinkex import _server_features

    monkeypatch.setattr(_server_features, "DYNAMIC_CONFIG_MIN_REFRESH", 0.02)
    server.dynamic_config = {"refresh_interval_sec": 0, "sample_cancel_enabled": True}
    server.try_agains_by_endpoint["asample"] = 10**9  # the sample never finishes
    service = make_service(server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    future = sampler.sample(types.ModelInput.from_ints([1, 2]), 1, PARAMS)
    assert wait_for(lambda: bool(server.requests_to("retrieve_future")))
    assert future.cancel()  # the cancellation is sent in the background
    assert wait_for(lambda: bool(server.requests_to("cancel_future")))
    assert wait_for(lambda: len(server.requests_to("get_dynamic_config")) >= 4)
    for endpoint in ("cancel_future", "get_dynamic_config"):
        assert all("x-sdk-method" not in r.headers for r in server.requests_to(endpoint))
    assert _methods(server, "asample") == {"SamplingClient.sample"}


def test_async_twins_name_themselves_and_take_the_methods_arguments(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)

    async def main() -> None:
        training = await service.create_lora_training_client_async(BASE_MODEL, rank=4)
        step = await training.optim_step_async(types.AdamParams(learning_rate=1e-4))
        await step
        with pytest.raises(TypeError, match="learning_rat"):  # the method's own parameters
            await training.optim_step_async(learning_rat=1e-4)  # type: ignore[call-arg]

    asyncio.run(main())
    assert _methods(server, "create_model") == {"ServiceClient.create_lora_training_client_async"}
    assert _methods(server, "optim_step") == {"TrainingClient.optim_step_async"}
