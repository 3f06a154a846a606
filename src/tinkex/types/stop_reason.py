"""``tinker.types.stop_reason`` of the official SDK: tinkex's own objects at that path."""

from . import StopReason

__all__ = ["StopReason"]
