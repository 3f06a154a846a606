"""``tinker.types.tensor_dtype`` of the official SDK: tinkex's own objects at that path."""

from . import TensorDtype

__all__ = ["TensorDtype"]
