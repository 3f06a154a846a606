"""``tinker.types.weights_info_response`` of the official SDK: tinkex's own objects at that path."""

from . import WeightsInfoResponse

__all__ = ["WeightsInfoResponse"]
