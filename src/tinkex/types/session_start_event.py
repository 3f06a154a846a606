"""``tinker.types.session_start_event`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SessionStartEvent

__all__ = ["SessionStartEvent"]
