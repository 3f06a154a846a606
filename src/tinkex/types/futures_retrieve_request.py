"""``tinker.types.futures_retrieve_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import FuturesRetrieveRequest, SamplingSessionFuturesTarget

__all__ = ["FuturesRetrieveRequest", "SamplingSessionFuturesTarget"]
