"""``tinker.types.forward_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import ForwardRequest

__all__ = ["ForwardRequest"]
