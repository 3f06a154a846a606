"""``tinker.types.tensor_data`` of the official SDK: tinkex's own objects at that path."""

from . import TensorData

__all__ = ["TensorData"]
