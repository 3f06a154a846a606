"""``tinker.types.sample_response`` of the official SDK: tinkex's own objects at that path."""

from . import SampleResponse

__all__ = ["SampleResponse"]
