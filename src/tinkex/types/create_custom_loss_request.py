"""``tinker.types.create_custom_loss_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CreateCustomLossRequest

__all__ = ["CreateCustomLossRequest"]
