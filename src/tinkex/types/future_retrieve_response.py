"""``tinker.types.future_retrieve_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import FutureRetrieveResponse

__all__ = ["FutureRetrieveResponse"]
