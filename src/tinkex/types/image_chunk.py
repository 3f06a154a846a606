"""``tinker.types.image_chunk`` of the official SDK: tinkex's own objects at that path."""

from . import ImageChunk

__all__ = ["ImageChunk"]
