"""``tinker.types.lora_config`` of the official SDK: tinkex's own objects at that path."""

from . import LoraConfig

__all__ = ["LoraConfig"]
