"""``tinker.types.create_model_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CreateModelRequest

__all__ = ["CreateModelRequest"]
