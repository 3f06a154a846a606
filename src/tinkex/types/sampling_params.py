"""``tinker.types.sampling_params`` of the official SDK: tinkex's own objects at that path."""

from . import SamplingParams

__all__ = ["SamplingParams"]
