"""``tinker.types.loss_fn_type`` of the official SDK: tinkex's own objects at that path."""

from . import LossFnType

__all__ = ["LossFnType"]
