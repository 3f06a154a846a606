"""``tinker.types.future_completion`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import FutureCompletion, FutureFailed, FutureFinished

__all__ = ["FutureCompletion", "FutureFailed", "FutureFinished"]
