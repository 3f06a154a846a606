"""``tinker.types.create_sampling_session_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CreateSamplingSessionRequest

__all__ = ["CreateSamplingSessionRequest"]
