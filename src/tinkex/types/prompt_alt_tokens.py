"""``tinker.types.prompt_alt_tokens`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import PromptAltTokens

__all__ = ["PromptAltTokens"]
