"""``tinker.types.request_id`` of the official SDK: tinkex's own objects at that path."""

from . import RequestID

__all__ = ["RequestID"]
