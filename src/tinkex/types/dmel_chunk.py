"""``tinker.types.dmel_chunk`` of the official SDK: tinkex's own objects at that path."""

from . import DmelChunk

__all__ = ["DmelChunk"]
