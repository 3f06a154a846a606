"""``tinker.types.session_end_event`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SessionEndEvent

__all__ = ["SessionEndEvent"]
