"""``tinker.lib.public_interfaces.custom_loss`` of the official SDK: the custom-loss types."""

from ..._compat import LossHandle, PerDatumLossFn

__all__ = ["LossHandle", "PerDatumLossFn"]
