"""``tinker.types.unload_model_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import UnloadModelResponse

__all__ = ["UnloadModelResponse"]
