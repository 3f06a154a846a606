"""``tinker.types.model_id`` of the official SDK: tinkex's own objects at that path."""

from . import ModelID

__all__ = ["ModelID"]
