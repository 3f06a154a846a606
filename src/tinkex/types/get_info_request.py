"""``tinker.types.get_info_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import GetInfoRequest

__all__ = ["GetInfoRequest"]
