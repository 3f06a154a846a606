"""``tinker.types.get_info_response`` of the official SDK: tinkex's own objects at that path."""

from . import GetInfoResponse, ModelData

__all__ = ["GetInfoResponse", "ModelData"]
