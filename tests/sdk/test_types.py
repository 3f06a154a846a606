"""The public types and the helpers training loops use."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from tinkex import types
from tinkex._generated import models


def test_model_input_builders_return_new_objects() -> None:
    empty = types.ModelInput.empty()
    one = empty.append_int(5)
    two = one.append_int(6).append(types.EncodedTextChunk(tokens=[7, 8]))
    assert empty.chunks == []
    assert one.to_ints() == [5]
    assert two.to_ints() == [5, 6, 7, 8]
    assert two.length == 4
    # append_int extends the last text chunk rather than adding a chunk per token
    assert len(one.append_int(6).chunks) == 1


def test_model_input_from_wire_dicts_and_generated_chunks() -> None:
    m = types.ModelInput.model_validate(
        {
            "chunks": [
                {"type": "encoded_text", "tokens": [1, 2]},
                {"type": "image", "data": b"\x89PNG", "format": "png", "expected_tokens": 3},
            ]
        }
    )
    assert isinstance(m.chunks[0], types.EncodedTextChunk)
    assert m.length == 5
    assert m.model_dump(mode="json")["chunks"][1]["data"] == "iVBORw=="
    upgraded = types.ModelInput(chunks=[models.EncodedTextChunk(tokens=[9])])
    assert upgraded.chunks[0].length == 1


def test_to_ints_refuses_non_text() -> None:
    m = types.ModelInput(chunks=[types.ImageChunk(data=b"x", format="png", expected_tokens=2)])
    with pytest.raises(ValueError, match="text-only"):
        m.to_ints()


def test_image_length_needs_expected_tokens() -> None:
    with pytest.raises(ValueError, match="expected_tokens"):
        _ = types.ImageChunk(data=b"x", format="png").length


def test_dmel_length_reads_the_header() -> None:
    # marker 254, dtype 1, ndim 2, dims 300 (varint 0xAC 0x02) and 80
    header = bytes([254, 1, 2, 0xAC, 0x02, 80])
    assert types.DmelChunk(dmel=header + b"\x00" * 8).length == 300


def test_tensor_data_numpy_round_trip() -> None:
    array = np.arange(6, dtype=np.int32).reshape(2, 3)
    t = types.TensorData.from_numpy(array)
    assert (t.dtype, t.shape, t.data) == ("int64", [2, 3], [0, 1, 2, 3, 4, 5])
    assert t.tolist() == [[0, 1, 2], [3, 4, 5]]
    back = t.to_numpy()
    assert back.dtype == np.int64
    assert np.array_equal(back, array)
    f = types.TensorData.from_numpy(np.array([0.5, 1.5], dtype=np.float64))
    assert f.dtype == "float32"
    with pytest.raises(TypeError, match="integers or floats"):
        types.TensorData.from_numpy(np.array(["a"]))


def test_sparse_tensor_data_densifies_with_the_pad_value() -> None:
    t = types.TensorData(
        data=[5, 7],
        dtype="int64",
        shape=[2, 3],
        sparse_crow_indices=[0, 1, 2],
        sparse_col_indices=[2, 0],
    )
    assert t.tolist(pad_value=-1) == [[-1, -1, 5], [7, -1, -1]]
    assert t.to_numpy().tolist() == [[0, 0, 5], [7, 0, 0]]


def test_datum_coerces_lists_arrays_and_tensor_data_by_key() -> None:
    d = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={
            "target_tokens": [2, 3, 4],
            "weights": np.ones(3),
            "advantages": types.TensorData(data=[0.1, 0.2, 0.3], dtype="float32"),
        },
    )
    assert d.loss_fn_inputs["target_tokens"].dtype == "int64"
    assert d.loss_fn_inputs["weights"].data == [1.0, 1.0, 1.0]
    assert d.loss_fn_inputs["weights"].dtype == "float32"
    wire = d.model_dump(mode="json", exclude_none=True)
    assert wire["loss_fn_inputs"]["target_tokens"] == {
        "data": [2, 3, 4],
        "dtype": "int64",
        "shape": [3],
    }


def test_datum_refuses_an_unknown_key_with_a_plain_list() -> None:
    with pytest.raises(pydantic.ValidationError, match="needs a known key"):
        types.Datum(model_input=types.ModelInput.from_ints([1]), loss_fn_inputs={"mystery": [1.0]})


def test_datum_provenance_must_tile_the_input() -> None:
    d = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={"target_tokens": [2, 3, 4]},
    )
    spans = [
        types.PromptProvenanceSpan(sequence_id="p", length=2),
        types.SampledProvenanceSpan(sequence_id="s", length=1),
    ]
    tagged = d.with_provenance(model_input=spans, loss_fn_inputs=spans)
    assert tagged.model_input_spans == spans
    assert d.model_input_spans is None
    with pytest.raises(ValueError, match="must cover exactly 3"):
        d.with_provenance(model_input=spans[:1], loss_fn_inputs=spans)


def test_optim_step_request_exposes_optim_params() -> None:
    adam = types.AdamParams(learning_rate=0.01)
    req = types.OptimStepRequest(model_id="m", adam_params=adam)
    assert req.optim_params == adam
    assert req.model_dump(mode="json", exclude_none=True)["adam_params"]["learning_rate"] == 0.01


def test_sample_response_numpy_views() -> None:
    r = types.SampleResponse(
        sequences=[{"stop_reason": "length", "tokens": [1, 2], "logprobs": [-0.5, -0.25]}],
        prompt_logprobs=[None, -1.0],
    )
    assert r.sequences[0].tokens_np.tolist() == [1, 2]
    assert r.sequences[0].logprobs_np.dtype == np.float32
    lp = r.prompt_logprobs_np
    assert np.isnan(lp[0])
    assert lp[1] == -1.0


def test_every_wire_model_is_a_type() -> None:
    assert types.CreateModelRequest is models.CreateModelRequest
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = types.Nope  # type: ignore[attr-defined]
