"""``tinker.types.copy_weights_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CopyWeightsResponse

__all__ = ["CopyWeightsResponse"]
