"""``tinker.types.datum`` of the official SDK: tinkex's own objects at that path."""

from . import Datum

__all__ = ["Datum"]
