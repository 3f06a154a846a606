"""Servers that implement only part of the API (self-hosted, such as skyrl-tx) still work:
each gap found against skyrl-tx 0.3.0 is reproduced here on the fake server."""

from __future__ import annotations

import logging
import pickle

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, datum
from tests.fake_tinker import FakeTinker, faults
from tinkex import types
from tinkex._tinker_paths import normalize_path


def test_short_sampler_paths_are_made_whole() -> None:
    assert normalize_path("tinker://run-1/step-5", "sampler_weights") == (
        "tinker://run-1/sampler_weights/step-5"
    )
    whole = "tinker://run-1/weights/step-5"
    assert normalize_path(whole, "sampler_weights") == whole


def test_sampling_client_on_a_path_without_the_samplers_endpoint(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    path = training.save_weights_for_sampler("s1").result(timeout=WAIT).path
    server.inject("get_sampler", faults.status(404, body={"detail": "Not Found"}), times=3)
    sampler = service.create_sampling_client(model_path=path).result(timeout=WAIT)
    assert sampler.get_base_model() == BASE_MODEL  # learned from the training run instead
    out = sampler.sample(types.ModelInput.from_ints([1, 2]), 1, types.SamplingParams(max_tokens=2))
    assert len(out.result(timeout=WAIT).sequences) == 1


def test_training_client_sampler_sends_only_the_path(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    path = training.save_weights_for_sampler("s2").result(timeout=WAIT).path
    sampler = training.create_sampling_client(path).result(timeout=WAIT)
    (create,) = server.requests_to("create_sampling_session")
    assert create.json["model_path"] == path
    assert "base_model" not in create.json  # servers want exactly one of the two
    assert sampler.get_base_model() == BASE_MODEL


def test_from_state_falls_back_to_create_then_load(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    path = training.save_state("ckpt").result(timeout=WAIT).path
    # A server without create-by-load rejects that body (skyrl-tx: 422, model_id missing).
    server.inject("load_weights", faults.status(422, body={"detail": "model_id: field required"}))
    restored = service.create_training_client_from_state_with_optimizer(path).result(timeout=WAIT)
    assert restored.model_id != training.model_id
    loads = server.requests_to("load_weights")
    assert [("session_id" in r.json, "model_id" in r.json) for r in loads] == [
        (True, False),  # the create-by-load the server refused
        (False, True),  # the load into the newly created run
    ]
    assert loads[-1].json["optimizer"] is True
    assert server.requests_to("create_model")[-1].json["lora_config"]["rank"] == 4
    fb = restored.forward_backward([datum([1, 2, 3])], "cross_entropy")
    assert fb.result(timeout=WAIT).loss_fn_outputs


def test_a_single_stop_string_is_sent_as_a_list(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    params = types.SamplingParams(max_tokens=3, stop="\n")
    sampler.sample(types.ModelInput.from_ints([1]), 1, params).result(timeout=WAIT)
    (sent,) = server.requests_to("asample")
    assert sent.json["sampling_params"]["stop"] == ["\n"]
    assert params.stop == "\n"  # the caller's object is untouched


def test_no_warning_when_the_server_has_no_finish_endpoint(
    server: FakeTinker, make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(server)
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    server.inject("finish_session", faults.status(404, body={"detail": "Not Found"}), times=3)
    with caplog.at_level(logging.WARNING, logger="tinkex"):
        service.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_unpickled_sampler_closes_its_own_connections(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    with pickle.loads(pickle.dumps(sampler)) as copy:
        out = copy.sample(types.ModelInput.from_ints([1]), 1, types.SamplingParams(max_tokens=1))
        assert out.result(timeout=WAIT).sequences
    with pytest.raises(tinker.ClientClosedError):
        copy.sample(types.ModelInput.from_ints([1]), 1, types.SamplingParams(max_tokens=1))
    # the original, owned by the ServiceClient, still works
    assert sampler.sample(
        types.ModelInput.from_ints([1]), 1, types.SamplingParams(max_tokens=1)
    ).result(timeout=WAIT)


def test_rank_must_be_an_int_not_a_bool(server: FakeTinker, make_service: ServiceFactory) -> None:
    service = make_service(server)
    with pytest.raises(ValueError, match="rank must be a positive integer"):
        service.create_lora_training_client(BASE_MODEL, rank=True)


def test_unset_optional_fields_are_left_out_not_sent_as_null(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    training.save_state("c1").result(timeout=WAIT)
    training.optim_step().result(timeout=WAIT)
    for endpoint in ("create_session", "create_model", "save_weights", "optim_step"):
        for request in server.requests_to(endpoint):
            nulls = sorted(k for k, v in request.json.items() if v is None)
            assert nulls == [], f"{endpoint} sent nulls for {nulls}"
    (session,) = server.requests_to("create_session")
    assert session.json["user_metadata"] == {}  # required by the API: sent even when empty


def test_sampling_client_methods_work_on_the_creation_future(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    future = make_service(server).create_sampling_client(base_model=BASE_MODEL)
    assert isinstance(future, tinker.APIFuture)
    out = future.sample(types.ModelInput.from_ints([1]), 1, types.SamplingParams(max_tokens=1))
    assert out.result(timeout=WAIT).sequences
    assert future.get_base_model() == BASE_MODEL
    with pytest.raises(AttributeError):
        _ = future._private  # private names are never forwarded
