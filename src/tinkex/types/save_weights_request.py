"""``tinker.types.save_weights_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SaveWeightsRequest

__all__ = ["SaveWeightsRequest"]
