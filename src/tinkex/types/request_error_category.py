"""``tinker.types.request_error_category`` of the official SDK: tinkex's own objects at that path."""

from . import RequestErrorCategory

__all__ = ["RequestErrorCategory"]
