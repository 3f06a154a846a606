"""Results of training and sampling calls, with the conveniences loops use."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from .._generated import models
from ._tensor import TensorData, coerce_tensor, require

__all__ = ["ForwardBackwardOutput", "OptimStepRequest", "SampleResponse", "SampledSequence"]


class OptimStepRequest(models.OptimStepRequest):
    """An optimizer step request; ``optim_params`` is whichever parameters it carries."""

    @property
    def optim_params(self) -> models.AdamParams | models.DimuonParams | None:
        return self.adam_params if self.adam_params is not None else self.optimizer_params


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

    @property
    def tokens_np(self) -> Any:
        return require("numpy").asarray(self.tokens, dtype="int32")

    @property
    def logprobs_np(self) -> Any:
        if self.logprobs is None:
            return None
        return require("numpy").asarray(self.logprobs, dtype="float32")

    @property
    def topk_logprobs_np(self) -> Any:
        return self.topk_logprobs


class SampleResponse(models.SampleResponse):
    """The sequences of one sampling request and, if asked, prompt logprobs."""

    sequences: list[SampledSequence]  # type: ignore[assignment]

    @property
    def prompt_logprobs_np(self) -> Any:
        """Prompt logprobs as float32, NaN where none was computed."""
        if self.prompt_logprobs is None:
            return None
        values = [float("nan") if v is None else v for v in self.prompt_logprobs]
        return require("numpy").asarray(values, dtype="float32")

    @property
    def topk_prompt_logprobs_np(self) -> Any:
        return self.topk_prompt_logprobs
