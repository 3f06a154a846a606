"""``tinker.types.image_asset_pointer_chunk`` of the official SDK: tinkex's own objects at that path."""

from . import ImageAssetPointerChunk

__all__ = ["ImageAssetPointerChunk"]
