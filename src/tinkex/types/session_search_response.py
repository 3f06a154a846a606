"""``tinker.types.session_search_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SessionSearchResponse

__all__ = ["SessionSearchResponse"]
