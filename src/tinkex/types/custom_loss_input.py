"""``tinker.types.custom_loss_input`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CustomLossInput, CustomLossInputRank

__all__ = ["CustomLossInput", "CustomLossInputRank"]
