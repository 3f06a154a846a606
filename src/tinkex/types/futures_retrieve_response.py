"""``tinker.types.futures_retrieve_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import FuturesRetrieveResponse

__all__ = ["FuturesRetrieveResponse"]
