"""``tinker.types.load_weights_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import LoadWeightsRequest

__all__ = ["LoadWeightsRequest"]
