"""``tinker.types.create_custom_loss_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CreateCustomLossResponse

__all__ = ["CreateCustomLossResponse"]
