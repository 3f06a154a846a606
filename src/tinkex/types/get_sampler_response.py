"""``tinker.types.get_sampler_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import GetSamplerResponse

__all__ = ["GetSamplerResponse"]
