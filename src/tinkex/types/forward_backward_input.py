"""``tinker.types.forward_backward_input`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import ForwardBackwardInput

__all__ = ["ForwardBackwardInput"]
