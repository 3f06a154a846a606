"""``tinker.types.forward_backward_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import ForwardBackwardRequest

__all__ = ["ForwardBackwardRequest"]
