"""``tinker.types.model_input_chunk`` of the official SDK: tinkex's own objects at that path."""

from . import ModelInputChunk

__all__ = ["ModelInputChunk"]
