"""``tinker.types.shared`` of the official SDK: tinkex's own objects at that path."""

from .untyped_api_future import UntypedAPIFuture

__all__ = ["UntypedAPIFuture"]
