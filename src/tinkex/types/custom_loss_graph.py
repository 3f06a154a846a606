"""``tinker.types.custom_loss_graph`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CustomLossGraph, CustomLossNode, CustomLossNodeOp

__all__ = ["CustomLossGraph", "CustomLossNode", "CustomLossNodeOp"]
