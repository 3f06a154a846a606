"""``tinker.types.request_failed_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import RequestFailedResponse

__all__ = ["RequestFailedResponse"]
