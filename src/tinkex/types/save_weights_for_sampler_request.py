"""``tinker.types.save_weights_for_sampler_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SaveWeightsForSamplerRequest

__all__ = ["SaveWeightsForSamplerRequest"]
