"""The protobuf wire format: golden bytes, decoding, JSON/protobuf equality, negotiation.

The golden bytes are spelled out here from the field table of the wire reference (section 9)
with a tiny protobuf writer of this file's own, not with the compiled messages, so an encoder
bug cannot agree with itself.
"""

from __future__ import annotations

import logging
import math
import struct
from typing import Any

import httpx
import numpy as np
import pytest
from sdkgen.runtime import APIResponseValidationError, APIStatusError, ConfigError

import tinkex
from tests.fake_tinker.plugin import FakeTinkerFactory
from tests.fake_tinker.server import FakeTinker
from tinkex import types
from tinkex._generated import AsyncTinkerAPI, endpoints as _e
from tinkex._proto import (
    WireInputError,
    decode_forward_backward_output,
    decode_sample_response,
    encode_forward_backward,
)
from tinkex._wire import register_result_decoders

KEY = "tml-wire-test-key"
WAIT = 30

# ---------------------------------------------------------------------- a protobuf writer


def varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def vint(field: int, value: int) -> bytes:
    return tag(field, 0) + varint(value)


def ld(field: int, payload: bytes) -> bytes:  # length-delimited
    return tag(field, 2) + varint(len(payload)) + payload


def f64(field: int, value: float) -> bytes:
    return tag(field, 1) + struct.pack("<d", value)


def text(field: int, value: str) -> bytes:
    return ld(field, value.encode())


def packed_varints(field: int, values: list[int]) -> bytes:
    return ld(field, b"".join(varint(v) for v in values))


# ---------------------------------------------------------------------- golden bytes


def golden_datum() -> types.Datum:
    return types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={"target_tokens": [2, 3, 4], "weights": [1.0, 0.5, 1.0]},
    )


def golden_request_bytes() -> bytes:
    tokens = ld(1, ld(1, ld(1, struct.pack("<3i", 1, 2, 3))))  # Datum.model_input: Chunk
    targets = ld(1, struct.pack("<3q", 2, 3, 4)) + vint(3, 2) + packed_varints(4, [3])
    weights = ld(1, struct.pack("<3f", 1.0, 0.5, 1.0)) + vint(3, 1) + packed_varints(4, [3])
    inputs = ld(2, text(1, "target_tokens") + ld(2, targets)) + ld(
        2, text(1, "weights") + ld(2, weights)
    )
    datum = tokens + inputs
    return (
        text(1, "run-1")
        + vint(2, 7)
        + ld(3, datum)
        + text(4, "cross_entropy")
        + ld(5, text(1, "clip") + f64(2, 0.25))  # numbers go to the legacy map...
        + ld(7, text(1, "clip") + ld(2, f64(1, 0.25)))  # ...and to v2 as `number`
        + ld(7, text(1, "mode") + ld(2, text(2, "sum")))  # strings to v2 only, as `text`
    )


def test_forward_backward_request_matches_the_golden_bytes() -> None:
    message = encode_forward_backward(
        model_id="run-1",
        seq_id=7,
        data=[golden_datum()],
        loss_fn="cross_entropy",
        loss_fn_config={"clip": 0.25, "mode": "sum"},
        forward_only=False,
    )
    assert message.SerializeToString(deterministic=True) == golden_request_bytes()


def test_forward_only_sets_its_flag() -> None:
    message = encode_forward_backward(
        model_id="run-1",
        seq_id=7,
        data=[golden_datum()],
        loss_fn="cross_entropy",
        loss_fn_config=None,
        forward_only=True,
    )
    assert vint(6, 1) in message.SerializeToString(deterministic=True)


def test_numpy_tensors_encode_like_lists() -> None:
    from_lists = golden_datum()
    from_arrays = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={
            "target_tokens": np.array([2, 3, 4], dtype=np.int32),
            "weights": np.array([1.0, 0.5, 1.0], dtype=np.float64),
        },
    )
    encode = [
        encode_forward_backward(
            model_id="m", seq_id=1, data=[d], loss_fn="x", loss_fn_config=None, forward_only=False
        ).SerializeToString(deterministic=True)
        for d in (from_lists, from_arrays)
    ]
    assert encode[0] == encode[1]


FB_OUTPUT = (
    text(1, "tinker:ArrayRecord")
    + ld(
        2,
        text(1, "ArrayRecord")
        + ld(
            2,
            text(1, "logprobs")
            + ld(
                2,
                ld(1, struct.pack("<5f", -1.0, -2.0, -0.5, -0.25, -4.0))
                + ld(2, struct.pack("<3q", 0, 8, 20))
                + vint(3, 1),
            ),
        )
        + ld(
            2,
            text(1, "ids")
            + ld(
                2,
                ld(1, struct.pack("<5i", 1, 2, 3, 4, 5))
                + ld(2, struct.pack("<3q", 0, 8, 20))
                + vint(3, 3),  # int32 on the wire, widened to int64
            ),
        )
        + vint(3, 2),
    )
    + ld(3, text(1, "loss:sum") + f64(2, 7.75))
)


def test_forward_backward_output_decodes_from_the_golden_bytes() -> None:
    out = decode_forward_backward_output(FB_OUTPUT)
    assert isinstance(out, types.ForwardBackwardOutput)
    assert out.loss_fn_output_type == "ArrayRecord"
    assert out.metrics == {"loss:sum": 7.75}
    assert [o["logprobs"].data for o in out.loss_fn_outputs] == [[-1.0, -2.0], [-0.5, -0.25, -4.0]]
    assert [o["logprobs"].dtype for o in out.loss_fn_outputs] == ["float32", "float32"]
    assert [o["ids"].data for o in out.loss_fn_outputs] == [[1, 2], [3, 4, 5]]
    assert [o["ids"].dtype for o in out.loss_fn_outputs] == ["int64", "int64"]
    array = out.loss_fn_outputs[1]["logprobs"].to_numpy()
    assert array.dtype == np.float32
    assert array.tolist() == [-0.5, -0.25, -4.0]
    array[0] = 9  # a copy: the output itself is unchanged
    assert out.loss_fn_outputs[1]["logprobs"].to_numpy()[0] == -0.5


def test_bf16_widens_to_float32() -> None:
    values = np.array([1.5, -2.0, 0.25], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    record = ld(
        2,
        text(1, "logprobs") + ld(2, ld(1, bf16) + ld(2, struct.pack("<2q", 0, 6)) + vint(3, 4)),
    ) + vint(3, 1)
    out = decode_forward_backward_output(ld(2, record))
    assert out.loss_fn_outputs[0]["logprobs"].data == [1.5, -2.0, 0.25]
    assert out.loss_fn_output_type == "ArrayRecord"  # empty: the default


SAMPLE = (
    ld(
        1,
        vint(1, 1)  # length
        + ld(2, struct.pack("<3i", 5, 6, 7))
        + ld(3, struct.pack("<3f", -0.5, -1.0, -1.5)),
    )
    + ld(1, ld(2, struct.pack("<1i", 9)))  # stop, no logprobs
    + ld(2, struct.pack("<3f", math.nan, -2.0, -3.0))
    + vint(4, 2)
)


def test_sample_response_decodes_from_the_golden_bytes() -> None:
    out = decode_sample_response(SAMPLE)
    assert isinstance(out, types.SampleResponse)
    first, second = out.sequences
    assert (first.stop_reason, first.tokens, first.logprobs) == (
        "length",
        [5, 6, 7],
        [-0.5, -1.0, -1.5],
    )
    assert (second.stop_reason, second.tokens, second.logprobs) == ("stop", [9], None)
    assert out.prompt_logprobs == [None, -2.0, -3.0]
    assert out.prompt_cache_hit_tokens == 2
    assert first.tokens_np.tolist() == [5, 6, 7]
    assert first.logprobs_np.dtype == np.float32


# ---------------------------------------------------------------------- bad input, bad replies


def test_token_ids_outside_int32_fail_before_sending_naming_the_datum() -> None:
    bad = types.Datum(model_input=types.ModelInput.from_ints([1, 2**31]), loss_fn_inputs={})
    with pytest.raises(WireInputError, match=r"datum 1: model_input.chunks\[0\].*int32"):
        encode_forward_backward(
            model_id="m",
            seq_id=1,
            data=[golden_datum(), bad],
            loss_fn="x",
            loss_fn_config=None,
            forward_only=False,
        )


def test_a_shape_that_does_not_match_its_data_is_refused() -> None:
    datum = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2]),
        loss_fn_inputs={"weights": types.TensorData(data=[1.0, 2.0], dtype="float32", shape=[3])},
    )
    with pytest.raises(WireInputError, match=r"datum 0: loss_fn_inputs\['weights'\]: shape"):
        encode_forward_backward(
            model_id="m",
            seq_id=1,
            data=[datum],
            loss_fn="x",
            loss_fn_config=None,
            forward_only=False,
        )


def test_a_config_value_that_is_neither_number_nor_text_is_refused() -> None:
    with pytest.raises(WireInputError, match=r"loss_fn_config\['flag'\]"):
        encode_forward_backward(
            model_id="m",
            seq_id=1,
            data=[golden_datum()],
            loss_fn="x",
            loss_fn_config={"flag": True},  # type: ignore[dict-item]
            forward_only=False,
        )


def test_an_undecodable_protobuf_result_names_the_endpoint_with_a_hex_excerpt() -> None:
    api = AsyncTinkerAPI(base_url="http://127.0.0.1:9", api_key=KEY)
    register_result_decoders(api.codecs)
    response = httpx.Response(
        200,
        headers={"content-type": "application/x-protobuf"},
        content=b"\x0a\xff\xff\xff\xff\x0f garbage",
        request=httpx.Request("POST", "http://127.0.0.1:9/api/v1/retrieve_future"),
    )
    with pytest.raises(APIResponseValidationError) as info:
        api.codecs.decode(_e.FORWARD_BACKWARD, response, types.ForwardBackwardOutput)
    message = str(info.value)
    assert "forward_backward" in message
    assert "0a ff ff ff ff 0f" in message
    assert "DecodeError" not in type(info.value).__name__


def test_wire_mode_is_validated() -> None:
    with pytest.raises(ConfigError, match="wire='xml'"):
        tinkex.ServiceClient(base_url="http://127.0.0.1:9", api_key=KEY, wire="xml")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- against the fake server


def batch() -> list[types.Datum]:
    return [
        types.Datum(
            model_input=types.ModelInput.from_ints([1 + i, 2 + i, 3 + i]),
            loss_fn_inputs={"target_tokens": [2 + i, 3 + i, 4 + i], "weights": [1.0, 0.5, 1.0]},
        )
        for i in range(3)
    ]


def run_steps(server: FakeTinker, **kwargs: Any) -> dict[str, Any]:
    with tinkex.ServiceClient(base_url=server.base_url, api_key=KEY, **kwargs) as service:
        training = service.create_lora_training_client("fake/tiny-model", rank=4).result(WAIT)
        fb = training.forward_backward(batch(), "cross_entropy").result(WAIT)
        fwd = training.forward(batch()[:1], "cross_entropy").result(WAIT)
        training.optim_step(types.AdamParams(learning_rate=1e-3)).result(WAIT)
        sampler = training.save_weights_and_get_sampling_client().result(WAIT)
        sample = sampler.sample(
            types.ModelInput.from_ints([1, 2]), 2, types.SamplingParams(max_tokens=3)
        ).result(WAIT)
        return {"fb": fb, "fwd": fwd, "sample": sample, "model": training.model_id}


def _bodies(server: FakeTinker, endpoint: str) -> list[str]:
    return [r.headers.get("content-type", "") for r in server.requests_to(endpoint)]


def _accepts(server: FakeTinker) -> list[str]:
    return [r.headers.get("accept", "") for r in server.requests_to("retrieve_future")]


def test_json_and_protobuf_give_equal_results(fake_tinker: FakeTinkerFactory) -> None:
    as_json = run_steps(fake_tinker(client_config=True), wire="json")
    as_protobuf_server = fake_tinker(client_config=True)
    as_protobuf = run_steps(as_protobuf_server, wire="protobuf")
    assert as_protobuf_server.protobuf_requests == 2  # forward_backward and forward
    for key in ("fb", "fwd", "sample"):
        assert as_protobuf[key].model_dump() == as_json[key].model_dump(), key
    accepts = _accepts(as_protobuf_server)
    assert accepts.count("application/x-protobuf") == 3  # two training results and a sample


def test_auto_speaks_protobuf_where_the_server_has_a_client_config(
    fake_tinker: FakeTinkerFactory,
) -> None:
    server = fake_tinker(client_config=True)
    run_steps(server)
    assert _bodies(server, "forward_backward") == ["application/x-protobuf"] * 2
    assert server.requests_to("forward") == []  # forward-only travels as forward_backward
    assert any("application/x-protobuf" in a for a in _accepts(server))


def test_auto_speaks_json_where_the_server_has_no_client_config(
    fake_tinker: FakeTinkerFactory,
) -> None:
    server = fake_tinker()  # like skyrl-tx: no /client/config
    run_steps(server)
    assert server.protobuf_requests == 0
    assert _bodies(server, "forward_backward") == ["application/json"]
    assert _bodies(server, "forward") == ["application/json"]
    assert all(a == "application/json" for a in _accepts(server))


def test_a_refused_protobuf_body_falls_back_to_json_once_and_is_remembered(
    fake_tinker: FakeTinkerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = fake_tinker(client_config=True, protobuf=False)  # a server that answers 415
    with caplog.at_level(logging.INFO, logger="tinkex"):
        out = run_steps(server)
    assert _bodies(server, "forward_backward") == [
        "application/x-protobuf",  # refused: 415, not applied
        "application/json",  # the same chunk, resent as JSON
    ]
    assert _bodies(server, "forward") == ["application/json"]  # remembered
    assert server.applied[("forward_backward", out["model"])] == 1  # applied exactly once
    seqs = [r.json["seq_id"] for r in server.requests_to("forward_backward") if r.json]
    assert seqs == [1]  # the resend kept its seq id
    notes = [r.message for r in caplog.records if "refused a protobuf body" in r.message]
    assert len(notes) == 1


def test_forced_protobuf_does_not_fall_back(fake_tinker: FakeTinkerFactory) -> None:
    server = fake_tinker(client_config=True, protobuf=False)
    with tinkex.ServiceClient(base_url=server.base_url, api_key=KEY, wire="protobuf") as service:
        training = service.create_lora_training_client("fake/tiny-model", rank=4).result(WAIT)
        with pytest.raises(APIStatusError) as info:
            training.forward_backward(batch(), "cross_entropy").result(WAIT)
    assert info.value.status_code == 415
    assert _bodies(server, "forward_backward") == ["application/x-protobuf"]
    assert not any(ep == "forward_backward" for ep, _ in server.applied)


def test_bad_input_fails_at_the_call_and_leaves_the_seq_ids_in_order(
    fake_tinker: FakeTinkerFactory,
) -> None:
    server = fake_tinker(client_config=True)
    bad = types.Datum(model_input=types.ModelInput.from_ints([2**40]), loss_fn_inputs={})
    with tinkex.ServiceClient(base_url=server.base_url, api_key=KEY) as service:
        training = service.create_lora_training_client("fake/tiny-model", rank=4).result(WAIT)
        with pytest.raises(ValueError, match="datum 1"):
            training.forward_backward([batch()[0], bad], "cross_entropy")
        training.forward_backward(batch(), "cross_entropy").result(WAIT)
    assert server.requests_to("forward_backward")[0].json["seq_id"] == 1
    assert server.seq_log[training.model_id] == [0, 1]


def test_compression_follows_the_server_flag(fake_tinker: FakeTinkerFactory) -> None:
    plain = fake_tinker(client_config=True)
    run_steps(plain)
    zstd = fake_tinker(client_config=True)
    zstd.config_flags["proto_compress_fwdbwd"] = True
    run_steps(zstd)
    encodings = [
        [r.headers.get("content-encoding") for r in s.requests_to("forward_backward")]
        for s in (plain, zstd)
    ]
    assert encodings == [[None, None], ["zstd", "zstd"]]


def _mixed_batch() -> list[types.Datum]:
    dense = batch()
    from_numpy = types.Datum(
        model_input=types.ModelInput.from_ints(np.arange(5, dtype=np.int64).tolist()),
        loss_fn_inputs={
            "target_tokens": np.arange(1, 6, dtype=np.int32),
            "advantages": np.linspace(-1, 1, 5, dtype=np.float64),
            "mask": types.TensorData(data=[1.0] * 6, dtype="float32", shape=[2, 3]),
        },
    )
    sparse = types.Datum(
        model_input=types.ModelInput.from_ints([7, 8]),
        loss_fn_inputs={
            "weights": types.TensorData(
                data=[2.0],
                dtype="float32",
                shape=[2, 2],
                sparse_crow_indices=[0, 1, 1],
                sparse_col_indices=[1],
            )
        },
    )
    image = types.Datum(
        model_input=types.ModelInput(
            chunks=[
                types.EncodedTextChunk(tokens=[1]),
                types.ImageChunk(data=b"\x89PNG", format="png", expected_tokens=2),
            ]
        ),
        loss_fn_inputs={"target_tokens": [1, 2, 3]},
    )
    spans = golden_datum().with_provenance(
        [types.PromptProvenanceSpan(sequence_id="p", length=3)],
        [types.SampledProvenanceSpan(sequence_id="s", offset=1, length=3)],
    )
    empty = types.Datum(model_input=types.ModelInput.from_ints([]), loss_fn_inputs={})
    return [*dense, from_numpy, sparse, image, spans, empty]


@pytest.mark.parametrize("seq_id", [0, 1, 2**31 - 1, -3])
@pytest.mark.parametrize("config", [None, {"clip": 0.2, "zero": 0.0, "mode": "mean", "k": 3}])
@pytest.mark.parametrize("forward_only", [False, True])
def test_the_fast_writer_writes_what_the_compiled_message_writes(
    seq_id: int, config: dict[str, Any] | None, forward_only: bool
) -> None:
    from tinkex._proto import encode_forward_backward_bytes

    fields = {
        "model_id": "run:train:0",
        "data": _mixed_batch(),
        "loss_fn": "importance_sampling",
        "loss_fn_config": config,
        "forward_only": forward_only,
    }
    slow = encode_forward_backward(seq_id=seq_id, **fields).SerializeToString(deterministic=True)
    assert encode_forward_backward_bytes(**fields).with_seq_id(seq_id) == slow


async def test_training_results_are_polled_over_the_training_pool(
    fake_tinker: FakeTinkerFactory,
) -> None:
    server = fake_tinker(client_config=True)
    pools: list[str] = []
    async with AsyncTinkerAPI(base_url=server.base_url, api_key=KEY) as api:
        real_get = api._pools.get

        def get(name: str) -> Any:
            pools.append(name)
            return real_get(name)

        api._pools.get = get  # type: ignore[method-assign]
        session = await api.sessions.create_session(
            tags=[], user_metadata=None, sdk_version="0.38.0"
        )
        create = await api.training.create_model(
            session_id=session.session_id, model_seq_id=0, base_model="fake/tiny-model"
        )
        model = await create.result(timeout=WAIT)
        pools.clear()
        step = await api.training.optim_step(model_id=model.model_id, seq_id=1)
        await step.result(timeout=WAIT)
    assert pools == ["train", "train"]  # the submission and its poll (manifest: poll_pool)


def test_a_float32_weight_out_of_range_is_refused_naming_the_datum() -> None:
    datum = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2]),
        loss_fn_inputs={"weights": [1.0, 1e40]},
    )
    with pytest.raises(WireInputError, match=r"datum 0: loss_fn_inputs\['weights'\].*float32"):
        encode_forward_backward(
            model_id="m",
            seq_id=1,
            data=[datum],
            loss_fn="x",
            loss_fn_config=None,
            forward_only=False,
        )


async def _refusing(statuses: list[int]) -> tuple[list[httpx.Request], AsyncTinkerAPI, Any]:
    """A forward_backward chunk sent to a server answering ``statuses`` in turn (then a future)."""
    from tinkex._fwdbwd_wire import ForwardBackwardWire

    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= len(statuses):
            return httpx.Response(statuses[len(seen) - 1], json={"detail": "refused"})
        return httpx.Response(200, json={"request_id": "r1"})

    api = AsyncTinkerAPI(
        base_url="http://tinker.test", api_key=KEY, transport=httpx.MockTransport(server)
    )
    wire = ForwardBackwardWire(api, "m", compress=lambda: False, observer=None)
    body = wire.encode([[golden_datum()]], "cross_entropy", None, forward_only=False)[0]
    try:
        outcome: Any = await wire.send([golden_datum()], body, 1, "cross_entropy", None, False)
    except APIStatusError as err:
        outcome = err
    return seen, api, outcome


async def test_the_encoding_is_remembered_only_when_json_then_goes_through() -> None:
    seen, api, outcome = await _refusing([415])
    assert [r.headers["content-type"] for r in seen] == [
        "application/x-protobuf",
        "application/json",
    ]
    assert outcome.request_id == "r1"
    assert api.codecs.refused == "forward_backward"
    await api.close()

    # Refused the same way as JSON too: the request, not its encoding, was at fault.
    seen, api, outcome = await _refusing([422, 422])
    assert len(seen) == 2
    assert isinstance(outcome, APIStatusError)
    assert outcome.status_code == 422
    assert api.codecs.refused is None
    await api.close()


def test_decoded_outputs_reused_as_inputs_send_their_values_as_json(
    fake_tinker: FakeTinkerFactory,
) -> None:
    # A protobuf result keeps its values in an array until read; an RL loop feeds them back as
    # loss inputs. Sent as JSON (through the generated wire models), the values must be there.
    import numpy as np

    server = fake_tinker(client_config=True)
    lazy = types.TensorData.from_array(np.array([-0.5, -1.5, -2.5], dtype="<f4"), "float32", [3])
    datum = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={"target_tokens": [2, 3, 4], "weights": lazy},
    )
    with tinkex.ServiceClient(base_url=server.base_url, api_key=KEY, wire="json") as service:
        training = service.create_lora_training_client("fake/tiny-model", rank=4).result(WAIT)
        training.forward_backward([datum], "cross_entropy").result(WAIT)
    (request,) = server.requests_to("forward_backward")
    sent = request.json["forward_backward_input"]["data"][0]["loss_fn_inputs"]["weights"]
    assert sent["data"] == [-0.5, -1.5, -2.5]


@pytest.mark.filterwarnings("error::UserWarning")  # pydantic's warning of a dump that fell back
def test_packed_token_ids_are_sent_as_json(fake_tinker: FakeTinkerFactory) -> None:
    # ModelInput.from_ints and int64 lists keep their values packed until read; the generated
    # wire models serialize what is in each object, so the JSON bodies must still carry them.
    server = fake_tinker(client_config=True)
    datum = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={"target_tokens": [2, 3, 4], "weights": [1.0, 1.0, 0.0]},
    )
    with tinkex.ServiceClient(base_url=server.base_url, api_key=KEY, wire="json") as service:
        training = service.create_lora_training_client("fake/tiny-model", rank=4).result(WAIT)
        training.forward_backward([datum], "cross_entropy").result(WAIT)
        sampler = training.save_weights_and_get_sampling_client().result(WAIT)
        params = types.SamplingParams(max_tokens=2)
        sampler.sample(types.ModelInput.from_ints([4, 5]), 1, params).result(WAIT)
    (request,) = server.requests_to("forward_backward")
    sent = request.json["forward_backward_input"]["data"][0]
    assert sent["model_input"]["chunks"][0]["tokens"] == [1, 2, 3]
    assert sent["loss_fn_inputs"]["target_tokens"]["data"] == [2, 3, 4]
    (sample,) = server.requests_to("asample")
    assert sample.json["prompt"]["chunks"][0]["tokens"] == [4, 5]
