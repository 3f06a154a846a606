"""Splitting batches by the server's limits, and merging chunk outputs by metric reduction."""

from __future__ import annotations

import pytest

from tinkex import types
from tinkex._chunking import chunk_data, datum_bytes, merge_outputs


def datum(tokens: int) -> types.Datum:
    return types.Datum(
        model_input=types.ModelInput.from_ints(list(range(tokens))),
        loss_fn_inputs={"target_tokens": list(range(tokens)), "weights": [1.0] * tokens},
    )


def test_datum_bytes_counts_tokens_and_tensors() -> None:
    # 4 bytes a token, int64 targets 8 bytes each, float32 weights 4 bytes each
    assert datum_bytes(datum(10)) == 10 * 4 + 10 * 8 + 10 * 4


def test_chunks_respect_count_and_bytes() -> None:
    data = [datum(10) for _ in range(7)]
    assert [len(c) for c in chunk_data(data, max_len=3, max_bytes=10**9)] == [3, 3, 1]
    per = datum_bytes(data[0])
    assert [len(c) for c in chunk_data(data, max_len=100, max_bytes=2 * per)] == [2, 2, 2, 1]
    # a datum larger than the byte limit still goes, alone
    assert [len(c) for c in chunk_data([datum(1000), datum(1)], 100, 10)] == [1, 1]
    assert [d for c in chunk_data(data, 2, 10**9) for d in c] == data


def out(n: int, metrics: dict[str, float]) -> types.ForwardBackwardOutput:
    return types.ForwardBackwardOutput(
        loss_fn_output_type="ArrayRecord",
        loss_fn_outputs=[
            {"logprobs": types.TensorData(data=[float(i)], dtype="float32")} for i in range(n)
        ],
        metrics=metrics,
    )


def test_merge_reduces_metrics_by_suffix() -> None:
    merged = merge_outputs(
        [
            out(
                1,
                {
                    "loss:sum": 1.0,
                    "acc:mean": 0.5,
                    "lr:min": 3.0,
                    "g:max": 1.0,
                    "x:hash2": 1.0,
                    "only:sum": 1.0,
                },
            ),
            out(3, {"loss:sum": 2.0, "acc:mean": 1.0, "lr:min": 2.0, "g:max": 4.0, "x:hash2": 2.0}),
        ],
        [1, 3],
    )
    assert merged.metrics == {
        "loss:sum": 3.0,
        "acc:mean": pytest.approx((0.5 * 1 + 1.0 * 3) / 4),
        "lr:min": 2.0,
        "g:max": 4.0,
    }
    assert len(merged.loss_fn_outputs) == 4


def test_merge_of_one_is_identity() -> None:
    single = out(2, {"loss:sum": 1.0})
    assert merge_outputs([single], [2]) is single
