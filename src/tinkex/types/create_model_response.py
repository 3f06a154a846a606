"""``tinker.types.create_model_response`` of the official SDK: tinkex's own objects at that path."""

from . import CreateModelResponse

__all__ = ["CreateModelResponse"]
