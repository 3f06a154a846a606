"""``tinker.types.shared.untyped_api_future`` of the official SDK: tinkex's own objects."""

from ..._generated.models import UntypedAPIFuture

__all__ = ["UntypedAPIFuture"]
