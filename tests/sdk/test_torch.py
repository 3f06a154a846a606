"""TensorData and Datum with torch tensors (the `torch` extra)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from tinkex import types  # noqa: E402


def test_from_and_to_torch_keep_values_shape_and_kind() -> None:
    t = types.TensorData.from_torch(torch.arange(6, dtype=torch.int32).reshape(2, 3))
    assert (t.dtype, t.shape, t.data) == ("int64", [2, 3], [0, 1, 2, 3, 4, 5])
    back = t.to_torch()
    assert back.dtype == torch.int64
    assert torch.equal(back, torch.arange(6).reshape(2, 3))


def test_bfloat16_is_widened_to_float32() -> None:
    t = types.TensorData.from_torch(torch.tensor([0.5, 1.5], dtype=torch.bfloat16))
    assert t.dtype == "float32"
    assert t.data == [0.5, 1.5]


def test_from_torch_sparse_uses_csr_only_when_smaller() -> None:
    dense = torch.full((4, 50), -1, dtype=torch.int64)
    dense[1, 7] = 9
    dense[3, 0] = 4
    sparse = types.TensorData.from_torch_sparse(dense, pad_value=-1)
    assert sparse.sparse_crow_indices == [0, 0, 1, 1, 2]
    assert sparse.sparse_col_indices == [7, 0]
    assert sparse.data == [9, 4]
    assert torch.equal(sparse.to_torch(pad_value=-1), dense)
    small = types.TensorData.from_torch_sparse(torch.tensor([[1, 2], [3, 4]]), pad_value=0)
    assert small.sparse_crow_indices is None  # CSR would not be smaller
    with pytest.raises(ValueError, match="2-D"):
        types.TensorData.from_torch_sparse(torch.zeros(3), pad_value=0)


def test_datum_takes_tensors_by_key() -> None:
    d = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={
            "target_tokens": torch.tensor([2, 3, 4]),
            "weights": torch.ones(3, requires_grad=True),
        },
    )
    assert d.loss_fn_inputs["target_tokens"].dtype == "int64"
    assert d.loss_fn_inputs["weights"].data == [1.0, 1.0, 1.0]
