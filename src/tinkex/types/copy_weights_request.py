"""``tinker.types.copy_weights_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CopyWeightsRequest

__all__ = ["CopyWeightsRequest"]
