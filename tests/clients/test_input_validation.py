"""Inputs are checked before anything is sent (issue 10, finding 7).

Each bad argument the audit sent (token ids out of range, empty prompts, prompts beyond the
model's context, nonsense sampling and optimizer parameters, inconsistent datums, NaN weights,
float target tokens, unsafe checkpoint names, huge LoRA ranks) now fails at the call with a
``ValueError`` or ``TypeError`` naming the parameter, and the fake server sees no request for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, datum
from tests.fake_tinker import FakeTinker
from tests.fake_tinker.plugin import FakeTinkerFactory
from tinkex import types

NAN, INF = math.nan, math.inf


@pytest.fixture
def sampler(service: tinker.ServiceClient) -> tinker.SamplingClient:
    return service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)


def _prompt(*tokens: int) -> types.ModelInput:
    return types.ModelInput.from_ints(list(tokens))


def _params(**fields: Any) -> types.SamplingParams:
    # model_construct: the audit's values as a caller's object can hold them (pydantic would
    # take most of them anyway: NaN, -1, 10**12 are valid floats and ints to it).
    return types.SamplingParams.model_construct(**{"max_tokens": 4, **fields})


# ---------------------------------------------------------------------- sampling

BAD_SAMPLING_PARAMS = [
    ({"max_tokens": -1}, "sampling_params.max_tokens"),
    ({"max_tokens": 0}, "sampling_params.max_tokens"),
    ({"max_tokens": 10**12}, "sampling_params.max_tokens"),
    ({"temperature": -1.0}, "sampling_params.temperature"),
    ({"temperature": NAN}, "sampling_params.temperature"),
    ({"temperature": INF}, "sampling_params.temperature"),
    ({"top_p": 2.0}, r"sampling_params.top_p must be in \(0, 1\]"),
    ({"top_p": 0.0}, "sampling_params.top_p"),
    ({"top_p": NAN}, "sampling_params.top_p"),
    ({"top_k": -5}, "sampling_params.top_k"),
    ({"top_k": 0}, r"sampling_params.top_k must be -1 \(no limit\) or >= 1"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_SAMPLING_PARAMS)
def test_bad_sampling_params_fail_before_any_request(
    server: FakeTinker, sampler: tinker.SamplingClient, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        sampler.sample(_prompt(1, 2), 1, _params(**fields))
    assert server.requests_to("asample") == []


def test_edge_sampling_params_are_sent(server: FakeTinker, sampler: tinker.SamplingClient) -> None:
    for fields in ({"temperature": 0.0, "top_p": 1.0, "top_k": -1}, {"top_k": 1, "top_p": 0.01}):
        sampler.sample(_prompt(1, 2), 1, types.SamplingParams(max_tokens=2, **fields)).result(WAIT)
    assert len(server.requests_to("asample")) == 2


@pytest.mark.parametrize(
    ("num_samples", "error", "message"),
    [
        (10**9, ValueError, "num_samples must be between 1 and 10000, got 1000000000"),
        (0, ValueError, "num_samples"),
        ("1", TypeError, "num_samples must be an int, got str '1'"),
        (1.0, TypeError, "num_samples must be an int, got float"),
        (None, TypeError, "num_samples"),
    ],
)
def test_num_samples_is_a_bounded_int(
    server: FakeTinker,
    sampler: tinker.SamplingClient,
    num_samples: Any,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        sampler.sample(_prompt(1), num_samples, types.SamplingParams(max_tokens=1))
    assert server.requests_to("asample") == []


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        (types.ModelInput(chunks=[]), "prompt is empty"),
        (_prompt(), "prompt is empty"),
        (_prompt(1, -1), r"prompt.chunks\[0\].tokens: token id -1 is out of range"),
        (_prompt(2**31), "token id 2147483648 is out of range; ids must be >= 0 and below 2"),
        (_prompt(5, 2**70), "token id 1180591620717411303424 is out of range"),
    ],
)
def test_bad_prompts_fail_before_any_request(
    server: FakeTinker, sampler: tinker.SamplingClient, prompt: types.ModelInput, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        sampler.sample(prompt, 1, types.SamplingParams(max_tokens=1))
    with pytest.raises(ValueError, match=message):
        sampler.compute_logprobs(prompt)
    assert server.requests_to("asample") == []


def test_none_arguments_are_type_errors_naming_the_parameter(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    with pytest.raises(TypeError, match="sampling_params must be a SamplingParams"):
        sampler.sample(_prompt(1), 1, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sampling_params must be a SamplingParams"):
        sampler.sample(_prompt(1), 1, sampling_params=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="prompt must be a ModelInput"):
        sampler.compute_logprobs(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="prompt must be a ModelInput"):
        sampler.sample(None, 1, types.SamplingParams())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="prompt must be a ModelInput"):
        sampler.sample_stream(None, 1, types.SamplingParams())  # type: ignore[arg-type]
    assert server.requests_to("asample") == []


async def test_async_calls_check_too(server: FakeTinker, sampler: tinker.SamplingClient) -> None:
    with pytest.raises(TypeError, match="prompt must be a ModelInput"):
        await sampler.compute_logprobs_async(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"sampling_params.temperature"):
        await sampler.sample_async(_prompt(1), 1, _params(temperature=NAN))
    assert server.requests_to("asample") == []


def test_prompt_and_max_tokens_must_fit_the_models_context(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    # The fake server reports max_context_length 4096 for its models.
    long_prompt = types.ModelInput.from_ints([1] * 4000)
    with pytest.raises(ValueError, match=r"= 4100 exceeds the max_context_length of .*, 4096"):
        sampler.sample(long_prompt, 1, types.SamplingParams(max_tokens=100)).result(WAIT)
    with pytest.raises(ValueError, match="max_context_length"):
        sampler.compute_logprobs(types.ModelInput.from_ints([1] * 5000)).result(WAIT)
    assert server.requests_to("asample") == []
    sampler.sample(long_prompt, 1, types.SamplingParams(max_tokens=96)).result(WAIT)
    assert len(server.requests_to("asample")) == 1
    # the server's capabilities were asked once, not per sample
    assert len(server.requests_to("get_server_capabilities")) == 1


# ---------------------------------------------------------------------- optimizer

BAD_ADAM = [
    ({"learning_rate": NAN}, "AdamParams.learning_rate must be a finite number"),
    ({"learning_rate": INF}, "AdamParams.learning_rate must be a finite number"),
    ({"learning_rate": -1e-4}, "AdamParams.learning_rate must be >= 0"),
    ({"beta1": 2.0}, r"AdamParams.beta1 must be in \[0, 1\), got 2.0"),
    ({"beta2": 1.0}, "AdamParams.beta2"),
    ({"beta1": -0.1}, "AdamParams.beta1"),
    ({"eps": -1.0}, "AdamParams.eps must be > 0"),
    ({"eps": 0.0}, "AdamParams.eps must be > 0"),
    ({"weight_decay": -0.1}, "AdamParams.weight_decay must be >= 0"),
    ({"weight_decay": NAN}, "AdamParams.weight_decay"),
    ({"grad_clip_norm": INF}, "AdamParams.grad_clip_norm"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_ADAM)
def test_bad_optimizer_params_fail_before_any_request(
    server: FakeTinker, training: tinker.TrainingClient, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        training.optim_step(types.AdamParams(**fields))
    with pytest.raises(ValueError, match=message):
        training.optim_step(adam_params=types.AdamParams(**fields))
    assert server.requests_to("optim_step") == []
    # nothing was used up: the next step has the first seq id after the model's creation
    training.optim_step(types.AdamParams(learning_rate=0.0)).result(WAIT)
    assert [r.json["seq_id"] for r in server.requests_to("optim_step")] == [1]


def test_dimuon_params_are_checked_too(server: FakeTinker, training: tinker.TrainingClient) -> None:
    with pytest.raises(ValueError, match=r"DimuonParams.learning_rate must be a finite number"):
        training.optim_step(types.DimuonParams.model_construct(learning_rate=NAN))
    with pytest.raises(ValueError, match=r"DimuonParams.beta1 must be in \[0, 1\)"):
        training.optim_step(types.DimuonParams(learning_rate=1e-3, beta1=1.0))
    assert server.requests_to("optim_step") == []


# ---------------------------------------------------------------------- datums


def _datum(inputs: dict[str, Any], tokens: int = 3) -> types.Datum:
    return types.Datum(model_input=_prompt(*range(1, tokens + 1)), loss_fn_inputs=inputs)


BAD_DATUMS: list[tuple[Callable[[], types.Datum], str]] = [
    (
        lambda: _datum({"weights": [1.0, 1.0, 1.0]}),
        r"datum 0: loss 'cross_entropy' needs loss_fn_inputs \['target_tokens'\]",
    ),
    (
        lambda: _datum({"target_tokens": [2, 3], "weights": [1.0, 1.0, 1.0]}),
        r"datum 0: loss_fn_inputs\['target_tokens'\] has 2 entries but the model input has 3",
    ),
    (
        lambda: _datum({"target_tokens": [2, 3, 4], "weights": [1.0]}),
        r"loss_fn_inputs\['weights'\] has 1 entries",
    ),
    (
        lambda: _datum({"target_tokens": [2, 3, 4], "weights": [1.0, NAN, 1.0]}),
        r"datum 0: loss_fn_inputs\['weights'\] holds 1 non-finite value\(s\) \(e.g. nan\)",
    ),
    (
        lambda: _datum({"target_tokens": [2, 3, 4], "weights": np.array([1.0, INF, -INF])}),
        r"loss_fn_inputs\['weights'\] holds 2 non-finite value\(s\)",
    ),
    (
        lambda: _datum({"target_tokens": np.array([2.0, 3.0, 4.0]), "weights": [1.0] * 3}),
        r"loss_fn_inputs\['target_tokens'\] must hold integer token ids \(int64\), got float32",
    ),
    (
        lambda: _datum(
            {"target_tokens": types.TensorData(data=[2.5, 3.0, 4.0], dtype="int64", shape=[3])}
        ),
        r"target_tokens'\] must hold integer token ids",
    ),
    (
        lambda: types.Datum(
            model_input=_prompt(1, -2, 3), loss_fn_inputs={"target_tokens": [2, 3, 4]}
        ),
        r"datum 0: model_input.chunks\[0\].*token id -2",
    ),
]


def _server_and_wire(fake_tinker: FakeTinkerFactory, wire: str) -> FakeTinker:
    return fake_tinker(client_config=True) if wire == "protobuf" else fake_tinker()


@pytest.mark.parametrize("wire", ["protobuf", "json"])
@pytest.mark.parametrize(("make", "message"), BAD_DATUMS)
def test_bad_datums_fail_before_any_request(
    fake_tinker: FakeTinkerFactory,
    make_service: ServiceFactory,
    wire: str,
    make: Callable[[], types.Datum],
    message: str,
) -> None:
    server = _server_and_wire(fake_tinker, wire)
    training = make_service(server, wire=wire).create_lora_training_client(BASE_MODEL, rank=4)
    training = training.result(WAIT)
    for call in (training.forward_backward, training.forward):
        with pytest.raises(ValueError, match=message):
            call([datum([1, 2, 3]), make()][::-1], "cross_entropy")
    assert server.requests_to("forward_backward") == []
    assert server.requests_to("forward") == []
    # nothing was used up: the next call has the first seq id after the model's creation
    training.forward_backward([datum([1, 2, 3, 4])], "cross_entropy").result(WAIT)
    assert server.seq_log[training.model_id] == [0, 1]


@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_nonfinite_loss_fn_config_is_refused(
    server: FakeTinker, training: tinker.TrainingClient, value: float
) -> None:
    with pytest.raises(ValueError, match=r"loss_fn_config\['clip'\] must be a finite number"):
        training.forward_backward([datum([1, 2, 3])], "cross_entropy", {"clip": value})
    assert server.requests_to("forward_backward") == []


def test_wire_input_errors_are_in_the_same_tree() -> None:
    from tinkex._proto import WireInputError, encode_forward_backward
    from tinkex._validation import InvalidInputError

    assert issubclass(WireInputError, InvalidInputError)
    huge = _datum({"target_tokens": [2, 3, 4], "weights": [1e39, 1.0, 1.0]})
    with pytest.raises(InvalidInputError, match="does not fit in float32"):
        encode_forward_backward(
            model_id="m", seq_id=1, data=[huge], loss_fn="cross_entropy",
            loss_fn_config=None, forward_only=False,
        )  # fmt: skip


def test_float_and_infinite_target_tokens_are_value_errors_at_construction() -> None:
    for targets in ([[INF]], [1.5, 2.0], [[NAN]]):
        with pytest.raises(ValueError, match="a int64 tensor holds numbers only"):
            types.Datum(model_input=_prompt(1), loss_fn_inputs={"target_tokens": targets})
    whole = types.Datum(model_input=_prompt(1, 2), loss_fn_inputs={"target_tokens": [2.0, 3]})
    assert whole.loss_fn_inputs["target_tokens"].data == [2, 3]


def test_nonfinite_values_are_sent_when_the_call_allows_them(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    server = fake_tinker(client_config=True)
    training = make_service(server, wire="protobuf").create_lora_training_client(BASE_MODEL, rank=4)
    training = training.result(WAIT)
    data = [datum([1, 2, 3, 4], weights=[1.0, NAN, 0.0])]
    with pytest.raises(ValueError, match="allow_nonfinite=True"):
        training.forward_backward(data, "cross_entropy")
    training.forward_backward(data, "cross_entropy", allow_nonfinite=True).result(WAIT)
    training.forward(data, "cross_entropy", allow_nonfinite=True).result(WAIT)
    assert server.protobuf_requests == 2
    # the opt-in lasts for its call only
    with pytest.raises(ValueError, match="non-finite"):
        training.forward(data, "cross_entropy")


def test_only_what_a_loss_certainly_needs_is_required(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    # an RL loss's logprobs and advantages are left to the server to ask for
    rl = types.Datum(
        model_input=_prompt(1, 2), loss_fn_inputs={"target_tokens": [2, 3], "advantages": [0.5, 0]}
    )
    training.forward_backward([rl], "importance_sampling").result(WAIT)
    with pytest.raises(ValueError, match="needs loss_fn_inputs"):
        training.forward_backward([_datum({"advantages": [1.0] * 3})], "ppo")


# ---------------------------------------------------------------------- checkpoints and runs

BAD_NAMES = ["../../x", "", "a/b", ".hidden", "x" * 256, "a b", "na\x00me", "é"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_checkpoint_names_are_refused(
    server: FakeTinker, training: tinker.TrainingClient, name: str
) -> None:
    for save in (
        training.save_state,
        training.save_weights_for_sampler,
        training.save_weights_external,
    ):
        with pytest.raises(ValueError, match="is not a valid checkpoint name"):
            save(name)
    sent = ("save_weights", "save_weights_for_sampler", "save_weights_external")
    assert [r for e in sent for r in server.requests_to(e)] == []


def test_safe_checkpoint_names_are_sent(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    with pytest.raises(TypeError, match="name must be a str, got NoneType"):
        training.save_state(None)  # type: ignore[arg-type]
    for name in ("step-000100", "final_1.0", "x" * 255):
        training.save_state(name).result(WAIT)
    assert len(server.requests_to("save_weights")) == 3


def test_rest_checkpoint_ids_are_checked(server: FakeTinker, service: tinker.ServiceClient) -> None:
    rest = service.create_rest_client()
    for bad in ("weights/../../x", "weights/", "../weights/x", "a/b"):
        with pytest.raises(ValueError, match="checkpoint_id"):
            rest.delete_checkpoint("run", bad)
    assert server.requests_to("delete_checkpoint") == []


@pytest.mark.parametrize(
    ("rank", "error"), [(10**9, ValueError), (0, ValueError), ("4", TypeError), (4.0, TypeError)]
)
def test_lora_rank_is_a_bounded_int(
    server: FakeTinker, service: tinker.ServiceClient, rank: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="rank must be a positive integer up to 65536"):
        service.create_lora_training_client(BASE_MODEL, rank=rank)
    assert server.requests_to("create_model") == []


# ---------------------------------------------------------------------- the error tree


def test_the_errors_are_in_the_sdks_tree_and_name_what_is_allowed() -> None:
    from tinkex._validation import (
        InputTypeError,
        InvalidInputError,
        check_context_length,
        check_packed,
    )

    assert issubclass(InvalidInputError, tinker.TinkerError)
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(InputTypeError, tinker.TinkerError)
    assert issubclass(InputTypeError, TypeError)
    assert issubclass(InputTypeError, ValueError)  # as pydantic's ValidationError was
    check_context_length(10, None, None)  # unknown limit: nothing refused
    check_context_length(4000, 96, 4096)
    with pytest.raises(InvalidInputError, match=r"\(0\) = 4097 exceeds"):
        check_context_length(4097, None, 4096)
    check_packed(np.array([1.0, -2.0], "<f4").tobytes(), np.dtype("<f4"), "w")
    with pytest.raises(InvalidInputError, match="w: token id -3 is negative"):
        check_packed(np.array([1, -3], "<i4").tobytes(), np.dtype("<i4"), "w", tokens=True)
    # JSON packs nothing: a value beyond float32 is refused as such (not called non-finite)
    from tinkex._validation import check_datum_values

    big = _datum(
        {
            "target_tokens": [2, 3, 4],
            "weights": types.TensorData(data=[1e300, 1.0, 1.0], dtype="float32"),
        }
    )
    with pytest.raises(InvalidInputError, match="beyond float32's range"):
        check_datum_values([big])
