"""``tinker.types.load_weights_response`` of the official SDK: tinkex's own objects at that path."""

from . import LoadWeightsResponse

__all__ = ["LoadWeightsResponse"]
