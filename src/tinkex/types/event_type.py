"""``tinker.types.event_type`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import EventType

__all__ = ["EventType"]
