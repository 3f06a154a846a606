"""``tinker.types.encoded_text_chunk`` of the official SDK: tinkex's own objects at that path."""

from . import EncodedTextChunk

__all__ = ["EncodedTextChunk"]
