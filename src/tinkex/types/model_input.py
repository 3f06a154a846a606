"""``tinker.types.model_input`` of the official SDK: tinkex's own objects at that path."""

from . import ModelInput

__all__ = ["ModelInput"]
