"""``tinker.types.session_search_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SessionSearchRequest

__all__ = ["SessionSearchRequest"]
