"""``tinker.types.future_retrieve_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import FutureRetrieveRequest

__all__ = ["FutureRetrieveRequest"]
