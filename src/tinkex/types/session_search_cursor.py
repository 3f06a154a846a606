"""``tinker.types.session_search_cursor`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SessionSearchCursor

__all__ = ["SessionSearchCursor"]
