"""TensorData's fast constructor must build exactly what pydantic's model_construct builds."""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest

from tinkex.types import TensorData


def test_fast_tensors_equal_model_construct() -> None:
    fast = TensorData.from_list([1, 2, 3], "int64")
    slow = TensorData.model_construct(data=[1, 2, 3], dtype="int64", shape=[3])
    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_fields_set == slow.model_fields_set
    assert set(vars(fast)) == set(TensorData.model_fields)  # a new field would be missing here
    assert fast.model_dump_json() == slow.model_dump_json()
    from_array = TensorData.from_numpy(np.array([1, 2, 3]))
    assert from_array == slow
    assert from_array.cached_array() is not None


def test_plain_lists_are_checked_and_converted() -> None:
    assert TensorData.from_list([1, 2], "float32").data == [1.0, 2.0]
    assert all(type(v) is float for v in TensorData.from_list([1, 2], "float32").data)
    assert TensorData.from_list([True, np.int64(3)], "int64").data == [1, 3]
    assert all(type(v) is int for v in TensorData.from_list([True, np.int64(3)], "int64").data)
    assert TensorData.from_list([2.0, 3.0], "int64").data == [2, 3]
    with pytest.raises(ValueError, match="numbers only"):
        TensorData.from_list([1, "x"], "int64")


def test_fast_tensors_copy_pickle_and_validate() -> None:
    fast = TensorData.from_list([0.5, 1.5], "float32")
    assert TensorData.model_validate(fast.model_dump()) == fast
    assert pickle.loads(pickle.dumps(fast)) == fast
    assert copy.deepcopy(fast) == fast
    assert fast.model_copy(update={"shape": [2, 1]}).shape == [2, 1]


def test_replacing_data_drops_the_kept_array() -> None:
    fast = TensorData.from_numpy(np.array([1, 2, 3]))
    fast.data = [7, 8, 9]
    assert fast.cached_array() is None
    assert fast.to_numpy().tolist() == [7, 8, 9]


def test_a_kept_array_does_not_change_equality() -> None:
    from tinkex._generated import tinker_public_pb2 as pb
    from tinkex._proto import decode_sample_response

    assert TensorData.from_list([1, 2], "int64") == TensorData(
        data=[1, 2], dtype="int64", shape=[2]
    )
    assert TensorData.from_list([1, 2], "int64") != TensorData.from_list([1, 3], "int64")
    reply = pb.SampleResponse(sequences=[pb.SampledSequence(tokens=b"\x05\x00\x00\x00")])
    decoded = decode_sample_response(reply.SerializeToString()).sequences[0]
    assert decoded == type(decoded)(stop_reason="stop", tokens=[5])


def test_values_packed_at_construction_are_the_values_encoded() -> None:
    from tinkex._proto import (
        WireInputError,
        encode_forward_backward,
        encode_forward_backward_bytes,
    )
    from tinkex.types import Datum, EncodedTextChunk, ModelInput

    chunk = EncodedTextChunk.from_ints([5, 6, 7])
    assert chunk.packed_tokens() == b"\x05\x00\x00\x00\x06\x00\x00\x00\x07\x00\x00\x00"
    tensor = TensorData.from_list([0.5, 2.0, -1.0], "float32")
    assert tensor.cached_array() is not None
    datum = Datum(
        model_input=ModelInput(chunks=[chunk]),
        loss_fn_inputs={"target_tokens": [6, 7, 8], "weights": tensor},
    )
    kwargs = {"model_id": "m", "loss_fn": "cross_entropy", "loss_fn_config": None}
    fast = encode_forward_backward_bytes(data=[datum], forward_only=False, **kwargs)
    reference = encode_forward_backward(data=[datum], forward_only=False, seq_id=4, **kwargs)
    assert fast.with_seq_id(4) == reference.SerializeToString(deterministic=True)

    # Replacing the values drops what was packed: the new ones are encoded.
    chunk.tokens = [9]
    tensor.data, tensor.shape = [1.5], [1]
    assert chunk.packed_tokens() is None
    assert tensor.cached_array() is None
    datum = Datum(
        model_input=ModelInput(chunks=[chunk]),
        loss_fn_inputs={"target_tokens": [1], "weights": tensor},
    )
    again = encode_forward_backward_bytes(data=[datum], forward_only=False, **kwargs)
    reference = encode_forward_backward(data=[datum], forward_only=False, seq_id=4, **kwargs)
    assert again.with_seq_id(4) == reference.SerializeToString(deterministic=True)

    # A negative id packed at construction is still refused before anything is sent.
    bad = Datum(
        model_input=ModelInput(chunks=[EncodedTextChunk.from_ints([3, -1])]),
        loss_fn_inputs={"target_tokens": [1, 2], "weights": [1.0, 1.0]},
    )
    with pytest.raises(ValueError, match="negative"):
        encode_forward_backward_bytes(data=[bad], forward_only=False, **kwargs)
    assert issubclass(WireInputError, ValueError)


def test_plain_lists_with_numpy_scalars_or_bools_hold_plain_numbers() -> None:
    mixed = TensorData.from_list([1, np.int64(2)], "int64")
    assert [type(v) for v in mixed.data] == [int, int]
    floats = TensorData.from_list([0.5, np.float32(1.5)], "float32")
    assert [type(v) for v in floats.data] == [float, float]
    chunk_ids = [1, np.int64(2)]
    from tinkex.types import EncodedTextChunk

    chunk = EncodedTextChunk.from_ints(chunk_ids)
    assert [type(v) for v in chunk.tokens] == [int, int]


def test_a_decoded_tensor_makes_its_list_when_read() -> None:
    from tinkex._generated import models

    array = np.array([0.25, -1.0, 3.0], dtype="<f4")
    tensor = TensorData.from_array(array, "float32", [3])
    assert "data" not in vars(tensor)  # nothing made yet
    assert tensor.to_numpy().tolist() == [0.25, -1.0, 3.0]
    assert "data" not in vars(tensor)
    plain = TensorData(data=[0.25, -1.0, 3.0], dtype="float32", shape=[3])
    assert tensor.model_dump() == plain.model_dump()  # made for the dump
    lazy = TensorData.from_array(array, "float32", [3])
    assert lazy == plain
    assert repr(lazy) == repr(plain)
    assert dict(TensorData.from_array(array, "float32", [3]))["data"] == [0.25, -1.0, 3.0]
    assert pickle.loads(pickle.dumps(TensorData.from_array(array, "float32", [3]))) == plain
    assert copy.deepcopy(TensorData.from_array(array, "float32", [3])).data == plain.data
    from tinkex.types import ForwardBackwardOutput

    nested = ForwardBackwardOutput.model_construct(
        loss_fn_output_type="ArrayRecord",
        loss_fn_outputs=[{"logprobs": TensorData.from_array(array, "float32", [3])}],
        metrics={},
    )
    dumped = nested.model_dump_json()
    assert ForwardBackwardOutput.model_validate_json(dumped).loss_fn_outputs[0]["logprobs"] == plain
    # The generated (wire) models serialize what is in the object: the list is made first.
    lazy = TensorData.from_array(array, "float32", [3])
    assert lazy.data == [0.25, -1.0, 3.0]
    wire = models.Datum.model_construct(
        model_input=models.ModelInput(chunks=[]), loss_fn_inputs={"logprobs": lazy}
    )
    assert wire.model_dump()["loss_fn_inputs"]["logprobs"]["data"] == [0.25, -1.0, 3.0]


def test_a_dtype_the_wire_cannot_carry_is_refused_when_the_tensor_is_made() -> None:
    # The generated wire model keeps response enums open; the public tensor is also an input.
    with pytest.raises(ValueError, match="dtype"):
        TensorData(data=[1, 2], dtype="int32", shape=[2])  # type: ignore[arg-type]
    assert TensorData(data=[1, 2], dtype="int64", shape=[2]).dtype == "int64"


class _ValidatorSpy:
    """Stands in for a model's validator: counts calls, then validates as the real one does."""

    def __init__(self, real: object) -> None:
        self.real, self.calls = real, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def validate_python(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        return self.real.validate_python(*args, **kwargs)  # type: ignore[attr-defined]


def test_the_usual_datum_is_built_as_validation_builds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tinkex.types import Datum, EncodedTextChunk, ModelInput

    inputs = {"target_tokens": [2, 3, 4], "weights": [1.0, 0.5, 0.0]}
    model_input = ModelInput.from_ints([1, 2, 3])
    validated = Datum.model_validate({"model_input": model_input, "loss_fn_inputs": inputs})
    assert Datum.__pydantic_validator__ is not None  # built by the call above
    spy = _ValidatorSpy(Datum.__pydantic_validator__)
    monkeypatch.setattr(Datum, "__pydantic_validator__", spy)
    fast = Datum(model_input=model_input, loss_fn_inputs=inputs)
    assert spy.calls == 0  # the usual call skips pydantic's per-call machinery...
    assert fast == validated  # ...and builds the same object
    assert list(vars(fast)) == list(vars(validated))
    assert fast.model_input is model_input
    assert fast.loss_fn_inputs is not inputs
    assert fast.model_fields_set == validated.model_fields_set
    assert fast.__pydantic_private__ == validated.__pydantic_private__
    assert fast.__pydantic_extra__ == validated.__pydantic_extra__
    assert fast.model_dump_json() == validated.model_dump_json()
    assert fast.model_dump() == validated.model_dump()
    assert pickle.loads(pickle.dumps(fast)) == fast
    assert fast.model_input_spans is None
    assert fast.model_copy() == fast

    # Anything else is validated, with pydantic's errors naming the field.
    Datum(model_input=model_input.model_dump(), loss_fn_inputs=inputs)
    assert spy.calls == 1
    with pytest.raises(ValueError, match="loss_fn_inputs"):
        Datum(model_input=model_input, loss_fn_inputs={"target_tokens": [2.5, 3, 4]})
    with pytest.raises(ValueError, match="extra"):
        Datum(model_input=model_input, loss_fn_inputs={}, extra=1)

    # The input's helpers build what validation builds too.
    chunk = EncodedTextChunk.from_ints([1, 2, 3])
    slow_chunk = EncodedTextChunk.model_construct(tokens=[1, 2, 3])
    assert chunk == slow_chunk
    assert chunk.tokens == [1, 2, 3]  # made from the packed ids when first read...
    assert vars(chunk) == vars(slow_chunk)  # ...where validation would have put it
    assert chunk.model_fields_set == slow_chunk.model_fields_set
    slow_input = ModelInput(chunks=[EncodedTextChunk.from_ints([1, 2, 3])])
    assert vars(model_input) == vars(slow_input)
    assert model_input.model_fields_set == slow_input.model_fields_set
    assert model_input.__pydantic_private__ == slow_input.__pydantic_private__


def test_int64_lists_are_kept_packed_until_read() -> None:
    from tinkex._chunking import datum_bytes
    from tinkex._validation import InvalidInputError, check_datums
    from tinkex.types import Datum, ModelInput

    given = [3, True, np.int64(5)]
    tensor = TensorData.from_list(given, "int64")
    assert "data" not in vars(tensor)  # made from the packed bytes when first read
    datum = Datum(
        model_input=ModelInput.from_ints([1, 2, 3]), loss_fn_inputs={"target_tokens": tensor}
    )
    check_datums([datum], "cross_entropy")  # the checks and the size estimate read no values
    assert datum_bytes(datum) == 3 * 4 + 3 * 8
    assert "data" not in vars(tensor)
    given[0] = 9  # the caller's list is not the tensor's
    assert tensor.data == [3, 1, 5]
    assert [type(v) for v in tensor.data] == [int, int, int]
    assert tensor == TensorData(data=[3, 1, 5], dtype="int64", shape=[3])
    # A float array labelled int64 is still refused as target tokens, read or not.
    floats = TensorData.from_array(np.array([1.5, 2.0, 3.0]), "int64", [3])
    bad = Datum(
        model_input=ModelInput.from_ints([1, 2, 3]), loss_fn_inputs={"target_tokens": floats}
    )
    with pytest.raises(InvalidInputError, match="integer token ids"):
        check_datums([bad], "cross_entropy")


def test_token_ids_are_kept_packed_until_read() -> None:
    import gc

    from tinkex._chunking import chunk_data, datum_bytes
    from tinkex._proto import encode_forward_backward, encode_forward_backward_bytes
    from tinkex._validation import check_datums
    from tinkex.types import Datum, EncodedTextChunk, ModelInput

    given = [3, True, np.int64(5), 7]
    model_input = ModelInput.from_ints(given)
    chunk = model_input.chunks[0]
    assert isinstance(chunk, EncodedTextChunk)
    assert "tokens" not in vars(chunk)
    datum = Datum(model_input=model_input, loss_fn_inputs={"target_tokens": [1, 2, 3, 4]})
    # Building, checking, sizing and encoding a batch make no token list.
    check_datums([datum], "cross_entropy")
    assert chunk.length == model_input.length == 4
    assert datum_bytes(datum) == 4 * 4 + 4 * 8
    assert chunk_data([datum], 8, 10**6) == [[datum]]
    kwargs = {"model_id": "m", "loss_fn": "cross_entropy", "loss_fn_config": None}
    fast = encode_forward_backward_bytes(data=[datum], forward_only=False, **kwargs)
    assert "tokens" not in vars(chunk)
    assert not any(
        type(o) is list and o is not given and o == [3, 1, 5, 7] for o in gc.get_objects()
    )
    # The caller's list is not the chunk's; the ids read back as plain ints.
    given[0] = 9
    reference = encode_forward_backward(data=[datum], forward_only=False, seq_id=4, **kwargs)
    assert fast.with_seq_id(4) == reference.SerializeToString(deterministic=True)
    assert chunk.tokens == [3, 1, 5, 7]
    assert [type(v) for v in chunk.tokens] == [int] * 4
    assert chunk.packed_tokens() is not None  # still the ids ``tokens`` was made from


def test_a_packed_chunk_reads_as_a_validated_one() -> None:
    from tinkex._generated import models
    from tinkex.types import EncodedTextChunk, ModelInput

    def packed() -> ModelInput:
        return ModelInput.from_ints([5, 6, 7])

    plain = ModelInput(chunks=[EncodedTextChunk(tokens=[5, 6, 7])])
    assert packed() == plain
    assert plain == packed()
    assert packed().model_dump() == plain.model_dump()
    assert packed().model_dump_json() == plain.model_dump_json()
    assert repr(packed()) == repr(plain)
    assert packed().to_ints() == [5, 6, 7]
    assert dict(packed().chunks[0]) == dict(plain.chunks[0])
    assert pickle.loads(pickle.dumps(packed())) == plain
    unpickled = pickle.loads(pickle.dumps(packed())).chunks[0]
    assert isinstance(unpickled, EncodedTextChunk)
    assert unpickled.packed_tokens() is not None
    assert copy.deepcopy(packed()) == plain
    assert packed().model_copy() == plain
    assert packed().append_int(8).to_ints() == [5, 6, 7, 8]
    assert ModelInput.model_validate(packed().model_dump()) == plain
    # A generated (wire) model holding it writes the ids, with no serializer fallback.
    lazy = packed()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            models.SampleRequest(prompt=lazy, num_samples=1, sampling_params={}).model_dump_json()
            == models.SampleRequest(
                prompt=plain, num_samples=1, sampling_params={}
            ).model_dump_json()
        )
    assert "tokens" in vars(lazy.chunks[0])  # written, so made
    # Replacing the ids drops what was packed.
    chunk = EncodedTextChunk.from_ints([1, 2])
    replaced = chunk.model_copy(update={"tokens": [4]})
    assert replaced.packed_tokens() is None
    assert replaced.length == 1
    assert chunk.tokens == [1, 2]
    assert chunk.packed_tokens() is not None


def test_public_types_inside_a_low_level_model_are_written_whole() -> None:
    """A low-level request built from public types keeps their packed values: each is written
    by its own serializer, not as the bare schema it extends (which would drop them)."""
    from tinkex import types
    from tinkex.lowlevel import models

    datum = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={
            "target_tokens": [2, 3, 4],  # int64 from a list: kept packed
            "weights": np.ones(3, dtype=np.float32),  # from an array: kept as the array
        },
    )
    batch = models.ForwardBackwardInput(data=[datum], loss_fn="cross_entropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no serializer fallback either
        dumped = batch.model_dump(mode="json")
        written = batch.model_dump_json()
    (sent,) = dumped["data"]
    assert sent["model_input"]["chunks"][0]["tokens"] == [1, 2, 3]
    assert sent["loss_fn_inputs"]["target_tokens"]["data"] == [2, 3, 4]
    assert sent["loss_fn_inputs"]["weights"]["data"] == [1.0, 1.0, 1.0]
    assert (
        models.ForwardBackwardInput.model_validate_json(written).model_dump(mode="json") == dumped
    )
