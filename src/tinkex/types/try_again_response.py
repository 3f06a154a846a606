"""``tinker.types.try_again_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import TryAgainResponse

__all__ = ["TryAgainResponse"]
