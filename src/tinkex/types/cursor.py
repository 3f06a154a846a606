"""``tinker.types.cursor`` of the official SDK: tinkex's own objects at that path."""

from . import Cursor

__all__ = ["Cursor"]
