"""``tinker.types.save_weights_external_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SaveWeightsExternalRequest

__all__ = ["SaveWeightsExternalRequest"]
