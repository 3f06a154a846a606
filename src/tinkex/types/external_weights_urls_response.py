"""``tinker.types.external_weights_urls_response`` of the official SDK: tinkex's own objects at that path."""

from . import ExternalWeightsUrlsResponse

__all__ = ["ExternalWeightsUrlsResponse"]
