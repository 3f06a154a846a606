"""TrainingClient against the fake server: what goes on the wire, what comes back, seq-id order."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, datum, work_requests
from tests.fake_tinker import FakeTinker, faults
from tests.fake_tinker.plugin import FakeTinkerFactory
from tests.fake_tinker.state import DECAY, token_logprob
from tinkex import types

# ---------------------------------------------------------------------- creation


def test_create_lora_training_client_sends_the_lora_config(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    training = service.create_lora_training_client(
        BASE_MODEL,
        rank=8,
        seed=3,
        train_mlp=True,
        train_attn=False,
        train_unembed=True,
        user_metadata={"run": "a"},
    ).result(timeout=WAIT)
    (request,) = server.requests_to("create_model")
    body = request.json
    (sid,) = server.sessions
    assert body["session_id"] == sid
    assert body["model_seq_id"] == 0
    assert body["base_model"] == BASE_MODEL
    assert body["user_metadata"] == {"run": "a"}
    lora = body["lora_config"]
    assert lora["rank"] == 8
    assert lora["seed"] == 3
    assert (lora["train_mlp"], lora["train_attn"], lora["train_unembed"]) == (True, False, True)
    assert training.model_id == f"{sid}:train:0"
    assert server.models[training.model_id].lora_rank == 8
    assert isinstance(training, tinker.TrainingClient)


def test_training_client_future_forwards_calls(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    future = service.create_lora_training_client(BASE_MODEL, rank=2)
    assert isinstance(future, tinker.APIFuture)
    # older code calls TrainingClient methods on the future itself
    info = future.get_info()
    assert info.model_id == future.result(timeout=WAIT).model_id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rank": 0}, "rank"),
        ({"rank": -4}, "rank"),
        ({"rank": 2.5}, "rank"),
        ({"train_mlp": False, "train_attn": False, "train_unembed": False}, "train_"),
    ],
)
def test_bad_lora_arguments_fail_before_any_request(
    server: FakeTinker, service: tinker.ServiceClient, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        service.create_lora_training_client(BASE_MODEL, **kwargs)  # type: ignore[arg-type]
    assert server.requests == []


def test_unknown_base_model_is_refused_before_creating_anything(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    future = service.create_lora_training_client("nope/unknown-model")
    with pytest.raises(ValueError, match="unknown base model 'nope/unknown-model'") as info:
        future.result(timeout=WAIT)
    assert BASE_MODEL in str(info.value)  # the error lists what the server trains
    assert server.requests_to("create_model") == []
    assert server.models == {}


def test_unknown_base_model_rejected_by_the_server_names_the_model(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    # A server that cannot list its models: the check is the server's, and the error says so.
    server.inject("get_server_capabilities", faults.status(404), times=5)
    future = service.create_lora_training_client("nope/unknown-model")
    with pytest.raises(tinker.RequestFailedError) as info:
        future.result(timeout=WAIT)
    assert "nope/unknown-model" in str(info.value)
    assert "get_server_capabilities" in str(info.value)  # the client's hint
    assert info.value.category == "user"
    assert server.models == {}


def test_second_training_client_gets_the_next_model_seq_id(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    a = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    b = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    assert [r.json["model_seq_id"] for r in server.requests_to("create_model")] == [0, 1]
    assert a.model_id != b.model_id
    # each run has its own seq ids
    a.optim_step().result()
    b.optim_step().result()
    assert server.seq_log[a.model_id] == [0, 1]
    assert server.seq_log[b.model_id] == [0, 1]


# ---------------------------------------------------------------------- forward / backward


def _expected_logprobs(targets: list[int], weights: int = 0) -> list[float]:
    return [token_logprob(t, i, weights) for i, t in enumerate(targets)]


def test_forward_backward_sends_the_batch_and_returns_outputs(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    data = [datum([1, 2, 3, 4]), datum([7, 8, 9])]
    out = training.forward_backward(data, "importance_sampling", {"clip": 0.2}).result()
    (request,) = server.requests_to("forward_backward")
    body = request.json
    assert body["model_id"] == training.model_id
    assert body["seq_id"] == 1
    fb = body["forward_backward_input"]
    assert fb["loss_fn"] == "importance_sampling"
    assert fb["loss_fn_config"] == {"clip": 0.2}
    assert [d["loss_fn_inputs"]["target_tokens"]["data"] for d in fb["data"]] == [[2, 3, 4], [8, 9]]
    assert fb["data"][0]["loss_fn_inputs"]["target_tokens"]["dtype"] == "int64"
    assert fb["data"][0]["loss_fn_inputs"]["weights"]["dtype"] == "float32"
    assert isinstance(out, types.ForwardBackwardOutput)
    assert out.loss_fn_outputs[0]["logprobs"].data == _expected_logprobs([2, 3, 4])
    assert out.loss_fn_outputs[1]["logprobs"].data == _expected_logprobs([8, 9])
    expected_loss = -sum(_expected_logprobs([2, 3, 4])) - sum(_expected_logprobs([8, 9]))
    assert out.metrics["loss:sum"] == pytest.approx(expected_loss, rel=1e-6)
    assert server.applied[("forward_backward", training.model_id)] == 1


def test_forward_accepts_plain_dicts_and_does_not_step(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    data = [
        {
            "model_input": {"chunks": [{"type": "encoded_text", "tokens": [5, 6]}]},
            "loss_fn_inputs": {"target_tokens": [6, 7]},
        }
    ]
    out = training.forward(data, "cross_entropy").result()  # type: ignore[arg-type]
    assert out.loss_fn_outputs[0]["logprobs"].data == _expected_logprobs([6, 7])
    (request,) = server.requests_to("forward")
    assert request.json["forward_input"]["loss_fn"] == "cross_entropy"
    assert server.optim_steps[training.model_id] == 0
    assert server.requests_to("forward_backward") == []


@pytest.mark.parametrize("method", ["forward", "forward_backward"])
def test_empty_data_fails_before_any_request(
    server: FakeTinker, training: tinker.TrainingClient, method: str
) -> None:
    sent = work_requests(server)
    with pytest.raises(ValueError, match=r"[Nn]o data"):
        getattr(training, method)([], "cross_entropy")
    assert work_requests(server) == sent
    # the seq ids were not used up by the refused call
    training.optim_step().result()
    assert server.seq_log[training.model_id] == [0, 1]


def test_training_loop_reduces_the_loss(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    data = [datum([3, 4, 5, 6])]
    losses = []
    for _ in range(3):
        fb = training.forward_backward(data, "cross_entropy")
        step = training.optim_step(types.AdamParams(learning_rate=1e-3))
        losses.append(fb.result().metrics["loss:sum"])
        assert step.result().metrics is not None
    assert losses[1] == pytest.approx(losses[0] * DECAY, rel=1e-5)
    assert losses[2] == pytest.approx(losses[0] * DECAY**2, rel=1e-5)
    assert server.optim_steps[training.model_id] == 3
    assert server.seq_log[training.model_id] == list(range(7))


# ---------------------------------------------------------------------- optimizer


def test_optim_step_sends_adam_defaults(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    result = training.optim_step().result()
    (request,) = server.requests_to("optim_step")
    body = request.json
    assert body["adam_params"] == {
        "learning_rate": 0.0001,
        "beta1": 0.9,
        "beta2": 0.95,
        "eps": 1e-12,
        "weight_decay": 0.0,
        "grad_clip_norm": 0.0,
    }
    assert body.get("optimizer_params") is None
    assert body["seq_id"] == 1
    assert body["model_id"] == training.model_id
    assert isinstance(result, types.OptimStepResponse)
    assert result.metrics == {"step": 1, "learning_rate": 0.0001}
    assert server.optim_steps[training.model_id] == 1


def test_optim_step_adam_params_keyword(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    training.optim_step(adam_params=types.AdamParams(learning_rate=0.5, beta2=0.99)).result()
    body = server.requests_to("optim_step")[0].json
    assert body["adam_params"]["learning_rate"] == 0.5
    assert body["adam_params"]["beta2"] == 0.99


def test_optim_step_dimuon_params_go_as_optimizer_params(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    result = training.optim_step(types.DimuonParams(learning_rate=0.02)).result()
    body = server.requests_to("optim_step")[0].json
    assert body["optimizer_params"] == {
        "type": "dimuon",
        "learning_rate": 0.02,
        "grad_clip_norm": 0.0,
        "beta1": 0.9,
    }
    assert body.get("adam_params") is None
    assert result.metrics is not None
    assert result.metrics["learning_rate"] == 0.02


def test_optim_step_argument_errors_before_any_request(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    sent = work_requests(server)
    with pytest.raises(ValueError, match="not both"):
        training.optim_step(types.AdamParams(), adam_params=types.AdamParams())
    with pytest.raises(TypeError, match="AdamParams or DimuonParams"):
        training.optim_step({"learning_rate": 1.0})  # type: ignore[arg-type]
    assert work_requests(server) == sent
    training.optim_step().result()
    assert server.seq_log[training.model_id] == [0, 1]


# ---------------------------------------------------------------------- checkpoints


def test_save_state_and_load_state(server: FakeTinker, training: tinker.TrainingClient) -> None:
    training.optim_step().result()
    training.optim_step().result()
    saved = training.save_state("ckpt-1", ttl_seconds=3600, user_metadata={"k": "v"}).result()
    assert saved.path == f"tinker://{training.model_id}/weights/ckpt-1"
    save_body = server.requests_to("save_weights")[0].json
    assert save_body["path"] == "ckpt-1"
    assert save_body["ttl_seconds"] == 3600
    assert save_body["seq_id"] == 3
    ckpt = server.checkpoints[(training.model_id, "weights/ckpt-1")]
    assert ckpt.weights == 2
    assert ckpt.user_metadata == {"k": "v"}

    training.optim_step().result()
    assert server.models[training.model_id].weights == 3
    loaded = training.load_state(saved.path).result()
    assert loaded.path == saved.path
    assert server.models[training.model_id].weights == 2
    training.load_state_with_optimizer(saved.path).result()
    flags = [(r.json["optimizer"], r.json["model_id"]) for r in server.requests_to("load_weights")]
    assert flags == [(False, training.model_id), (True, training.model_id)]
    assert server.seq_log[training.model_id] == list(range(7))


def test_save_state_twice_needs_overwrite(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    training.save_state("same").result()
    with pytest.raises(tinker.RequestFailedError, match="already exists"):
        training.save_state("same").result()
    training.save_state("same", overwrite=True).result()
    assert server.requests_to("save_weights")[-1].json["overwrite"] is True
    # a failed request does not stall the ones after it
    training.optim_step().result()


def test_save_weights_for_sampler_returns_its_path_and_samples(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    training.optim_step().result()
    saved = training.save_weights_for_sampler("for-sampling").result()
    assert saved.path == f"tinker://{training.model_id}/sampler_weights/for-sampling"
    assert server.checkpoints[(training.model_id, "sampler_weights/for-sampling")].weights == 1

    sampler = training.create_sampling_client(saved.path).result(timeout=WAIT)
    assert isinstance(sampler, tinker.SamplingClient)
    create = server.requests_to("create_sampling_session")[-1].json
    assert create["model_path"] == saved.path
    record = server.samplers[sampler.sampling_session_id]
    assert record.model_path == saved.path
    assert record.weights == 1
    assert sampler.get_base_model() == BASE_MODEL
    out = sampler.sample(
        types.ModelInput.from_ints([1, 2]), 1, types.SamplingParams(max_tokens=3)
    ).result()
    assert len(out.sequences[0].tokens) == 3


def test_save_weights_and_get_sampling_client(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    training.optim_step().result()
    sampler = training.save_weights_and_get_sampling_client().result(timeout=WAIT)
    (request,) = server.requests_to("save_weights_for_sampler")
    assert request.json["seq_id"] == 2
    assert request.json["sampling_session_seq_id"] == 0
    assert request.json.get("path") is None  # ephemeral: no checkpoint kept
    assert sampler.sampling_session_id in server.samplers
    assert server.samplers[sampler.sampling_session_id].weights == 1
    assert sampler.get_base_model() == BASE_MODEL
    assert not any(c.checkpoint_type == "sampler" for c in server.checkpoints.values())
    out = sampler.sample(
        types.ModelInput.from_ints([4, 5]), 2, types.SamplingParams(max_tokens=2)
    ).result()
    assert len(out.sequences) == 2
    assert server.seq_log[sampler.sampling_session_id] == [0]


def test_create_training_client_from_state(
    server: FakeTinker, service: tinker.ServiceClient, training: tinker.TrainingClient
) -> None:
    for _ in range(3):
        training.optim_step().result()
    path = training.save_state("resume-me").result().path

    resumed = service.create_training_client_from_state(path).result(timeout=WAIT)
    restored = service.create_training_client_from_state_with_optimizer(path).result(timeout=WAIT)

    loads = [r.json for r in server.requests_to("load_weights")]
    (sid,) = server.sessions
    assert [(b["session_id"], b["model_seq_id"], b["optimizer"]) for b in loads] == [
        (sid, 1, False),
        (sid, 2, True),
    ]
    assert all(b.get("model_id") is None and b["path"] == path for b in loads)
    assert resumed.model_id == f"{sid}:train:1"
    assert restored.model_id == f"{sid}:train:2"
    assert server.models[resumed.model_id].weights == 3
    assert resumed.get_info().model_data.model_name == BASE_MODEL
    # the new run continues from seq id 1
    resumed.optim_step().result()
    assert server.seq_log[resumed.model_id] == [0, 1]
    assert server.models[resumed.model_id].weights == 4


def test_get_info_is_known_without_another_request(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    sent = len(server.requests_to("get_info"))
    info = training.get_info()
    assert info.model_id == training.model_id
    assert info.model_data.model_name == BASE_MODEL
    assert info.lora_rank == 4
    assert info.is_lora is True
    assert len(server.requests_to("get_info")) == sent == 1


BAD_PATHS = [
    "s3://bucket/weights/x",
    "weights/x",
    "tinker://",
    "tinker://run-only",
    "tinker://run/weights",
    "tinker://run/bogus_kind/x",
    "tinker://run/weights/a/b",
]


def test_bad_tinker_paths_are_refused_before_any_request(
    server: FakeTinker,
    service: tinker.ServiceClient,
    training: tinker.TrainingClient,
) -> None:
    sent = work_requests(server)
    calls: list[Callable[[str], object]] = [
        training.load_state,
        training.load_state_with_optimizer,
        training.create_sampling_client,
        service.create_training_client_from_state,
        service.create_training_client_from_state_with_optimizer,
        lambda path: service.create_sampling_client(model_path=path),
    ]
    for path in BAD_PATHS:
        for call in calls:
            with pytest.raises(ValueError, match="expected") as info:
                call(path)
            assert repr(path) in str(info.value)
    assert work_requests(server) == sent
    training.optim_step().result()
    assert server.seq_log[training.model_id] == [0, 1]


def test_create_sampling_client_needs_a_path_or_a_model(service: tinker.ServiceClient) -> None:
    with pytest.raises(ValueError, match="model_path"):
        service.create_sampling_client()


# ---------------------------------------------------------------------- ordering


def test_concurrent_threads_submit_in_seq_id_order(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    server = fake_tinker(try_agains=1, latency=0.001)
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    rounds, threads_count = 5, 8
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_count)

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=WAIT)
            futures = []
            for _ in range(rounds):
                futures.append(training.forward_backward([datum([i + 1, 2, 3])], "cross_entropy"))
                futures.append(training.optim_step())
            for f in futures:
                f.result()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    total = 2 * rounds * threads_count
    log = server.seq_log[training.model_id]
    assert log == list(range(total + 1)), log  # strictly increasing, no gaps
    assert server.optim_steps[training.model_id] == rounds * threads_count
    arrivals = [seq for seq, _, _ in server.seq_arrivals[training.model_id]]
    assert arrivals == sorted(arrivals)


def test_forward_backward_and_optim_step_back_to_back(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    server = fake_tinker(try_agains=3)
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    data = [datum([1, 2, 3])]
    fb = training.forward_backward(data, "cross_entropy")
    step = training.optim_step()
    # both were submitted before either result was awaited
    assert step.result().metrics == {"step": 1, "learning_rate": 0.0001}
    out = fb.result()
    assert fb.done()
    assert step.done()
    # the forward/backward ran on the weights before the step
    assert out.loss_fn_outputs[0]["logprobs"].data == _expected_logprobs([2, 3])
    assert server.seq_log[training.model_id] == [0, 1, 2]
    names = [
        r.endpoint for r in server.requests if r.endpoint in ("forward_backward", "optim_step")
    ]
    assert names == ["forward_backward", "optim_step"]


# ---------------------------------------------------------------------- lost answers


def test_lost_answer_is_an_ambiguous_outcome_naming_the_seq_id(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    server = fake_tinker(dedupe=False)
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    server.inject("optim_step", faults.drop_after())
    with pytest.raises(tinker.AmbiguousOutcomeError) as info:
        training.optim_step().result()
    message = str(info.value)
    assert "seq id 1" in message
    assert training.model_id in message
    assert "optim_step" in message
    assert server.optim_steps[training.model_id] == 1  # applied once, never resent
    # the run goes on with the next seq id
    training.optim_step().result()
    assert server.seq_log[training.model_id] == [0, 1, 2]
    assert server.optim_steps[training.model_id] == 2
