"""``tinker.types.forward_backward_output`` of the official SDK: tinkex's own objects at that path."""

from . import ForwardBackwardOutput

__all__ = ["ForwardBackwardOutput"]
