"""Results of training and sampling calls, with the conveniences loops use."""

from __future__ import annotations

from typing import Any

from pydantic import PrivateAttr, field_validator

from .._generated import models
from ._tensor import TensorData, coerce_tensor, require

__all__ = ["ForwardBackwardOutput", "OptimStepRequest", "SampleResponse", "SampledSequence"]


class OptimStepRequest(models.OptimStepRequest):
    """An optimizer step request; ``optim_params`` is whichever parameters it carries."""

    @property
    def optim_params(self) -> models.AdamParams | models.DimuonParams | None:
        """The step's hyper-parameters, whichever optimizer they are for."""
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

    # Arrays a protobuf result was decoded from, with the lists made of them (valid while the
    # fields are still those lists).
    _arrays: Any = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # Equal sequences are equal whether or not one keeps the arrays it was decoded from.
        if isinstance(other, SampledSequence):
            return self.__dict__ == other.__dict__
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, as pydantic models are

    def keep_arrays(self, tokens: Any, logprobs: Any) -> None:
        """Remember the arrays ``tokens`` and ``logprobs`` were made from (for ``*_np``)."""
        self._arrays = (tokens, self.tokens, logprobs, self.logprobs)

    def _array(self, index: int, value: Any) -> Any:
        if self._arrays is not None and self._arrays[index + 1] is value:
            return self._arrays[index].copy()  # decoded arrays are read-only views
        return None

    @property
    def tokens_np(self) -> Any:
        """The tokens as a numpy int32 array (copied from the decoded protobuf array, if any)."""
        cached = self._array(0, self.tokens)
        if cached is not None:
            return cached
        return require("numpy").asarray(self.tokens, dtype="int32")

    @property
    def logprobs_np(self) -> Any:
        """The tokens' logprobs as a numpy float32 array, or ``None`` when there are none."""
        if self.logprobs is None:
            return None
        cached = self._array(2, self.logprobs)
        if cached is not None:
            return cached
        return require("numpy").asarray(self.logprobs, dtype="float32")

    @property
    def topk_logprobs_np(self) -> Any:
        """The top-k alternatives of each sampled token, as the server gave them."""
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
        """The top-k alternatives of each prompt position, as the server gave them."""
        return self.topk_prompt_logprobs
