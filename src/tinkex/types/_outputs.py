"""Results of training and sampling calls, with the conveniences loops use."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from .._generated import models
from ._tensor import TensorData, coerce_tensor

__all__ = ["ForwardBackwardOutput", "SampleResponse", "SampledSequence"]


class ForwardBackwardOutput(models.ForwardBackwardOutput):
    """Per-datum outputs (``loss_fn_outputs[i]["logprobs"]``) and metrics keyed ``name:reduction``."""

    loss_fn_outputs: list[dict[str, TensorData]]  # type: ignore[assignment]

    @field_validator("loss_fn_outputs", mode="before")
    @classmethod
    def _tensors(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [
                {k: coerce_tensor(k, v) for k, v in d.items()} if isinstance(d, dict) else d
                for d in value
            ]
        return value


class SampledSequence(models.SampledSequence):
    """One sampled completion: its tokens, why it stopped, and (if asked) logprobs."""


class SampleResponse(models.SampleResponse):
    """The sequences of one sampling request and, if asked, prompt logprobs."""

    sequences: list[SampledSequence]  # type: ignore[assignment]
