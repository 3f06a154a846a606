"""``tinker.types.save_weights_for_sampler_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SaveWeightsForSamplerResponseInternal
from . import SaveWeightsForSamplerResponse

__all__ = ["SaveWeightsForSamplerResponse", "SaveWeightsForSamplerResponseInternal"]
