"""``tinker.types.loss_fn_output`` of the official SDK: tinkex's own objects at that path."""

from . import LossFnOutput

__all__ = ["LossFnOutput"]
