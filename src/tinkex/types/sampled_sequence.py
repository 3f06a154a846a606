"""``tinker.types.sampled_sequence`` of the official SDK: tinkex's own objects at that path."""

from . import SampledSequence

__all__ = ["SampledSequence"]
