"""``tinker.types.unload_model_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import UnloadModelRequest

__all__ = ["UnloadModelRequest"]
