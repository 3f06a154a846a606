"""``tinker.types.generic_event`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import GenericEvent

__all__ = ["GenericEvent"]
