"""``tinker.types.save_weights_external_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SaveWeightsExternalResponseInternal
from . import SaveWeightsExternalResponse

__all__ = ["SaveWeightsExternalResponse", "SaveWeightsExternalResponseInternal"]
