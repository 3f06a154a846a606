"""TensorData's fast constructor must build exactly what pydantic's model_construct builds."""

from __future__ import annotations

import copy
import pickle

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
