"""``tinker.types.list_sessions_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import ListSessionsResponse

__all__ = ["ListSessionsResponse"]
