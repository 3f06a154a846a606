"""``tinker.types.loss_fn_inputs`` of the official SDK: tinkex's own objects at that path."""

from . import LossFnInputs

__all__ = ["LossFnInputs"]
