"""Small batches for the regularizer tests: datums with chosen weights and extra inputs."""

from __future__ import annotations

from typing import Any

import torch

from tinkex import types


def datum(n: int, weights: list[float] | None = None, **extra: list[float]) -> types.Datum:
    """A datum with ``n`` target tokens, ``weights`` (default all 1) and float ``extra`` inputs."""
    inputs: dict[str, Any] = {
        "target_tokens": list(range(2, n + 2)),
        "weights": weights if weights is not None else [1.0] * n,
    }
    for key, values in extra.items():
        inputs[key] = types.TensorData.from_list(values, "float32")
    return types.Datum(
        model_input=types.ModelInput.from_ints(list(range(1, n + 1))), loss_fn_inputs=inputs
    )


def logprobs(*rows: list[float]) -> list[torch.Tensor]:
    """One float64 leaf tensor per row, requiring grad (float64 so that hand values match tightly)."""
    return [torch.tensor(row, dtype=torch.float64, requires_grad=True) for row in rows]


def grads(value: torch.Tensor, lps: list[torch.Tensor]) -> list[float]:
    """d value / d each logprob tensor, concatenated (zeros where it does not depend on one)."""
    got = torch.autograd.grad(value, lps, allow_unused=True)
    return [
        x
        for g, lp in zip(got, lps, strict=True)
        for x in (g if g is not None else torch.zeros_like(lp)).tolist()
    ]


def flat(rows: list[list[float]]) -> list[float]:
    return [x for row in rows for x in row]
