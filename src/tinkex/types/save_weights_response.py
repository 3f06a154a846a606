"""``tinker.types.save_weights_response`` of the official SDK: tinkex's own objects at that path."""

from . import SaveWeightsResponse

__all__ = ["SaveWeightsResponse"]
