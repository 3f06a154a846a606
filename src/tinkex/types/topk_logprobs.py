"""``tinker.types.topk_logprobs`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import TopkLogprobs

__all__ = ["TopkLogprobs"]
